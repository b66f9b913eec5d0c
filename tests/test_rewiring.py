"""FoSR and SDRF rewiring on hand-checked small graphs."""

import networkx as nx
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import from_networkx, to_networkx

from baselines.rewiring import SDRF, FoSR, balanced_forman_curvature, code_curvature
from baselines.rewiring.fosr import _best_non_edge, _EdgeKeys
from benchmarks.tasks import GraphSet, RingTransfer, TreeNeighborsMatch
from benchmarks.tasks.rewired import rewire_topology


def edge_set(edge_index):
    return {tuple(pair) for pair in edge_index.T.tolist()}


def assert_simple_undirected(edge_index):
    pairs = edge_index.T.tolist()
    assert len(pairs) == len(set(map(tuple, pairs))), "duplicate edges"
    assert all(i != j for i, j in pairs), "self-loops"
    assert edge_set(edge_index) == edge_set(edge_index.flip(0)), "not undirected"


def path(n):
    return torch.stack([torch.arange(n - 1), torch.arange(1, n)])


def as_networkx(edge_index, num_nodes):
    return to_networkx(Data(edge_index=edge_index, num_nodes=num_nodes), to_undirected=True)


def test_fosr_joins_the_ends_of_a_path_first():
    # Path 0-1-2-3-4: x is antisymmetric with |x_0| = |x_4| largest, and the ends have the
    # smallest degree, so x_0 x_4 / sqrt(2 * 2) is the most negative score (once converged: 50
    # initial steps; the code's 5 leave seed 0's vector short of it).
    out = FoSR(1, initial_power_iterations=50, seed=0).rewire(path(5), 5)
    assert edge_set(out) - edge_set(path(5)) - edge_set(path(5).flip(0)) == {(0, 4), (4, 0)}


def test_fosr_raises_algebraic_connectivity_and_keeps_a_simple_graph():
    out = FoSR(4, seed=0).rewire(path(12), 12)
    assert_simple_undirected(out)
    assert out.shape[1] == 2 * (11 + 4)
    before = nx.algebraic_connectivity(nx.path_graph(12), method="tracemin_lu", seed=0)
    after = nx.algebraic_connectivity(as_networkx(out, 12), method="tracemin_lu", seed=0)
    assert after > before


def test_fosr_first_edge_on_a_barbell_crosses_the_bridge():
    graph = nx.barbell_graph(5, 2)  # cliques 0-4 and 7-11, path 4-5-6-7
    out = FoSR(1, seed=0).rewire(from_networkx(graph).edge_index, graph.number_of_nodes())
    (i, j), *_ = sorted(edge_set(out) - set(graph.edges) - {(b, a) for a, b in graph.edges})
    assert (i <= 5) != (j <= 5)


def test_fosr_transform_and_determinism():
    data = Data(edge_index=path(30), num_nodes=30)
    first = FoSR(5, seed=3)(data.clone()).edge_index
    assert torch.equal(first, FoSR(5, seed=3)(data.clone()).edge_index)
    with pytest.raises(ValueError, match="edge_attr"):
        FoSR(1)(Data(edge_index=path(3), edge_attr=torch.ones(2, 1), num_nodes=3))


def test_fosr_stops_on_a_complete_graph():
    complete = from_networkx(nx.complete_graph(4)).edge_index
    assert edge_set(FoSR(3, seed=0).rewire(complete, 4)) == edge_set(complete)


