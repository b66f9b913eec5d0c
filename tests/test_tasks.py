"""The task generators: shapes, hop distances, labels, encoders, balance and seeding."""

import math

import pytest
import torch
from hydra.utils import instantiate

from benchmarks.tasks import NAR, NARR, RingTransfer, TreeNeighborsMatch
from benchmarks.tasks.nar import HUB, KEY, QUERY, RELAY
from benchmarks.tasks.tree_neighbors_match import LEAF, ROOT
from tests.helpers import TASKS, TINY_TASKS, compose_config


@pytest.mark.parametrize("num_keys", [4, 16])
def test_nar_topology_and_hops(num_keys):
    task = NAR(num_keys=num_keys, num_train=10, num_val=10, num_test=10)
    topo = task.topology
    assert topo.num_nodes == num_keys + 3
    assert topo.edge_index.shape[1] == 2 * (num_keys + 2)  # undirected: both directions
    hops = topo.hops
    assert hops[HUB] == 0 and hops[RELAY] == 1 and hops[QUERY] == 2
    assert (hops[topo.roles == KEY] == 1).all()
    assert topo.max_hop == 3  # query -> relay -> hub -> key


def test_nar_label_is_value_of_queried_key():
    data = NAR(num_keys=8, num_train=500, num_val=10, num_test=10).generate(3)["train"]
    g = torch.arange(len(data))
    query_key = data.x[g, QUERY, 0]
    selected = data.node_fields["selected_index"]
    assert (data.x[g, selected, 0] == query_key).all()  # the selected node holds the queried key
    assert (data.x[g, selected, 1] == data.y).all()  # and its value is the label
    assert (data.x[:, QUERY, 1] == 8).all() and (data.x[:, [HUB, RELAY]] == 8).all()  # null tokens


def test_nar_batch_globalises_node_fields():
    data = NAR(num_keys=4, num_train=20, num_val=10, num_test=10).generate(0)["train"]
    batch = data.batch(torch.tensor([5, 7, 9]))
    assert batch.num_graphs == 3 and batch.num_nodes == 21
    assert (batch.x[batch.selected_index, 1] == batch.y).all()
    assert (batch.readout_index == torch.tensor([0, 7, 14])).all()


def test_nar_null_token_embeds_to_zero():
    task = NAR(num_keys=5, num_train=10, num_val=10, num_test=10)
    batch = task.generate(0)["train"].batch(torch.arange(4))
    x = task.make_encoder(16)(batch)
    hub_relay = (batch.roles == HUB) | (batch.roles == RELAY)
    assert torch.equal(x[hub_relay], torch.zeros_like(x[hub_relay]))
    query = batch.roles == QUERY
    assert torch.equal(x[query, 8:], torch.zeros_like(x[query, 8:]))  # value half of the query
    assert (x[query, :8] != 0).any()


def test_narr_features_and_target():
    N, D = 6, 16
    data = NARR(num_keys=N, value_dim=D, num_train=50, num_val=10, num_test=10).generate(1)["train"]
    g = torch.arange(len(data))
    selected = data.node_fields["selected_index"]
    assert data.x.shape == (50, N + 3, 2 * N + D)
    assert torch.equal(data.x[g, selected, N : N + D], data.y)
    assert torch.equal(data.x[g, QUERY, N + D :].argmax(-1) + 3, selected)
    assert torch.equal(data.x[:, 3:, :N], torch.eye(N).expand(50, N, N))


@pytest.mark.parametrize("depth, total", [(2, 96), (3, 8000), (4, 16000), (5, 32000), (8, 32000)])
def test_tree_example_counts(depth, total):
    data = TreeNeighborsMatch(depth=depth).generate(0)
    assert len(data["train"]) + len(data["test"]) == total
    assert len(data["train"]) == pytest.approx(0.8 * total, abs=2**depth)


@pytest.mark.parametrize("depth", [2, 4])
def test_tree_structure_and_labels(depth):
    task = TreeNeighborsMatch(depth=depth)
    topo = task.topology
    assert topo.num_nodes == 2 ** (depth + 1) - 1
    child, parent = topo.edge_index[:, topo.edge_index[0] != topo.edge_index[1]]
    assert (child > parent).all()  # pre-order: a parent precedes its children; edges go up
    assert (topo.edge_index[0] == topo.edge_index[1]).sum() == topo.num_nodes  # self-loops
    assert (topo.hops[topo.roles == LEAF] == depth).all() and topo.hops[ROOT] == 0
    data = task.generate(0)["train"]
    leaves = task.leaves
    selected_leaf = data.x[:, leaves, 0] == data.x[:, :1, 0]  # [G, K] leaf with the root's key
    assert (selected_leaf.sum(1) == 1).all()
    assert torch.equal(data.x[:, leaves, 1][selected_leaf] - 1, data.y)


def test_tree_split_is_stratified_and_balanced():
    data = TreeNeighborsMatch(depth=3).generate(0)
    for split in data.values():
        counts = torch.bincount(split.y, minlength=8)
        assert counts.max() - counts.min() <= 1


def test_ring_transfer():
    task = RingTransfer(distance=5, num_train=200)
    assert task.topology.num_nodes == 10 and task.topology.hops.max() == 5
    assert task.topology.hops[5] == 5 and task.num_layers == 5
    data = task.generate(0)
    train = data["train"]
    assert torch.equal(train.x[:, 5].argmax(-1), train.y)
    assert (train.x[:, 0] == 0).all() and (train.x[:, 1] == 1).all()
    assert torch.bincount(train.y).tolist() == [40] * 5
    assert not torch.equal(data["val"].y[:50], data["test"].y[:50])  # separate seeds per split


def test_khop_sets_are_exact_distances():
    task = NAR(num_keys=3, num_train=4, num_val=4, num_test=4)
    graphs = task.generate(0)["train"]
    graphs.num_hops = 4
    batch = graphs.batch(torch.arange(2))
    dist = task.topology.distances
    for hop, edges in enumerate(batch.hop_index, start=1):
        local = edges % task.topology.num_nodes
        assert (dist[local[0], local[1]] == hop).all()
        assert edges.shape[1] == 2 * int((dist == hop).sum())
    assert batch.hop_index[3].numel() == 0  # no pairs 4 hops apart: an empty set


@pytest.mark.parametrize("name", [t for t in TASKS if t != "peptides"])  # peptides: one split
def test_same_seed_same_data_other_seed_other_data(name):
    task = instantiate(compose_config([f"task={name}", *TINY_TASKS.get(name, [])]).task)
    if name == "tree_neighbors_match":
        task = TreeNeighborsMatch(depth=3)
    a, b, c = task.generate(7), task.generate(7), task.generate(8)
    for split in a:
        assert torch.equal(a[split].x, b[split].x) and torch.equal(a[split].y, b[split].y)
        assert not torch.equal(a[split].x, c[split].x)


@pytest.mark.parametrize("num_keys", [4, 10])
def test_nar_classes_roughly_uniform(num_keys):
    y = NAR(num_keys=num_keys, num_train=8000, num_val=10, num_test=10).generate(0)["train"].y
    freq = torch.bincount(y, minlength=num_keys).float() / len(y)
    assert (freq - 1 / num_keys).abs().max() < 4 * math.sqrt(1 / num_keys / len(y)) + 0.01
