"""The virtual node option: its edges by hand, the batch stays sorted, two layers reach a whole
graph and no other, and the option keeps stored hashes when off."""

import torch
from torch_geometric.data import Batch, Data

from baselines import GCN
from baselines.virtual_node import VirtualNode
from benchmarks.engine.runner import prepare
from benchmarks.engine.store import config_hash
from tests.helpers import TINY_TASKS, compose_config


def two_paths() -> Batch:
    path = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    batch = Batch.from_data_list([Data(edge_index=path, num_nodes=3)] * 2)
    batch.readout_index = torch.tensor([0, 3])
    return batch


def test_virtual_node_edges_by_hand():
    batch = two_paths()
    vn = VirtualNode(4)
    x = torch.arange(6.0)[:, None].expand(6, 4)
    states, graph, position = vn(x, batch)
    assert position.tolist() == [0, 1, 2, 4, 5, 6]  # graph 1 moves past graph 0's virtual node 3
    assert graph.batch.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert graph.readout_index.tolist() == [0, 4]
    edges = set(map(tuple, graph.edge_index.t().tolist()))
    original = {(0, 1), (1, 0), (1, 2), (2, 1), (4, 5), (5, 4), (5, 6), (6, 5)}
    virtual = {(u, 3) for u in (0, 1, 2)} | {(u, 7) for u in (4, 5, 6)}
    assert edges == original | virtual | {(v, u) for u, v in virtual}
    assert graph.edge_index.shape[1] == 8 + 12  # no duplicates
    assert torch.equal(states[position], x) and torch.equal(states[[3, 7]], torch.zeros(2, 4))


def test_two_layers_reach_the_whole_graph_and_no_other():
    torch.manual_seed(0)
    cfg = compose_config(["task=ring_transfer", *TINY_TASKS["ring_transfer"], "model=gcn"])
    task, _, _, _ = prepare(cfg)
    graphs = task.generate(0)["train"]
    batch = graphs.batch(torch.arange(2))  # rings of 6 nodes: up to 3 hops from the readout
    model, vn = GCN(8, 2), VirtualNode(8)
    x = torch.randn(batch.num_nodes, 8, requires_grad=True)
    states, graph, position = vn(x, batch)
    model(states, graph)[position][batch.readout_index[0]].sum().backward()
    felt = x.grad.abs().sum(-1) > 0
    assert felt[batch.batch == 0].all() and not felt[batch.batch == 1].any()


def test_option_is_absent_by_default_and_changes_the_run_when_on():
    plain = compose_config(["task=nar", *TINY_TASKS["nar"]])
    on = compose_config(["task=nar", *TINY_TASKS["nar"], "virtual_node=true"])
    assert plain.virtual_node is None and config_hash(plain) != config_hash(on)
    _, net, _, _ = prepare(on)
    assert net.virtual_node is not None