@pytest.mark.parametrize(
    "graph, expected",
    [
        (nx.cycle_graph(4), 1.0),  # 2/2 + 2/2 - 2 + (1 + 1) / (gamma_max 1 * 2)
        (nx.complete_graph(3), 1.5),  # 1 + 1 - 2 + 2 * 1/2 + 1/2
        (nx.complete_graph(4), 4 / 3),
        (nx.cycle_graph(5), 0.0),
        (nx.star_graph(3), 0.0),  # a leaf end: min degree 1
    ],
)
def test_balanced_forman_curvature_hand_values(graph, expected):
    adjacency = torch.tensor(nx.to_numpy_array(graph))
    curvature = balanced_forman_curvature(adjacency, torch.tensor([0]), torch.tensor([1]))
    assert curvature.item() == pytest.approx(expected)
    batched = balanced_forman_curvature(adjacency[None], torch.tensor([0]), torch.tensor([1]))
    assert batched.item() == pytest.approx(expected)


def test_curvature_of_a_barbell_bridge():
    # Two K4 joined by edge 3-4: degrees 4 and 4, no triangles or 4-cycles: 2/4 + 2/4 - 2.
    adjacency = torch.tensor(nx.to_numpy_array(nx.barbell_graph(4, 0)))
    assert balanced_forman_curvature(adjacency, torch.tensor([3]), torch.tensor([4])).item() == -1


def test_sdrf_adds_an_edge_across_the_barbell_bridge_first():
    graph = nx.barbell_graph(4, 0)  # cliques 0-3 and 4-7, bridge 3-4
    edge_index = from_networkx(graph).edge_index
    out = SDRF(1, tau=1.0, seed=0).rewire(edge_index, 8)
    assert_simple_undirected(out)
    added = edge_set(out) - edge_set(edge_index)
    assert len(added) == 2
    i, j = min(added)
    assert i <= 3 < j


def test_sdrf_removes_edges_above_c_plus_and_is_deterministic_per_seed():
    graph = nx.barbell_graph(5, 1)
    edge_index = from_networkx(graph).edge_index
    kept = SDRF(1, tau=1.0, c_plus=1.0, seed=0).rewire(edge_index, graph.number_of_nodes())
    assert_simple_undirected(kept)
    assert kept.shape[1] == edge_index.shape[1]  # one edge added, one clique edge removed
    tree = from_networkx(nx.random_labeled_tree(40, seed=1)).edge_index
    runs = {
        seed: [SDRF(10, tau=0.1, seed=seed).rewire(tree, 40) for _ in range(2)] for seed in range(4)
    }
    assert all(torch.equal(*pair) for pair in runs.values())
    assert len({tuple(map(tuple, runs[s][0].T.tolist())) for s in runs}) > 1


def test_fosr_choice_matches_brute_force_over_all_non_edges():
    num_nodes = 60
    graph = nx.gnp_random_graph(num_nodes, 0.3, seed=0)
    edge_index = from_networkx(graph).edge_index
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        y = torch.randn(num_nodes, generator=generator, dtype=torch.float64)
        products = y[:, None] * y[None, :]
        adjacency = torch.eye(num_nodes, dtype=torch.bool)
        adjacency[edge_index[0], edge_index[1]] = True
        expected = products.masked_fill(adjacency, float("inf")).min()
        keys = _EdgeKeys(edge_index[0] * num_nodes + edge_index[1])
        i, j = _best_non_edge(y, keys, num_nodes)
        assert not adjacency[i, j]
        assert products[i, j] == expected


