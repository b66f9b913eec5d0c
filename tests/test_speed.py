"""The speed benchmark: its naive reference computes gLSTM, and a tiny case runs end to end."""

import pytest
import torch
from torch_geometric.data import Batch

from benchmarks.speed import __main__ as speed
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


@pytest.mark.parametrize("recompute", [False, True])
def test_deep_case_end_to_end(monkeypatch, capsys, recompute):
    title, _, contenders = speed.CASES["tree_4"]
    monkeypatch.setitem(speed.CASES, "tiny", (title, ["task=tree_neighbors_match"], contenders))
    monkeypatch.setitem(speed.DEFAULT_REPEATS, "tiny", 2)
    flags = ["--recompute"] if recompute else []
    results = speed.main(["--cases", "tiny", "--warmup", "0", "--no-data", *flags])
    rows = results["cases"]["tiny"]["rows"]
    assert set(rows) == {"gLSTM", "gLSTM without its memory", "gLSTM linear maps only", "GCN"}
    assert rows["gLSTM"]["form"] in ("parallel", "recurrent")
    assert rows["gLSTM linear maps only"]["params"] == rows["gLSTM"]["params"]
    assert results["recompute"] is recompute
    assert rows["gLSTM"]["recompute"] is recompute
    assert not rows["gLSTM linear maps only"]["recompute"] and not rows["GCN"]["recompute"]
    notes = f"{rows['gLSTM']['form']}, recompute" if recompute else rows["gLSTM"]["form"]
    out = capsys.readouterr().out
    assert f"| gLSTM ({notes}) |" in out
    floor = rows["gLSTM linear maps only"]["median_ms"]
    ratio = rows["gLSTM without its memory"]["median_ms"] / floor
    assert f"gLSTM without its memory {ratio:.2f}x" in out


def test_recompute_reaches_only_glstm_rows():
    glstm, memoryless, floor, gcn = (speed.with_recompute(c) for c in speed.CASES["tree_8"][2])
    assert {glstm.overrides[-1], memoryless.overrides[-1], floor.overrides[-1]} == {
        "+model.recompute=true"
    }
    assert gcn == speed.CASES["tree_8"][2][3]
    ring = speed.with_recompute(speed.CASES["ring_64"][2][0])
    assert ring.overrides == ["model=glstm_paper/glstm_ring", "+model.recompute=true"]


def test_recompute_lowers_the_peak_memory_of_a_deep_step():
    """On Tree-NeighborsMatch at depth 4 (1024 trees, 5 layers) the recomputing step peaks well
    below the plain one."""
    task = ["task=tree_neighbors_match", "task.depth=4"]
    plain = speed.Trainer(task, speed.Contender("gLSTM", speed.TREE_GLSTM))
    recomputed = speed.Trainer(task, speed.with_recompute(speed.Contender("r", speed.TREE_GLSTM)))
    assert recomputed.recompute and not plain.recompute
    assert recomputed.peak_memory() < 0.6 * plain.peak_memory()


def test_linear_maps_floor_runs_every_projection_of_every_layer():
    """The floor's step runs the backward pass of every layer's projections (all of them: their
    gradient is computed, zero where the floor does not read the output) and output map, and
    nothing else."""
    trainer = speed.Trainer(
        ["task=tree_neighbors_match", "task.depth=2"],
        speed.Contender("floor", speed.TREE_GLSTM, linear_maps_only=True),
    )
    trainer.optimizer.step = lambda: None  # keep the gradients
    trainer.optimizer.zero_grad = lambda set_to_none=True: None
    trainer.step()
    layers = [layer for block in trainer.net.model.blocks for layer in block.layers]
    assert len(layers) == 3
    for layer in layers:
        assert layer.lin_node.weight.grad is not None and layer.lin_q.weight.grad is not None
        assert layer.lin_out.weight.grad.abs().sum() > 0
        assert all(p.grad is None for p in layer.hidden_norm.parameters())


DEEP_SHAPES = [
    ("tree_neighbors_match", f"task.depth={depth}", speed.TREE_GLSTM) for depth in (4, 6, 8)
] + [
    (
        "ring_transfer",
        f"task.distance={distance}",
        ["model=glstm_paper/glstm_ring", "task.num_train=2"],
    )
    for distance in (16, 64)
]


