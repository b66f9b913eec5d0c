"""The relational option (FoSR's R-GCN / R-GIN, kedar2/FoSR @1a7360c models/graph_model.py):
one layer by hand on a 3-node graph whose added edge has relation type 1."""

from types import SimpleNamespace

import pytest
import torch

from baselines import GCN, GIN
from benchmarks.core.errors import ConfigError

# Path 0 - 1 (type 0, both directions) and an added edge 1 - 2 (type 1, both directions).
EDGES = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
TYPES = torch.tensor([0, 0, 1, 1])


def batch():
    return SimpleNamespace(edge_index=EDGES, edge_type=TYPES)


def test_relational_gcn_one_layer_by_hand():
    """RGCNConv (mean per relation): node 1 hears node 0 by relation 0 and node 2 by relation 1:
    x'_1 = W_root x_1 + W_0 x_0 + W_1 x_2 + b; node 0: W_root x_0 + W_0 x_1 + b."""
    torch.manual_seed(0)
    model = GCN(3, 1, relational=True, act="none").eval()
    conv = model.convs[0]
    x = torch.randn(3, 3)
    w0, w1 = conv.weight[0], conv.weight[1]
    expected = x @ conv.root + conv.bias
    expected[1] += x[0] @ w0 + x[2] @ w1
    expected[0] += x[1] @ w0
    expected[2] += x[1] @ w1
    torch.testing.assert_close(model(x, batch()), expected)


def test_relational_gin_one_layer_by_hand():
    """R-GIN: root Linear + sum_r MLP_r(x_u + sum over relation-r neighbours) (eps 0); a node
    without relation-r neighbours still gets MLP_r(x_u)."""
    torch.manual_seed(0)
    model = GIN(3, 1, relational=True, act="none", mlp_layers=1).eval()
    layer = model.convs[0]
    x = torch.randn(3, 3)
    mlp0, mlp1 = layer.convs[0].nn, layer.convs[1].nn
    agg0 = x + torch.stack([x[1], x[0], torch.zeros(3)])
    agg1 = x + torch.stack([torch.zeros(3), x[2], x[1]])
    expected = layer.root(x) + mlp0(agg0) + mlp1(agg1)
    torch.testing.assert_close(model(x, batch()), expected)


@pytest.mark.parametrize("model", [GCN, GIN])
def test_relational_needs_edge_types_and_the_graphs_edges(model):
    with pytest.raises(ConfigError, match="^relational: the batch has no edge_type"):
        model(3, 1, relational=True)(torch.randn(3, 3), SimpleNamespace(edge_index=EDGES))
    with pytest.raises(ConfigError, match="^relational: needs the graph's own edges, not khop"):
        model(3, 1, relational=True, khop=True)
    with pytest.raises(ConfigError, match="^relational: must be"):
        model(3, 1, relational="yes")


@pytest.mark.parametrize("model", ["gcn", "gin"])
def test_fosr_rewired_task_trains_a_relational_model(model):
    """FoSR's added edges reach the batches as relation 1: R-GCN / R-GIN train on a rewired task
    as the FoSR code ran them."""
    from benchmarks.engine.runner import generate_data, prepare
    from tests.helpers import TINY_TASKS, compose_config

    cfg = compose_config(
        ["task=ring_transfer", *TINY_TASKS["ring_transfer"], f"model={model}", "rewiring=fosr"]
        + ["+model.relational=true"]
    )
    task, net, num_layers, _ = prepare(cfg)
    batch = generate_data(task, 0, num_layers)["train"].batch(torch.arange(2))
    added = int(batch.edge_type.sum())
    assert batch.edge_type.shape == (batch.edge_index.size(1),) and added > 0
    assert added == 2 * int(task.topology.edge_type.sum())  # two graphs
    loss = task.loss(net(batch), batch)
    loss.backward()
    assert torch.isfinite(loss)
