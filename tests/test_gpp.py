"""GPP: targets against networkx, the feature layout, split sizes, the graph-type mix,
determinism, one shared generation for every target, and a run through the runner."""

import networkx as nx
import numpy as np
import pytest
import torch

from benchmarks.core.errors import ConfigError
from benchmarks.engine.runner import run
from benchmarks.tasks import GPP
from benchmarks.tasks.gpp import GRAPH_TYPES, MIXTURE, _powerlaw_tree, generate_split

SMALL = {"num_train": 40, "num_val": 10, "num_test": 10}


def graph(graphs, g: int) -> nx.Graph:
    """Graph g of a split as a networkx graph on nodes 0..n-1."""
    n = int(graphs.node_ptr[g + 1] - graphs.node_ptr[g])
    edges = graphs.edge_index[:, graphs.edge_ptr[g] : graphs.edge_ptr[g + 1]]
    out = nx.Graph()
    out.add_nodes_from(range(n))
    out.add_edges_from(edges.t().tolist())
    return out


def nodes(graphs, g: int) -> slice:
    return slice(int(graphs.node_ptr[g]), int(graphs.node_ptr[g + 1]))


def test_targets_match_networkx():
    """SSSP (0 where unreachable), eccentricity and diameter within components, Laplacian
    features, the stored distances; undirected, no self-loop, no isolated node."""
    graphs = generate_split(11, "train", 60)
    for g in range(len(graphs.node_ptr) - 1):
        G, at = graph(graphs, g), nodes(graphs, g)
        n = G.number_of_nodes()
        edges = graphs.edge_index[:, graphs.edge_ptr[g] : graphs.edge_ptr[g + 1]]
        assert 2 * G.number_of_edges() == edges.shape[1]  # both directions of every edge
        assert nx.number_of_selfloops(G) == 0 and min(d for _, d in G.degree()) > 0
        lengths = dict(nx.all_pairs_shortest_path_length(G))
        source = int(graphs.x[at, 0].argmax())
        sssp = [lengths[source].get(v, 0) for v in range(n)]
        eccentricity = [max(lengths[u].values()) for u in range(n)]
        assert graphs.sssp[at].tolist() == sssp
        assert graphs.eccentricity[at].tolist() == eccentricity
        assert graphs.diameter[g] == max(eccentricity)
        laplacian = nx.laplacian_matrix(G, nodelist=range(n)).toarray() @ graphs.x[at, 1].numpy()
        assert np.allclose(graphs.laplacian[at].numpy(), laplacian, atol=1e-5)
        values, pointer = graphs.distances
        dist = values[pointer[g] : pointer[g + 1]].reshape(n, n)
        expected = [[lengths[u].get(v, -1) for v in range(n)] for u in range(n)]
        assert dist.tolist() == expected


def test_some_graphs_are_disconnected_and_handled():
    """Toggling and caveman graphs leave some graphs disconnected: the targets stay finite."""
    graphs = generate_split(0, "train", 300)
    connected = [nx.is_connected(graph(graphs, g)) for g in range(300)]
    assert not all(connected) and any(connected)
    assert (graphs.sssp >= 0).all() and (graphs.eccentricity >= 1).all()


def test_feature_layout_and_shapes():
    data = {t: GPP(t, **SMALL).generate(0) for t in ("diameter", "eccentricity", "sssp")}
    for split, count in [("train", 40), ("val", 10), ("test", 10)]:
        graphs = data["sssp"][split]
        x, ptr = graphs.x, graphs.node_ptr
        assert len(graphs) == count and x.shape == (int(ptr[-1]), 2)
        graph_of_node = torch.repeat_interleave(torch.arange(count), graphs.num_nodes)
        one_hot = torch.zeros(count).index_add_(0, graph_of_node, x[:, 0])
        assert set(x[:, 0].tolist()) <= {0.0, 1.0} and (one_hot == 1).all()  # one source
        assert ((x[:, 1] >= 0) & (x[:, 1] < 1)).all()
        assert graphs.node_level and graphs.y.shape == (len(x), 1)
        assert data["eccentricity"][split].y.shape == (len(x), 1)
        diameter = data["diameter"][split]
        assert not diameter.node_level and diameter.y.shape == (count, 1)