@pytest.mark.parametrize(
    "task, size, model, dtype",
    [(*shape, torch.float64) for shape in DEEP_SHAPES]
    + [(*shape, torch.float32) for shape in (DEEP_SHAPES[0], DEEP_SHAPES[-1])],
    ids=lambda v: str(v),
)
def test_forms_agree_on_the_deep_cases(task, size, model, dtype):
    """gLSTM's recurrent and parallel forms, on two graphs of each deep speed case's shape with
    its model: outputs within 1e-4 (relative to the largest entry), and in float64 the parameter
    gradients too (in float32 their rounding over 64 layers reaches a few 1e-4)."""
    from benchmarks.engine.runner import prepare
    from tests.helpers import compose_config

    torch.manual_seed(0)
    cfg = compose_config([f"task={task}", size, *model])
    task_obj, net, num_layers, _ = prepare(cfg)
    net = net.to(dtype)
    data = task_obj.generate(0)["train"]
    data.num_hops = num_layers
    batch = data.batch(torch.arange(2))
    if batch.x.is_floating_point():
        batch.x = batch.x.to(dtype)
    results = {}
    for form in ("recurrent", "parallel"):
        net.zero_grad()
        net.model.form = form
        out = net(batch)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results[form] = [out.detach()] + [p.grad.clone() for p in net.parameters()]
    compared = len(results["recurrent"]) if dtype == torch.float64 else 1
    pairs = zip(results["recurrent"][:compared], results["parallel"][:compared], strict=True)
    for recurrent, parallel in pairs:
        atol = 1e-4 * max(1.0, recurrent.abs().max().item())
        torch.testing.assert_close(parallel, recurrent, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
@pytest.mark.parametrize("shape", [DEEP_SHAPES[0], DEEP_SHAPES[-2]], ids=lambda v: str(v[:2]))
def test_recompute_agrees_on_the_deep_cases(shape, form):
    """With ``+model.recompute=true``, on two graphs of a deep speed case's shape with its model:
    outputs and every parameter gradient within 1e-4 of the step without it (float32)."""
    from benchmarks.engine.runner import prepare
    from tests.helpers import compose_config

    task, size, model = shape
    results = []
    for extra in ([], ["+model.recompute=true"]):
        torch.manual_seed(0)
        task_obj, net, num_layers, _ = prepare(
            compose_config([f"task={task}", size, *model, f"model.form={form}", *extra])
        )
        assert net.model.recompute is bool(extra)
        data = task_obj.generate(0)["train"]
        data.num_hops = num_layers
        batch = data.batch(torch.arange(2))
        out = net(batch)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append([out.detach()] + [p.grad.clone() for p in net.parameters()])
    for plain, recomputed in zip(*results, strict=True):
        atol = 1e-4 * max(1.0, plain.abs().max().item())
        torch.testing.assert_close(recomputed, plain, rtol=1e-4, atol=atol)


def test_profiled_step_writes_nothing_to_stderr(capfd):
    trainer = speed.Trainer(
        ["task=tree_neighbors_match", "task.depth=2"], speed.Contender("GCN", ["model=gcn"])
    )
    assert trainer.peak_memory() > 0
    assert "USDT" not in capfd.readouterr().err


def test_sensitivity_benchmark_builds_and_measures_on_one_device():
    from benchmarks.metrics.sensitivity import measure_sensitivity
    from benchmarks.speed import sensitivity as bench

    task, net, graphs, device = bench.build("gcn", 4, 2, [])
    assert device == torch.device("cpu")
    assert all(p.device == device for p in net.parameters())
    sens = measure_sensitivity(net, task, graphs, 2, device=device)
    reference = bench.reference(net, graphs, 2, device)
    torch.testing.assert_close(
        torch.tensor(sens.nodes.sens.to_numpy()), reference, rtol=1e-4, atol=1e-6
    )


def test_the_row_without_memory_still_trains_every_projection():
    """The "without its memory" row leaves out only the memory: every row of every weight matrix
    still gets a gradient (keys, values and gates included), so its step does the layer's whole
    backward pass."""
    contender = next(c for c in speed.CASES["tree_4"][2] if c.without_memory)
    trainer = speed.Trainer(["task=tree_neighbors_match", "task.depth=2"], contender)
    trainer.task.loss(trainer.net(trainer.batch), trainer.batch).backward()
    missing = [
        name
        for name, p in trainer.net.named_parameters()
        if p.grad is None or (p.dim() == 2 and not (p.grad != 0).any(-1).all())
    ]
    assert not missing