def test_rewired_topology_keeps_original_hops_and_directions():
    ring = RingTransfer(distance=4).topology  # 8-node ring, readout 0
    rewired = rewire_topology(ring, FoSR(2, seed=0))
    assert edge_set(ring.edge_index) < edge_set(rewired.edge_index)
    assert len(edge_set(rewired.edge_index)) == len(edge_set(ring.edge_index)) + 4
    assert torch.equal(rewired.hops, ring.hops) and rewired.max_hop == ring.max_hop
    assert rewired.key != ring.key and rewired.readout == ring.readout
    added = {
        tuple(p)
        for p, t in zip(rewired.edge_index.T.tolist(), rewired.edge_type.tolist(), strict=True)
        if t
    }
    assert added == edge_set(rewired.edge_index) - edge_set(ring.edge_index)

    def batch(topology):
        return GraphSet(topology, torch.zeros(3, 8, 1), torch.zeros(3), num_hops=2).batch(
            torch.arange(3)
        )

    plain, rewired_batch = batch(ring), batch(rewired)
    assert rewired_batch.edge_index.shape[1] == 3 * rewired.edge_index.shape[1]
    assert all(map(torch.equal, plain.hop_index, rewired_batch.hop_index))
    assert rewired_batch.topology_key != plain.topology_key

    tree = TreeNeighborsMatch(depth=2).topology  # directed child -> parent edges plus self-loops
    rewired = rewire_topology(tree, SDRF(2, tau=1.0, c_plus=None, seed=0))
    assert edge_set(tree.edge_index) <= edge_set(rewired.edge_index)
    added = edge_set(rewired.edge_index) - edge_set(tree.edge_index)
    assert added and added == {(j, i) for i, j in added}
    assert torch.equal(rewired.distances, tree.distances)


def test_rewiring_option_rewires_the_task_topology_once():
    """`rewiring=fosr|sdrf` on the command line: the task's one topology gets the added edges
    (hops and readout unchanged), the run has its own hash; without it the config (and so
    every stored hash) has no rewiring key at all; a task of varying shapes is refused."""
    from benchmarks.core.errors import ConfigError
    from benchmarks.engine.runner import prepare
    from benchmarks.engine.store import config_hash
    from benchmarks.tasks.nar import nar_topology
    from tests.helpers import TINY_TASKS, compose_config

    plain = compose_config(["task=nar", *TINY_TASKS["nar"]])
    assert "rewiring" not in plain
    original = nar_topology(4)
    for name in ("fosr", "sdrf"):
        cfg = compose_config(["task=nar", *TINY_TASKS["nar"], f"rewiring={name}"])
        assert config_hash(cfg) != config_hash(plain)
        task, net, _, _ = prepare(cfg)
        # FoSR only adds; SDRF (the authors' removal above 0.5) may add and remove as many
        assert edge_set(task.topology.edge_index) != edge_set(original.edge_index)
        if name == "fosr":
            assert task.topology.edge_index.shape[1] > original.edge_index.shape[1]
        assert torch.equal(task.topology.hops, original.hops)
        data = task.generate(0)["train"]
        data.num_hops = 2
        batch = data.batch(torch.arange(4))
        assert torch.isfinite(net(batch)).all()
    gpp = compose_config(["task=gpp", *TINY_TASKS["gpp"], "rewiring=fosr"])
    with pytest.raises(ConfigError, match="rewiring: task gpp"):
        prepare(gpp)


@pytest.mark.parametrize(
    "graph, pair, code, paper",
    [
        # 6-cycle edge (0, 1): degree terms 1 + 1 - 2 = 0, no triangles. Code: k in N(1) = {0, 2}
        # gives (A^2)_{0,0} - A_{0,0} = 2 and (A^2)_{0,2} - A_{0,2} = 1, both > 0, and the same
        # for N(0) = {1, 5}: sharp 4, lambda 2, 4 / (2 * 2) = 1. Paper: no 4-cycle, 0.
        (nx.cycle_graph(6), (0, 1), 1.0, 0.0),
        # Bridge 3 - 4 of two K4: degrees 4 and 4, 2/4 + 2/4 - 2 = -1, no triangles. Code:
        # k in N(4) = {3, 5, 6, 7}: (A^2)_{3,3} = 4, (A^2)_{3,k} = 1 (through 4), all > 0, and
        # the same from the other side: sharp 8, lambda 4, 8 / (4 * 4) = 0.5: -0.5. Paper: -1.
        (nx.barbell_graph(4, 0), (3, 4), -0.5, -1.0),
    ],
)
def test_code_and_paper_curvature_hand_values(graph, pair, code, paper):
    adjacency = torch.tensor(nx.to_numpy_array(graph))
    i, j = torch.tensor([pair[0]]), torch.tensor([pair[1]])
    assert graph.has_edge(*pair)
    assert code_curvature(adjacency, i, j).item() == pytest.approx(code)
    assert code_curvature(adjacency[None], i, j).item() == pytest.approx(code)
    assert code_curvature(adjacency, j, i).item() == pytest.approx(code)
    assert balanced_forman_curvature(adjacency, i, j).item() == pytest.approx(paper)


