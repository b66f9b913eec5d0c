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


@pytest.mark.parametrize("source_target", ["published", "generator"])
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_target_rule_and_shapes(topology, source_target):
    task = GraphTransfer(
        topology, 4, num_train=30, num_val=7, num_test=9, source_target=source_target
    )
    data = task.generate(0)
    n, source, target = task.topology.num_nodes, task.source, task.topology.readout
    mark = 1.0 if source_target == "published" else 0.0
    for split, count in [("train", 30), ("val", 7), ("test", 9)]:
        x, y = data[split].x, data[split].y
        assert x.shape == y.shape == (count, n, 1) and data[split].node_level
        assert (x[:, source] == 1).all() and (x[:, target] == 0).all()
        assert (y[:, source] == mark).all() and (y[:, target] == 1).all()
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


# The released files (SWAN @5795bd2 graph_transfer/data.zip, 2024-09-13): y at the source per
# topology and distance. Only line_50 has 0; every other file keeps the source's input, 1.
RELEASED_SOURCE_TARGET = {
    ("line", 3): 1.0,
    ("line", 5): 1.0,
    ("line", 10): 1.0,
    ("line", 50): 0.0,
    **{(t, d): 1.0 for t in ("ring", "crossed_ring") for d in (3, 5, 10, 50)},
}


@pytest.mark.parametrize("topology, distance", sorted(RELEASED_SOURCE_TARGET))
def test_published_targets_follow_the_released_files(topology, distance):
    """`published` gives each released file's y at the source; `generator` gives 0 everywhere;
    both keep y = x elsewhere except the target's 1."""
    for option, mark in [
        ("published", RELEASED_SOURCE_TARGET[topology, distance]),
        ("generator", 0),
    ]:
        task = GraphTransfer(
            topology, distance, num_train=2, num_val=1, num_test=1, source_target=option
        )
        y = task.generate(0)["train"].y
        assert (y[:, task.source, 0] == mark).all()
        assert (y[:, task.topology.readout, 0] == 1).all()


@pytest.mark.parametrize(
    "topology, edges, source, target",
    [
        # line d = 3: 0 - 1 - 2 with a self-loop on every node
        ("line", [(0, 1), (1, 2), (0, 0), (1, 1), (2, 2)], 0, 2),
        # ring d = 3: six nodes in a cycle, the target opposite the source
        ("ring", [(i, (i + 1) % 6) for i in range(6)], 0, 3),
        # crossed ring d = 3: the cycle plus the rungs (0, 5), (1, 4), (2, 3) and (2, 5)
        (
            "crossed_ring",
            [(i, (i + 1) % 6) for i in range(6)] + [(0, 5), (1, 4), (2, 3), (2, 5)],
            0,
            3,
        ),
    ],
)
def test_hand_built_published_case(topology, edges, source, target):
    """A tiny graph written out by hand, its targets as the released file has them: the source
    keeps its input 1, the target 1, every other node its own value."""
    task = GraphTransfer(topology, 3, num_train=1, num_val=1, num_test=1)
    pairs = sorted(map(tuple, task.topology.edge_index.t().tolist()))
    both_ways = [e for u, v in edges for e in ([(u, v), (v, u)] if u != v else [(u, u)])]
    assert pairs == sorted(both_ways)  # repeated rungs stay repeated, as in the file
    assert (task.source, task.topology.readout) == (source, target)
    values = torch.tensor([[0.3], [0.6], [0.9], [0.2], [0.4], [0.7]])[: task.topology.num_nodes]
    x, y = task.features_and_targets(values[None])
    expected = values.clone()
    expected[source], expected[target] = 1.0, 0.0
    assert torch.equal(x[0], expected)
    expected[target] = 1.0  # and the source keeps 1
    assert torch.equal(y[0], expected)
    generator = GraphTransfer(topology, 3, 1, 1, 1, source_target="generator")
    assert generator.features_and_targets(values[None])[1][0, source, 0] == 0.0


def test_line_50_published_source_target_is_zero():
    task = GraphTransfer("line", 50, num_train=1, num_val=1, num_test=1)
    _, y = task.features_and_targets(torch.rand(1, 50, 1))
    assert y[0, 0, 0] == 0.0 and y[0, 49, 0] == 1.0


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
    assert task.source_target == "published" and task.source_mark == 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"topology": "torus"}, "task.topology: must be one of"),
        ({"distance": 1}, "task.distance: must be an integer >= 2"),
        ({"num_layers": 0}, "task.num_layers: must be a positive integer"),
        ({"source_target": "file"}, "task.source_target: must be one of published, generator"),
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
