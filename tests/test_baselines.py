"""GGNN over PyG's GatedGraphConv, and the fully-adjacent last layer (FA) of every model."""

import math

import pytest
import torch
from torch_geometric.nn import GatedGraphConv

from baselines import GAT, GCN, GGNN, GIN, GATv2
from benchmarks.core.fully_adjacent import fully_adjacent_edges
from benchmarks.engine.runner import run
from benchmarks.tasks.graphs import GraphSet
from benchmarks.tasks.tree_neighbors_match import binary_tree
from glstm import GLSTM
from tests.helpers import MODELS

DIM = 16


def tree_batch(num_graphs: int = 2, depth: int = 2):
    """`num_graphs` Tree-NeighborsMatch trees (child -> parent edges and self-loops) as one batch,
    with random encoded inputs x [N, DIM]."""
    topology, _ = binary_tree(depth)
    n = topology.num_nodes
    graphs = GraphSet(
        topology, x=torch.zeros(num_graphs, n, 2), y=torch.zeros(num_graphs), num_hops=2
    )
    batch = graphs.batch(torch.arange(num_graphs))
    batch.x = torch.randn(batch.num_nodes, DIM)
    return batch


MODEL_CLASSES = {
    "gcn": lambda **kw: GCN(DIM, act="gelu", **kw),
    "gin": lambda **kw: GIN(DIM, act="gelu", **kw),
    "gat": lambda **kw: GAT(DIM, heads=4, **kw),
    "gatv2": lambda **kw: GATv2(DIM, heads=4, **kw),
    "ggnn": lambda **kw: GGNN(DIM, **kw),
    # the neighbour gate: the ego gate reaches one hop further per layer (tests/test_glstm.py)
    "glstm": lambda **kw: GLSTM(DIM, heads=2, memory_dim=4, input_gate="neighbour", **kw),
}


def dependencies(model, batch) -> torch.Tensor:
    """[N, N] bool: output of node u (row) has a non-zero Jacobian w.r.t. the input of node v."""
    model.eval()
    jac = torch.autograd.functional.jacobian(lambda x: model(x, batch), batch.x)  # [N, d, N, d]
    return jac.abs().sum((1, 3)) > 0


def one_layer(edges: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """[N, N] bool: one layer over `edges` [2, E] with every node also hearing itself."""
    dep = torch.eye(num_nodes, dtype=torch.bool)
    dep[edges[1], edges[0]] = True
    return dep


def test_ggnn_layer_is_pyg_gated_graph_conv():
    torch.manual_seed(0)
    batch = tree_batch()
    model = GGNN(DIM, num_layers=2).eval()
    x = batch.x
    for conv in model.convs:  # a fresh PyG layer with the same weights, applied by hand
        reference = GatedGraphConv(DIM, num_layers=1)
        reference.load_state_dict(conv.state_dict())
        x = reference(x, batch.edge_index)
    torch.testing.assert_close(model(batch.x, batch), x)


def test_fully_adjacent_edges_point_every_node_at_its_readout_node():
    batch = tree_batch(num_graphs=3)
    edges = fully_adjacent_edges(batch)
    n = batch.num_nodes // 3
    assert edges.shape == (2, 3 * n)
    assert edges[0].tolist() == list(range(3 * n))
    assert edges[1].tolist() == [0] * n + [n] * n + [2 * n] * n
    assert fully_adjacent_edges(tree_batch(num_graphs=3)) is not edges  # other tensors, new key
    assert fully_adjacent_edges(batch) is edges  # cached for the same batch structure


@pytest.mark.parametrize("model", MODEL_CLASSES)
@pytest.mark.parametrize("khop", [False, True])
def test_fa_single_layer_readout_hears_its_whole_graph_only(model, khop):
    torch.manual_seed(0)
    batch = tree_batch()
    n = batch.num_nodes
    dep = dependencies(MODEL_CLASSES[model](num_layers=1, khop=khop, last_layer_fa=True), batch)
    same_graph = batch.batch[:, None] == batch.batch[None, :]
    assert torch.equal(dep[batch.readout_index], same_graph[batch.readout_index])
    assert torch.equal(dep, one_layer(fully_adjacent_edges(batch), n))


@pytest.mark.parametrize("model", MODEL_CLASSES)
def test_without_fa_readout_hears_only_its_in_neighbours(model):
    torch.manual_seed(0)
    batch = tree_batch()
    dep = dependencies(MODEL_CLASSES[model](num_layers=1), batch)
    root_row = one_layer(batch.edge_index, batch.num_nodes)[0]
    assert root_row.sum() == 3  # the root and its two children
    assert torch.equal(dep[0], root_row)


@pytest.mark.parametrize("model", MODEL_CLASSES)
def test_fa_replaces_only_the_last_layer(model):
    """Two layers: graph edges, then FA; every node's dependencies are the product of the two."""
    torch.manual_seed(0)
    batch = tree_batch()
    n = batch.num_nodes
    dep = dependencies(MODEL_CLASSES[model](num_layers=2, last_layer_fa=True), batch)
    first, last = one_layer(batch.edge_index, n), one_layer(fully_adjacent_edges(batch), n)
    assert torch.equal(dep, (last.float() @ first.float()) > 0)


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
def test_glstm_fa_with_ego_gate_and_blocks(form):
    """The public code's ego gate; two blocks: only the last block's last layer is FA."""
    torch.manual_seed(0)
    batch = tree_batch()
    n = batch.num_nodes
    model = GLSTM(DIM, 1, heads=2, memory_dim=4, num_blocks=2, last_layer_fa=True, form=form)
    dep = dependencies(model, batch)
    # block 1, one layer over the edges: the ego gate's m_v adds v's own in-neighbours
    first = one_layer(batch.edge_index, n).float()
    first = (first @ first) > 0
    last = one_layer(fully_adjacent_edges(batch), n)
    assert torch.equal(dep, (last.float() @ first.float()) > 0)


def test_bad_fa_value_is_one_clear_error():
    with pytest.raises(ValueError, match="^last_layer_fa: must be true or false"):
        GCN(DIM, 1, last_layer_fa="yes")


@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_with_fa_on_tree_neighbors_match(tiny, model):
    cfg = tiny(
        "tree_neighbors_match",
        f"model={model}",
        "model.last_layer_fa=true",
        "model.dim=16",
        "sensitivity.num_graphs=2",
    )
    result = run(cfg)
    assert result["epochs"] == 2 and math.isfinite(result["train/loss"])