def test_code_curvature_is_zero_off_the_edges_and_sdrf_code_mode_runs():
    adjacency = torch.tensor(nx.to_numpy_array(nx.path_graph(4)))
    assert code_curvature(adjacency, torch.tensor([0]), torch.tensor([2])).item() == 0
    graph = nx.barbell_graph(4, 0)
    edge_index = from_networkx(graph).edge_index
    out = SDRF(1, tau=1.0, seed=0, curvature="code").rewire(edge_index, 8)
    assert_simple_undirected(out)
    added = edge_set(out) - edge_set(edge_index)
    (i, j), _ = sorted(added)
    assert i <= 3 < j  # the bridge is the most negative (-0.5) entry of the matrix
    with pytest.raises(ValueError, match="curvature must be one of"):
        SDRF(1, tau=1.0, curvature="forman")


def test_sdrf_preset_is_the_authors_code():
    from tests.helpers import TINY_TASKS, compose_config

    cfg = compose_config(["task=nar", *TINY_TASKS["nar"], "rewiring=sdrf"])
    assert cfg.rewiring.curvature == "code" and cfg.rewiring.c_plus == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fosr_first_edge_matches_the_codes_iteration_step_by_step(seed):
    """kedar2/FoSR @1a7360c preprocessing/fosr.py, derived densely with numpy: x ~ U[-1, 1) (the
    same draw), 5 steps of x <- x - (x . sqrt d) sqrt d / sum d, x <- (x + D^-1/2 A D^-1/2 x) /
    norm (no self-loops); then the non-edge minimising x_i x_j / sqrt((1 + d_i)(1 + d_j)) over
    the flat n x n matrix; after it, one more step on the new graph picks the second edge."""
    import numpy as np

    graph = nx.lollipop_graph(4, 4)  # K4 (0-3) and the path 3-4-5-6-7
    n = graph.number_of_nodes()
    a = nx.to_numpy_array(graph)
    generator = torch.Generator().manual_seed(seed)
    x = (2 * torch.rand(n, generator=generator, dtype=torch.float64) - 1).numpy()

    def step(x, a):
        d = a.sum(1)
        x = x - x.dot(np.sqrt(d)) * np.sqrt(d) / d.sum()
        y = x + (a @ (x / np.sqrt(d))) / np.sqrt(d)
        return y / np.linalg.norm(y)

    def choose(x, a):
        y = x / np.sqrt(a.sum(1) + 1)
        products = np.outer(y, y)
        products[a > 0] = np.inf
        np.fill_diagonal(products, np.inf)
        flat = int(np.argmin(products))
        return {(flat // n, flat % n), (flat % n, flat // n)}

    for _ in range(5):
        x = step(x, a)
    first = choose(x, a)
    (i, j), _ = sorted(first)
    a[i, j] = a[j, i] = 1
    second = choose(step(x, a), a)
    edge_index = from_networkx(graph).edge_index
    out = FoSR(2, seed=seed).rewire(edge_index, n)
    assert edge_set(out) - edge_set(edge_index) == first | second
    one = FoSR(1, seed=seed)(Data(edge_index=edge_index, num_nodes=n))
    assert edge_set(one.edge_index) - edge_set(edge_index) == first
    added = {
        tuple(p)
        for p, t in zip(one.edge_index.T.tolist(), one.edge_type.tolist(), strict=True)
        if t
    }
    assert added == first and int(one.edge_type.sum()) == 2
