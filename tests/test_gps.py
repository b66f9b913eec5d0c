"""GPS: attention reaches the whole graph and no other; RWSE as PyG computes it, once per
topology."""

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import AddRandomWalkPE

from baselines import GPS
from benchmarks.tasks import RingTransfer


def ring_batch(num_graphs: int = 2):
    task = RingTransfer(distance=4, num_train=8, num_val=2, num_test=2)
    graphs = task.generate(0)["train"]
    return graphs, graphs.batch(torch.arange(num_graphs))


def test_one_layer_hears_its_whole_graph_and_no_other():
    """One GPS layer: the readout of graph 0 depends on every node of graph 0 (8 nodes, up to 4
    hops away), through attention, and on no node of graph 1."""
    torch.manual_seed(0)
    _, batch = ring_batch()
    model = GPS(8, 1, heads=2).eval()
    x = torch.randn(batch.num_nodes, 8, requires_grad=True)
    model(x, batch)[batch.readout_index[0]].sum().backward()
    felt = x.grad.abs().sum(-1) > 0
    assert felt[batch.batch == 0].all() and not felt[batch.batch == 1].any()


def test_random_walk_encoding_is_pygs_and_built_once_per_topology(monkeypatch):
    graphs, batch = ring_batch()
    model = GPS(8, 2, walk_length=5)
    expected = AddRandomWalkPE(5, attr_name="pe")(
        Data(edge_index=batch.edge_index, num_nodes=batch.num_nodes)
    ).pe
    torch.testing.assert_close(model.random_walk_pe(batch), expected)
    calls = []
    monkeypatch.setattr(
        AddRandomWalkPE, "forward", lambda self, data: calls.append(1) or data, raising=True
    )
    model.random_walk_pe(graphs.batch(torch.tensor([3, 1])))  # same topology and size: cached
    assert calls == []
    assert GPS(8, 2, pe="none").pe_lin is None
