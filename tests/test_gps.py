"""GPS: attention reaches the whole graph and no other; RWSE as PyG computes it and Laplacian
eigenvectors checked against networkx's Laplacian, per graph, once per topology."""

import copy

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import AddLaplacianEigenvectorPE, AddRandomWalkPE
from torch_geometric.utils import to_networkx, to_undirected

import baselines.gps
from baselines import GPS
from benchmarks.core.errors import ConfigError
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
    compute = baselines.gps.random_walk_returns
    monkeypatch.setattr(
        baselines.gps, "random_walk_returns", lambda *args: calls.append(1) or compute(*args)
    )
    model.random_walk_pe(graphs.batch(torch.tensor([3, 1])))  # same topology and size: cached
    assert calls == []
    assert GPS(8, 2, pe="none").pe_lin is None


def test_random_walk_encoding_of_graphs_of_different_sizes_is_each_graphs_own():
    """150 copies each of a directed 6-path, a 5-cycle with a chord and a self-loop, and a
    3-path in one batch (2,100 nodes: PyG's transform on a whole batch this size switches to
    sparse products): every node's encoding is PyG's AddRandomWalkPE of its own graph."""
    cycle = to_undirected(torch.stack([torch.arange(5), (torch.arange(5) + 1) % 5]))
    cycle = torch.cat([cycle, torch.tensor([[0, 2, 3], [2, 0, 3]])], 1)
    graphs = [
        Data(edge_index=torch.stack([torch.arange(5), torch.arange(1, 6)]), num_nodes=6),
        Data(edge_index=cycle, num_nodes=5),
        Data(edge_index=path(3), num_nodes=3),
    ] * 150
    pe = GPS(8, 1, walk_length=7).random_walk_pe(Batch.from_data_list(graphs))
    expected = torch.cat([AddRandomWalkPE(7, attr_name="pe")(g.clone()).pe for g in graphs])
    torch.testing.assert_close(pe, expected)


def assert_laplacian_eigenvectors(pe: torch.Tensor, edge_index: torch.Tensor, n: int) -> None:
    """The columns of `pe` [n, k] are orthonormal eigenvectors of the graph's normalised
    Laplacian (networkx's, on the undirected graph) for its k smallest eigenvalues after the
    first: L pe = pe diag(lambda_2..lambda_{k+1}). Basis-free, so it holds however a solver
    picks vectors within a repeated eigenvalue (a cycle's come in pairs)."""
    graph = to_networkx(Data(edge_index=edge_index, num_nodes=n), to_undirected=True)
    laplacian = torch.tensor(nx.normalized_laplacian_matrix(graph).toarray(), dtype=torch.float64)
    k = pe.shape[1]
    eigenvalues = torch.linalg.eigvalsh(laplacian)[1 : k + 1]
    pe = pe.double()
    torch.testing.assert_close(laplacian @ pe, pe * eigenvalues, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pe.T @ pe, torch.eye(k, dtype=torch.float64), atol=1e-5, rtol=0)


def assert_equal_up_to_column_signs(pe: torch.Tensor, expected: torch.Tensor) -> None:
    signs = (pe * expected).sum(0).sign()
    assert (signs != 0).all()
    torch.testing.assert_close(pe * signs, expected)


def path(n: int) -> torch.Tensor:
    return to_undirected(torch.stack([torch.arange(n - 1), torch.arange(1, n)]))


def test_laplacian_encoding_is_pygs_on_one_graph_tiled_over_copies(monkeypatch):
    """A batch of two 8-cycles (RingTransfer): each copy gets the cycle's eigenvectors, the
    same signs in both; from the topology (cached) or, without a key, from each graph."""
    graphs, batch = ring_batch()
    model = GPS(8, 2, pe="lap", lap_dim=3)
    n = graphs.topology.num_nodes
    pe = model.laplacian_pe(batch)
    assert pe.shape == (2 * n, 3)
    assert_laplacian_eigenvectors(pe[:n], graphs.topology.edge_index, n)
    torch.testing.assert_close(pe[n:], pe[:n])
    unkeyed = copy.copy(batch)
    del unkeyed.topology_key
    torch.testing.assert_close(GPS(8, 2, pe="lap", lap_dim=3).laplacian_pe(unkeyed), pe)
    calls = []
    monkeypatch.setattr(baselines.gps, "laplacian_eigenvectors", lambda *a: calls.append(1))
    model.laplacian_pe(graphs.batch(torch.tensor([3, 1])))  # same topology and size: cached
    assert calls == []


