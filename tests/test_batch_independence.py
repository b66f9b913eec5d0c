"""A measurement must not depend on which graphs share a batch: a graph's readout Jacobian (the
sensitivity measurement's) is the same with the graph alone and as the second graph of a batch of
two, for every model config, on RingTransfer (whose inputs tie exactly: every node but the source
and the readout has the same features) and on NAR.

Tolerance: rtol 1e-5 and atol 2e-6 times the largest entry of the Jacobian (about 17 float32 ulps
of it). Alone and batched run the same float32 operations on the same values, except that a dense
matrix product may round a row differently depending on its position and on the number of rows;
through a few layers that moved entries by at most 1.2e-6 of the largest here (gLSTM with the
edge gate), while a subgradient that follows the rounding moves them by 5e-4 to 8e-2 of it
(gLSTM's stabiliser max before it split near-ties, glstm/layer.py `neighbourhood_max`).
"""

import pytest
import torch

from benchmarks.engine.runner import prepare
from benchmarks.metrics.sensitivity import readout_jacobian
from tests.helpers import MODELS, TINY_TASKS, compose_config

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")

# small widths: the model's width, and its heads and key size where it has them
SMALL = {"dim": 8, "heads": 2, "memory_dim": 4}


def small_network(task: str, model: str, *overrides: str):
    """(net in eval mode, the test split with the k-hop sets of its layers), tiny and narrow."""
    cfg = compose_config([f"task={task}", f"model={model}", *TINY_TASKS[task]])
    small = [f"model.{key}={value}" for key, value in SMALL.items() if key in cfg.model]
    cfg = compose_config([f"task={task}", f"model={model}", *TINY_TASKS[task], *small, *overrides])
    task_obj, net, num_layers, _ = prepare(cfg)
    graphs = task_obj.generate(0)["test"]
    graphs.num_hops = num_layers
    return net.eval(), graphs


def check_alone_equals_batched(net, graphs, first: int, second: int) -> None:
    n = graphs.topology.num_nodes
    # one graph, one backward pass per output dimension: no other graph and no copies
    alone = readout_jacobian(net, graphs, torch.tensor([second]), copy_nodes=1)  # [O, n, F]
    scale = alone.abs().max().item()
    assert scale > 0
    for copy_nodes in (1, 10**6):  # the pair as it is, and stacked once per output dimension
        pair = readout_jacobian(net, graphs, torch.tensor([first, second]), copy_nodes=copy_nodes)
        torch.testing.assert_close(pair[:, n:], alone, rtol=1e-5, atol=2e-6 * scale)


def distinct_pair(graphs) -> tuple[int, int]:
    """Two graphs with different labels (so that their inputs differ), the first and another."""
    labels = graphs.y.view(len(graphs), -1)
    other = next(g for g in range(1, len(graphs)) if not torch.equal(labels[g], labels[0]))
    return other, 0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("task", ["ring_transfer", "nar"])
def test_jacobian_alone_equals_jacobian_second_in_a_batch(task, model):
    net, graphs = small_network(task, model)
    check_alone_equals_batched(net, graphs, *distinct_pair(graphs))


@pytest.mark.parametrize(
    "overrides",
    [["model.khop=true", "model.heads=1"], ["model.input_gate=edge"], ["model.form=parallel"]],
)
def test_glstm_stabiliser_ties_do_not_follow_the_batch(overrides):
    """The reported case (k-hop, one head) and the per-entry gates, both memory forms."""
    net, graphs = small_network("ring_transfer", "glstm", *overrides)
    check_alone_equals_batched(net, graphs, *distinct_pair(graphs))


def test_gps_attention_and_laplacian_encoding_stay_within_a_graph():
    """GPS attends over its own graph only, and its Laplacian encoding is computed per graph."""
    net, graphs = small_network("ring_transfer", "gps", "model.pe=lap", "model.lap_dim=4")
    check_alone_equals_batched(net, graphs, *distinct_pair(graphs))