def test_split_sizes_and_node_counts():
    """Train: equal blocks of n = 25..34 nodes; val and test: n = 25..29 (the PNA script)."""
    task = GPP("diameter", num_train=30, num_val=15, num_test=10)
    data = task.generate(2)
    assert {s: len(g) for s, g in data.items()} == {"train": 30, "val": 15, "test": 10}
    assert data["train"].num_nodes.tolist() == [25 + i // 3 for i in range(30)]
    assert data["val"].num_nodes.tolist() == [25 + i // 3 for i in range(15)]
    assert data["test"].num_nodes.tolist() == [25 + i // 2 for i in range(10)]


def test_graph_type_mix():
    """Every type appears, at about the PNA mixture's frequency."""
    types = generate_split(5, "train", 2000).types
    freq = torch.bincount(types, minlength=len(GRAPH_TYPES)).double() / len(types)
    assert (freq > 0).all()
    expected = torch.from_numpy(MIXTURE)
    assert ((freq - expected).abs() < 4 * (expected * (1 - expected) / len(types)).sqrt()).all()


def test_powerlaw_trees_are_trees():
    adj = _powerlaw_tree(np.random.default_rng(0), 50, 30)
    for a in adj:
        assert nx.is_tree(nx.from_numpy_array(a.astype(int)))


def test_same_seed_same_data_other_seed_other_data():
    generate_split.cache_clear()  # regenerate rather than hit the cache
    a = GPP("sssp", **SMALL).generate(4)
    generate_split.cache_clear()
    b = GPP("sssp", **SMALL).generate(4)
    c = GPP("sssp", **SMALL).generate(5)
    for split in a:
        for key in ("x", "edge_index", "y", "edge_ptr"):
            assert torch.equal(getattr(a[split], key), getattr(b[split], key))
        assert not torch.equal(a[split].x, c[split].x)
    assert not torch.equal(a["val"].x, a["test"].x[: len(a["val"].x)])


def test_targets_share_one_generation():
    a = GPP("diameter", **SMALL).generate(9)
    b = GPP("eccentricity", **SMALL).generate(9)
    assert a["train"].x is b["train"].x and a["train"].edge_index is b["train"].edge_index
    assert a["train"] is not b["train"]  # own GraphList objects (num_hops is set per run)


def test_loss_is_the_mean_over_graphs_of_each_graphs_mse():
    task = GPP("sssp", **SMALL)
    graphs = task.generate(0)["train"]
    batch = graphs.batch(torch.tensor([0, 39]))  # 25 and 34 nodes
    pred = torch.zeros_like(batch.y)
    n0 = int(graphs.num_nodes[0])
    expected = ((batch.y[:n0] ** 2).mean() + (batch.y[n0:] ** 2).mean()) / 2
    assert torch.allclose(task.loss(pred, batch), expected)
    assert torch.allclose(task.scores(pred, batch).mean(), expected)


def test_khop_sets_use_the_stored_distances():
    graphs = GPP("sssp", **SMALL).generate(0)["train"]
    graphs.num_hops = 3
    batch = graphs.batch(torch.tensor([3, 7]))
    G = nx.disjoint_union(graph(graphs, 3), graph(graphs, 7))
    lengths = dict(nx.all_pairs_shortest_path_length(G))
    for hop, pairs in enumerate(batch.hop_index, start=1):
        expected = sorted((u, v) for u in lengths for v, d in lengths[u].items() if d == hop)
        assert sorted(map(tuple, pairs.t().tolist())) == expected


def test_names_defaults_and_readouts():
    task = GPP("diameter")
    assert task.name == "gpp" and task.num_layers == 10 and not task.readout_node
    assert task.sizes == {"train": 5120, "val": 640, "test": 1280}
    assert task.make_readout(20).mlp.channel_list == [60, 30, 1]
    assert GPP("sssp").make_readout(20).mlp.channel_list == [20, 10, 1]


def test_bad_target_names_the_key():
    with pytest.raises(ConfigError, match="task.target: must be one of"):
        GPP("radius")


@pytest.mark.parametrize("target", ["diameter", "sssp"])
def test_runs_through_the_runner(tiny, target):
    """One epoch of GIN: log10 MSE stored; no sensitivity (no readout node)."""
    result = run(tiny("gpp", "model=gin", f"task.target={target}", "model.khop=true"))
    assert result["task"] == "gpp" and result["config"]["task"]["target"] == target
    assert result["score_key"] == "test/log10_mse"  # as A-DGN and gLSTM report it
    assert result["score"] == pytest.approx(np.log10(result["test/mse"]))
    assert "sens/num_graphs" not in result


def test_label_normalisation_divides_by_the_training_maximum():
    """Off (the default, as A-DGN and the gLSTM code run): raw targets. On (SWAN / SONAR): every
    split divided by the training split's maximum target."""
    raw = GPP("sssp", num_train=20, num_val=10, num_test=10)
    scaled = GPP("sssp", num_train=20, num_val=10, num_test=10, normalize_labels=True)
    assert raw.normalize_labels is False and raw.label_scale(0) == 1.0
    a, b = raw.generate(0), scaled.generate(0)
    top = float(a["train"].y.max())
    assert top > 1 and scaled.label_scale(0) == top
    assert float(b["train"].y.max()) == 1.0
    for split in a:
        assert torch.allclose(b[split].y, a[split].y / top)
        assert torch.equal(b[split].x, a[split].x)


def test_laplacian_target_is_a_sweep_value_of_every_gpp_experiment():
    """The published "SSSP" column trained on the Laplacian feature: every gpp sweep runs it."""
    from tests.helpers import CONF

    for path in sorted((CONF / "experiment").glob("gpp*.yaml")):
        text = path.read_text()
        if "task.target:" in text:
            assert "task.target: diameter,eccentricity,sssp,laplacian" in text, path.name
