"""Every model config builds and runs on every task, and sees exactly its receptive field."""

import pytest
import torch

from benchmarks.core.errors import ConfigError
from benchmarks.engine.runner import prepare
from tests.helpers import LOCAL_MODELS, MODELS, TASKS, TINY_TASKS, compose_config


def network(task: str, model: str, *overrides: str):
    cfg = compose_config([f"task={task}", f"model={model}", *TINY_TASKS[task], *overrides])
    task, net, num_layers, _ = prepare(cfg)
    data = task.generate(0)
    for graphs in data.values():
        graphs.num_hops = max(num_layers, 4)
    return task, net, num_layers, data


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS)
def test_model_trains_one_step_on_task(task, model):
    train_one_step(task, model)


@pytest.mark.parametrize("remedy", ["virtual_node=true", "rewiring=fosr", "rewiring=sdrf"])
@pytest.mark.parametrize("model", MODELS)
def test_model_trains_one_step_with_a_graph_remedy(model, remedy):
    """The virtual node and both rewirings are options of every model (on RingTransfer); a k-hop
    model, whose layers read the original hop sets and never the new edges, is refused with one
    line naming the remedy."""
    if compose_config([f"model={model}"]).model.get("khop", False):
        with pytest.raises(ConfigError, match=f"^{remedy.split('=')[0]}: does nothing"):
            train_one_step("ring_transfer", model, remedy)
        return
    net = train_one_step("ring_transfer", model, remedy)
    assert (net.virtual_node is not None) == remedy.startswith("virtual_node")


def train_one_step(task: str, model: str, *overrides: str):
    """One forward and backward pass on a batch of 8 graphs: finite outputs, one row per node
    or graph, and a finite gradient for every parameter. Returns the network."""
    task_obj, net, _, data = network(task, model, *overrides)
    batch = data["train"].batch(torch.arange(min(8, len(data["train"]))))
    pred = net(batch)
    rows = batch.num_nodes if net.readout.per_node else batch.num_graphs
    assert pred.shape[0] == rows and torch.isfinite(pred).all()
    loss = task_obj.loss(pred, batch)
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    return net


# gLSTM's default ego input gate uses the sender's own stabiliser, a max over the sender's
# neighbourhood, so each layer also reaches one hop further through it (tests/test_glstm.py
# checks that); the neighbour gate has the plain L-hop receptive field.
RECEPTIVE_FIELD_OVERRIDES = {"glstm": ["model.input_gate=neighbour"]}

# DRew has no k-hop option (it rewires by itself): its delay-free form nu = null is the one that
# reaches 1 + 2 + ... + L hops, and its default delay nu = 1 reaches L hops (baselines/drew.py).
KHOP_EQUIVALENT = {"drew": ["model.nu=null"]}


@pytest.mark.parametrize("model", LOCAL_MODELS)
@pytest.mark.parametrize(
    "task, layers", [("nar", 1), ("tree_neighbors_match", 2), ("ring_transfer", 2)]
)
@pytest.mark.parametrize("khop", [False, True])
def test_output_depends_only_on_receptive_field(model, task, layers, khop):
    """d(readout output) / d(node input) is zero beyond the receptive field, nonzero within it.
    With k-hop, layer l reaches l hops at once, so L layers reach 1 + 2 + ... + L hops."""
    overrides = [
        f"model.num_layers={layers}",
        *(KHOP_EQUIVALENT[model] if khop and model in KHOP_EQUIVALENT else [f"model.khop={khop}"]),
        *RECEPTIVE_FIELD_OVERRIDES.get(model, []),
    ]
    _, net, _, data = network(task, model, *overrides)
    net.eval()
    batch = data["train"].batch(torch.arange(3))
    x = net.encoder(batch).detach().requires_grad_(True)
    net(batch, x).sum().backward()
    sensitivity = x.grad.abs().sum(-1)  # [N]
    hops = batch.hops
    reach = layers * (layers + 1) // 2 if khop else layers
    assert (sensitivity[(hops > reach) | (hops < 0)] == 0).all()
    for hop in range(min(reach, int(hops.max())) + 1):
        assert (sensitivity[hops == hop] > 0).any(), f"no signal from hop {hop}"


def test_bad_width_is_one_clear_error():
    with pytest.raises(ValueError, match="^model.dim: must be divisible by heads=4"):
        network("nar", "gat", "model.dim=30")
