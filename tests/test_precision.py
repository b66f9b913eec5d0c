"""Mixed precision follows one policy for every model (benchmarks.engine.precision.autocast): under
bf16, message sums and recurrent cells run in float32, dense maps in bfloat16, and the loss and
metrics in float32."""

import pytest
import torch
from torch_geometric.nn import MessagePassing

from benchmarks.engine.precision import FLOAT32_CELLS, autocast
from benchmarks.engine.runner import prepare, run
from benchmarks.engine.train import evaluate
from tests.helpers import TINY_TASKS, compose_config

MODELS = ["gcn", "gin", "gat", "ggnn", "lstm", "slstm", "gps", "glstm"]


def island_dtypes(net, batch) -> set:
    """(kind, output dtype) of every message-passing call and recurrent cell in a bf16 pass."""
    seen = set()

    def record(kind):
        def hook(module, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            seen.add((kind, out.dtype))

        return hook

    for module in net.modules():
        if isinstance(module, MessagePassing):
            module.register_propagate_forward_hook(record("sum"))
        elif isinstance(module, FLOAT32_CELLS):
            module.register_forward_hook(record("cell"))
    with autocast(torch.device("cpu"), "bf16"):
        pred = net(batch)
    return seen, pred


@pytest.mark.parametrize("model", MODELS)
def test_sums_and_cells_run_in_float32_under_bf16(model):
    cfg = compose_config(["task=nar", *TINY_TASKS["nar"], f"model={model}"])
    task, net, num_layers, _ = prepare(cfg)
    data = task.generate(0)["train"]
    data.num_hops = num_layers
    seen, pred = island_dtypes(net, data.batch(torch.arange(4)))
    assert pred.dtype == torch.bfloat16  # the readout's dense map ran in bfloat16
    assert {dtype for _, dtype in seen} <= {torch.float32}


def test_without_the_policy_a_pyg_sum_would_run_in_bfloat16():
    cfg = compose_config(["task=nar", *TINY_TASKS["nar"], "model=gin"])
    task, net, _, _ = prepare(cfg)
    for module in net.modules():
        if isinstance(module, MessagePassing):
            module._propagate_forward_pre_hooks.clear()
            module._propagate_forward_hooks.clear()
    seen, _ = island_dtypes(net, task.generate(0)["train"].batch(torch.arange(4)))
    assert ("sum", torch.bfloat16) in seen


def test_loss_and_metrics_are_float32_under_bf16(tiny):
    cfg = tiny("nar", "model=gcn", "amp=bf16", "sensitivity.enabled=false")
    result = run(cfg)
    assert isinstance(result["score"], float)
    task, net, num_layers, device = prepare(cfg)
    data = task.generate(0)["val"]
    data.num_hops = num_layers
    losses = []
    original = task.loss

    def loss(pred, batch):
        losses.append(pred.dtype)
        return original(pred, batch)

    task.loss = loss
    evaluate(net, task, data, "val", 16, device, "bf16")
    assert set(losses) == {torch.float32}
