"""The speed benchmark: its naive reference computes gLSTM, and a tiny case runs end to end."""

import pytest
import torch
from torch_geometric.data import Batch

from benchmarks import speed
from glstm import GLSTM

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")


@pytest.mark.parametrize("input_gate", ["ego", "edge"])
def test_naive_reference_is_the_recurrent_form(input_gate):
    gen = torch.Generator().manual_seed(0)
    n = 12
    batch = Batch(
        x=torch.randn(n, 8, generator=gen), edge_index=torch.randint(0, n, (2, 30), generator=gen)
    )
    model = GLSTM(8, 2, heads=2, memory_dim=4, input_gate=input_gate, form="recurrent")
    expected = model(batch.x, batch)
    model.memory_class = lambda form: speed.NaiveRecurrentMemory
    torch.testing.assert_close(model(batch.x, batch), expected, rtol=1e-5, atol=1e-5)


def test_tiny_case_end_to_end(monkeypatch, capsys):
    title, _, contenders = speed.CASES["nar"]
    tiny = ["task=nar", "task.num_keys=4", "task.num_train=64", "task.num_val=4", "task.num_test=4"]
    monkeypatch.setitem(speed.CASES, "tiny", (title, tiny, contenders))
    monkeypatch.setitem(speed.DEFAULT_REPEATS, "tiny", 2)
    monkeypatch.setattr(
        speed,
        "time_nar_data",
        lambda: {"median_s": 0.1, "runs_s": [0.1], "glstm_neighbourhoods_s": 0.01},
    )
    results = speed.main(["--cases", "tiny", "--warmup", "0", "--threads", "0"])
    rows = results["cases"]["tiny"]["rows"]
    assert set(rows) == {c.name for c in contenders}
    assert all(row["median_ms"] > 0 and row["peak_mb"] > 0 for row in rows.values())
    assert "parallel vs naive" in capsys.readouterr().out
