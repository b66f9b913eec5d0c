"""Graph transfer: the SWAN topologies (checked with networkx), the target rule, the published
split seeds, determinism, and a run through the runner."""

import networkx as nx
import pytest
import torch

from benchmarks.core.errors import ConfigError
from benchmarks.engine.runner import run
from benchmarks.tasks import GraphTransfer
from benchmarks.tasks.graph_transfer import OTHER, SOURCE, TARGET

TOPOLOGIES = ["line", "ring", "crossed_ring"]


def multigraph(task: GraphTransfer) -> nx.MultiGraph:
    """The topology's undirected edges (each stored in both directions; a self-loop once)."""
    src, dst = task.topology.edge_index
    graph = nx.MultiGraph()
    graph.add_nodes_from(range(task.topology.num_nodes))
    graph.add_edges_from((u, v) for u, v in zip(src.tolist(), dst.tolist(), strict=True) if u <= v)
    return graph


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("d", [2, 3, 5, 10])
def test_topology_source_target_distance(topology, d):
    """line: d nodes, target d - 1 (d - 1 hops); rings: 2d nodes, target d, d hops away."""
    task = GraphTransfer(topology, d, num_train=2, num_val=2, num_test=2)
    topo = task.topology
    n, target = (d, d - 1) if topology == "line" else (2 * d, d)
    assert (topo.num_nodes, task.source, topo.readout) == (n, 0, target)
    assert topo.roles[0] == SOURCE and topo.roles[target] == TARGET
    assert (topo.roles == OTHER).sum() == n - 2
    graph = nx.Graph(multigraph(task))
    assert nx.is_connected(graph)
    assert nx.shortest_path_length(graph, 0, target) == (d - 1 if topology == "line" else d)
    assert topo.hops[0] == nx.shortest_path_length(graph, 0, target)
    # undirected: every (u, v) also as (v, u), with the same multiplicity
    pairs = topo.edge_index.t().tolist()
    assert sorted(pairs) == sorted([v, u] for u, v in pairs)


def test_line_has_a_self_loop_on_every_node():
    graph = multigraph(GraphTransfer("line", 6, num_train=2, num_val=2, num_test=2))
    assert sorted(nx.nodes_with_selfloops(graph)) == list(range(6))
    assert nx.Graph(graph).number_of_edges() == 5 + 6


@pytest.mark.parametrize("d", [3, 5, 8])
def test_crossed_ring_edges(d):
    """The ring, the rungs (i, 2d-1-i) for i < d and (i, 2d+1-i) for 2 <= i < d; the rungs at
    i = 0 and i = d - 1 repeat ring edges, as in the published data."""
    graph = multigraph(GraphTransfer("crossed_ring", d, num_train=2, num_val=2, num_test=2))
    n = 2 * d
    ring = {frozenset((i, (i + 1) % n)) for i in range(n)}
    rungs = [frozenset((i, n - 1 - i)) for i in range(d)]
    rungs += [frozenset((i, n + 1 - i)) for i in range(2, d)]
    edges = [frozenset(e) for e in graph.edges()]
    assert sorted(map(sorted, edges)) == sorted(map(sorted, [*ring, *rungs]))
    assert rungs.count(frozenset((0, n - 1))) == 1 and frozenset((d - 1, d)) in rungs
    assert graph.number_of_edges(0, n - 1) == 2 and graph.number_of_edges(d - 1, d) == 2
    assert not list(nx.nodes_with_selfloops(graph))


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_target_rule_and_shapes(topology):
    task = GraphTransfer(topology, 4, num_train=30, num_val=7, num_test=9)
    data = task.generate(0)
    n, source, target = task.topology.num_nodes, task.source, task.topology.readout
    for split, count in [("train", 30), ("val", 7), ("test", 9)]:
        x, y = data[split].x, data[split].y
        assert x.shape == y.shape == (count, n, 1) and data[split].node_level
        assert (x[:, source] == 1).all() and (x[:, target] == 0).all()
        assert (y[:, source] == 0).all() and (y[:, target] == 1).all()
        others = torch.ones(n, dtype=torch.bool)
        others[[source, target]] = False
        assert torch.equal(y[:, others], x[:, others])
        assert ((x[:, others] >= 0) & (x[:, others] < 1)).all()


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_data_seed_zero_is_the_published_draw(topology):
    """The SWAN generator seeds torch with 1234 / 2345 / 3456 and draws torch.rand(n, 1) per
    graph (the gLSTM port's val seed)."""
    task = GraphTransfer(topology, 5, num_train=20, num_val=10, num_test=10)
    data = task.generate(0)
    n = task.topology.num_nodes
    for split, seed in [("train", 1234), ("val", 2345), ("test", 3456)]:
        torch.manual_seed(seed)
        drawn = torch.stack([torch.rand(n, 1) for _ in range(len(data[split]))])
        x, _ = task.features_and_targets(drawn)
        assert torch.equal(data[split].x, x)


def test_same_seed_same_data_other_seed_other_data():
    task = GraphTransfer("ring", 5, num_train=20, num_val=10, num_test=10)
    a, b, c = task.generate(3), task.generate(3), task.generate(4)
    for split in a:
        assert torch.equal(a[split].x, b[split].x) and torch.equal(a[split].y, b[split].y)
        assert not torch.equal(a[split].x, c[split].x)
    assert not torch.equal(a["val"].x, a["test"].x)  # the splits have their own seeds


def test_names_and_defaults():
    task = GraphTransfer("crossed_ring", 7)
    assert task.name == "graph_transfer" and task.size == {"distance": 7}
    assert task.num_layers == 7 and task.kind == "regression" and task.readout_node
    assert task.sizes == {"train": 1000, "val": 100, "test": 100}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"topology": "torus"}, "task.topology: must be one of"),
        ({"distance": 1}, "task.distance: must be an integer >= 2"),
        ({"num_layers": 0}, "task.num_layers: must be a positive integer"),
    ],
)
def test_bad_arguments_name_the_key(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GraphTransfer(**kwargs)


@pytest.mark.parametrize("topology", ["line", "crossed_ring"])
def test_runs_through_the_runner(tiny, topology):
    """One epoch of GCN, stored with the MSE metrics and the sensitivity at the target."""
    result = run(tiny("graph_transfer", "model=gcn", f"task.topology={topology}"))
    assert result["task"] == "graph_transfer" and result["metric"] == "mse"
    assert result["config"]["task"]["topology"] == topology
    assert result["size/distance"] == 3 and result["score_key"] == "test/mse"
    assert result["test/mse"] > 0 and "test/log10_mse" in result
    assert result["sens/num_graphs"] > 0
