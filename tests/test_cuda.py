"""The suite on a CUDA device: gLSTM's sparse products against a dense reference, a tiny run of
every task family, mixed precision, resuming across devices, peak memory. Skipped, with the
reason, where torch sees no CUDA device."""

import pytest
import torch

from benchmarks.engine.runner import generate_data, prepare, run
from benchmarks.engine.train import Interrupted, fit
from glstm.sparse import Adjacency, _mm, sddmm, spmm
from tests.helpers import TASKS

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta"),
]


def adjacency(n: int = 40, e: int = 160) -> Adjacency:
    gen = torch.Generator().manual_seed(0)
    edges = torch.randint(0, n, (2, e), generator=gen).cuda()
    return Adjacency.with_self_loops(edges, n)


def test_products_match_a_dense_reference_on_cuda():
    adj = adjacency()
    values = torch.randn(3, adj.nnz, device="cuda", dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, adj.num_nodes, 5, device="cuda", dtype=torch.float64, requires_grad=True)
    heads = torch.arange(3, device="cuda")[:, None].expand(-1, adj.nnz)
    index = (heads, adj.row.expand_as(heads), adj.col.expand_as(heads))

    def dense(v):
        return v.new_zeros(3, adj.num_nodes, adj.num_nodes).index_put(index, v, accumulate=True)

    torch.testing.assert_close(spmm(values, x, adj), dense(values) @ x)
    q, k = torch.randn(2, 3, adj.num_nodes, 4, device="cuda", dtype=torch.float64)
    torch.testing.assert_close(sddmm(q, k, adj), (q @ k.transpose(1, 2))[index])
    assert torch.autograd.gradcheck(lambda v, y: spmm(v, y, adj), (values, x))


def test_poisoned_output_buffer_does_not_reach_the_product():
    adj = adjacency()
    a = adj.csr(2, torch.randn(2 * adj.nnz, device="cuda"))
    x = torch.randn(2 * adj.num_nodes, 3, device="cuda")
    poisoned = torch.full((2 * adj.num_nodes, 3), float("nan"), device="cuda")
    torch.testing.assert_close(_mm(a, x, out=poisoned), a.to_dense() @ x)


@pytest.mark.parametrize("task", TASKS)
def test_tiny_run_of_every_task_on_cuda(tiny, task):
    result = run(tiny(task, "model=gcn", "device=cuda"))
    assert result["device"].startswith("cuda") and result["peak_memory_mb"] > 0


@pytest.mark.parametrize("model", ["glstm", "slstm", "lstm", "ggnn", "gps"])
def test_bf16_on_cuda(tiny, model):
    result = run(tiny("nar", f"model={model}", "device=cuda", "amp=bf16"))
    assert torch.isfinite(torch.tensor(result["score"]))


def test_deterministic_runs_repeat_exactly_on_cuda(tiny):
    try:
        first = run(tiny("nar", "model=gin", "device=cuda", "deterministic=true"))
        again = run(tiny("nar", "model=gin", "device=cuda", "deterministic=true", "overwrite=true"))
    finally:
        torch.use_deterministic_algorithms(False)
    assert first["score"] == again["score"]


@pytest.mark.parametrize("devices", [("cuda", "cpu"), ("cpu", "cuda")])
def test_resume_across_devices(tiny, tmp_path, devices):
    """A checkpoint written mid-epoch on one device resumes on the other."""
    checkpoint = tmp_path / "checkpoint.pt"
    for i, name in enumerate(devices):
        cfg = tiny("nar", "model=gcn", f"device={name}")
        task, net, num_layers, device = prepare(cfg)
        data = generate_data(task, cfg.data_seed, num_layers)
        if i == 0:
            steps = iter([False])
            with pytest.raises(Interrupted):
                fit(
                    net,
                    task,
                    data,
                    cfg.train,
                    device,
                    seed=0,
                    checkpoint=checkpoint,
                    interrupted=lambda steps=steps: next(steps, True),
                )
        else:
            out = fit(net, task, data, cfg.train, device, seed=0, checkpoint=checkpoint)
            assert out.epochs == cfg.train.max_epochs


def test_peak_memory_on_cuda_is_the_runs_own(tiny):
    run(tiny("nar", "model=gcn", "device=cuda", "experiment_name=warmup"))
    held = torch.ones(256 * 2**20 // 4, device="cuda")
    first = run(tiny("nar", "model=gcn", "device=cuda", "experiment_name=first"))
    second = run(tiny("nar", "model=gcn", "device=cuda", "experiment_name=second"))
    del held
    assert first["memory_measure"] == "cuda_max_allocated"
    assert first["peak_memory_mb"] < 256
    assert abs(first["peak_memory_mb"] - second["peak_memory_mb"]) <= 0.1 * first["peak_memory_mb"]