def test_laplacian_encoding_of_graphs_of_different_sizes_is_each_graphs_own():
    """A 6-path given one way only (made undirected), a 5-cycle and a 3-path in one batch:
    each block is its graph's encoding; the 3-path has 2 eigenvectors and a zero column."""
    cycle = to_undirected(torch.stack([torch.arange(5), (torch.arange(5) + 1) % 5]))
    directed_path = torch.stack([torch.arange(5), torch.arange(1, 6)])
    batch = Batch.from_data_list(
        [
            Data(edge_index=directed_path, num_nodes=6),
            Data(edge_index=cycle, num_nodes=5),
            Data(edge_index=path(3), num_nodes=3),
        ]
    )
    pe = GPS(8, 1, pe="lap", lap_dim=3).laplacian_pe(batch)
    assert_laplacian_eigenvectors(pe[:6], path(6), 6)
    assert_laplacian_eigenvectors(pe[6:11], cycle, 5)
    assert_laplacian_eigenvectors(pe[11:, :2], path(3), 3)
    assert (pe[11:, 2] == 0).all()


def test_laplacian_signs_flip_at_random_in_training_only():
    """The encoding reaching W: in eval the fixed one; in training each column times one sign
    per forward pass, from the global RNG (so a seed repeats them), some of them -1."""
    _, batch = ring_batch()
    model = GPS(8, 1, heads=2, pe="lap", lap_dim=3)
    seen = []
    model.pe_lin.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    x = torch.randn(batch.num_nodes, 8)
    pe = model.laplacian_pe(batch)

    def signs(mode_train: bool, seed: int) -> torch.Tensor:  # [calls, k]
        model.train(mode_train)
        seen.clear()
        torch.manual_seed(seed)
        for _ in range(4):
            model(x, batch)
        for encoding in seen:
            assert_equal_up_to_column_signs(encoding, pe)
        return torch.stack([(encoding * pe).sum(0).sign() for encoding in seen])

    assert (signs(False, 0) == 1).all()
    flips = signs(True, 0)
    assert (flips == -1).any() and (flips == 1).any()
    torch.testing.assert_close(signs(True, 0), flips)


@pytest.mark.parametrize(
    "options, key",
    [({"pe": "laplacian"}, "^pe:"), ({"pe": "lap", "lap_dim": 0}, "^lap_dim:")],
)
def test_bad_encoding_options_name_their_key(options, key):
    with pytest.raises(ConfigError, match=key):
        GPS(8, 1, **options)
    assert GPS(8, 1, pe="lap", lap_dim=5).pe_lin.in_features == 5


def test_laplacian_encoding_is_built_inside_torch_func():
    """jacrev through GPS with pe=lap (the sensitivity metrics' path), without a topology key
    so the encoding is computed inside the transform, equals autograd's gradient."""
    _, batch = ring_batch()
    del batch.topology_key
    model = GPS(8, 1, heads=2, pe="lap", lap_dim=3).eval()
    x = torch.randn(batch.num_nodes, 8, requires_grad=True)
    jac = torch.func.jacrev(lambda z: model(z, batch)[0, 0])(x)
    model(x, batch)[0, 0].backward()
    torch.testing.assert_close(jac, x.grad)


def test_laplacian_encoding_equals_pygs_transform_on_a_simple_spectrum():
    """On a path (no repeated eigenvalue, so the eigenvectors are unique up to sign): the same
    columns as PyG's AddLaplacianEigenvectorPE."""
    data = Data(edge_index=path(7), num_nodes=7)
    expected = AddLaplacianEigenvectorPE(4, attr_name="pe", is_undirected=True)(data).pe.float()
    pe = baselines.gps.laplacian_eigenvectors(path(7), 7, 4)
    assert_equal_up_to_column_signs(pe, expected)
