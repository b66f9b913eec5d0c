"""gLSTM's sparse products on the CPU: the accelerator index path (torch's argsort / bincount)
against the numpy one, an output buffer's old contents never reaching a product, no reference
cycle per step; and the run's `deterministic` option."""

import gc
import weakref

import pytest
import torch
from torch_geometric.data import Batch

import glstm.neighbourhoods as neighbourhoods
import glstm.sparse as sparse
from benchmarks.engine.runner import set_deterministic
from benchmarks.engine.store import config_hash
from glstm import GLSTM
from glstm.layer import INPUT_GATES
from glstm.model import FORMS
from glstm.sparse import Adjacency, _mm, _np_self_loops, _torch_self_loops, sddmm, spmm
from tests.helpers import compose_config

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")


def random_graph(n: int = 14, e: int = 50, seed: int = 0, dtype=torch.float32) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    edges = torch.randint(0, n, (2, e), generator=gen)  # self edges and duplicates included
    return Batch(x=torch.randn(n, 8, generator=gen, dtype=dtype), edge_index=edges)


def dense(adj: Adjacency, values: torch.Tensor) -> torch.Tensor:
    """[H, N, N] with entry (u, v) of head h = values[h, e] for entry e = (u, v) (summed)."""
    heads = torch.arange(values.shape[0])[:, None].expand(-1, adj.nnz)
    out = values.new_zeros(values.shape[0], adj.num_nodes, adj.num_nodes)
    index = (heads, adj.row.expand_as(heads), adj.col.expand_as(heads))
    return out.index_put_(index, values, accumulate=True)


def test_torch_self_loops_equal_the_numpy_ones_as_sets():
    batch = random_graph()
    src, dst = batch.edge_index
    row_np, col_np = _np_self_loops(src.numpy(), dst.numpy(), batch.num_nodes)
    row_t, col_t = _torch_self_loops(src, dst, batch.num_nodes)
    assert (row_t[1:] >= row_t[:-1]).all()
    assert sorted(zip(row_np.tolist(), col_np.tolist(), strict=True)) == sorted(
        zip(row_t.tolist(), col_t.tolist(), strict=True)
    )


def test_compressed_and_transpose_agree_on_both_paths(monkeypatch):
    batch = random_graph()
    adj = Adjacency.with_self_loops(batch.edge_index, batch.num_nodes)
    crow_np, (adj_t_np, perm_np) = adj.crow, adj.transposed()
    monkeypatch.setattr(sparse, "_numpy", lambda index: None)
    fresh = Adjacency(adj.row, adj.col, adj.num_nodes)
    assert torch.equal(fresh.crow, crow_np)
    adj_t, perm = fresh.transposed()
    assert torch.equal(adj_t.row, adj_t_np.row) and torch.equal(adj_t.crow, adj_t_np.crow)
    assert torch.equal(adj.col[perm], adj_t.row) and torch.equal(adj.row[perm], adj_t.col)
    assert sorted(perm.tolist()) == sorted(perm_np.tolist())


def test_products_match_a_dense_reference():
    batch = random_graph()
    adj = Adjacency.with_self_loops(batch.edge_index, batch.num_nodes)
    gen = torch.Generator().manual_seed(1)
    values = torch.randn(3, adj.nnz, generator=gen)
    x = torch.randn(3, adj.num_nodes, 5, generator=gen)
    q, k = torch.randn(2, 3, adj.num_nodes, 4, generator=gen)
    torch.testing.assert_close(spmm(values, x, adj), dense(adj, values) @ x)
    expected = (q @ k.transpose(1, 2))[:, adj.row, adj.col]
    torch.testing.assert_close(sddmm(q, k, adj), expected)


def test_product_output_never_reads_the_buffers_old_contents():
    """A product into a buffer poisoned with NaN gives the fresh product (on CUDA, addmm hands
    the buffer to cuSPARSE as C; tests/test_cuda.py runs this there too)."""
    batch = random_graph()
    adj = Adjacency.with_self_loops(batch.edge_index, batch.num_nodes)
    a = adj.csr(2, torch.randn(2 * adj.nnz))
    x = torch.randn(2 * adj.num_nodes, 3)
    poisoned = torch.full((2 * adj.num_nodes, 3), float("nan"))
    out = _mm(a, x, out=poisoned)
    assert out.data_ptr() == poisoned.data_ptr()
    torch.testing.assert_close(out, a.to_dense() @ x)
    torch.testing.assert_close(_mm(a, x), a.to_dense() @ x)


def forward_and_grads(model: GLSTM, batch: Batch) -> tuple[torch.Tensor, ...]:
    x = batch.x.clone().requires_grad_()
    model.zero_grad(set_to_none=True)
    out = model(x, batch)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return (out.detach(), x.grad, *(p.grad for p in model.parameters()))


@pytest.mark.parametrize("form", [f for f in FORMS if f != "auto"])
@pytest.mark.parametrize("input_gate", INPUT_GATES)
def test_accelerator_index_path_equals_the_numpy_path(monkeypatch, form, input_gate):
    """Forced onto the path accelerators take (torch's argsort, bincount and cumsum instead of
    numpy), every gLSTM form and input gate gives the same outputs and gradients (in float64:
    the paths order a row's entries differently, so sums differ by rounding)."""
    torch.manual_seed(0)
    model = GLSTM(8, 3, heads=2, memory_dim=4, input_gate=input_gate, form=form).double()
    batch = random_graph(dtype=torch.float64)
    expected = forward_and_grads(model, batch)
    monkeypatch.setattr(sparse, "_numpy", lambda index: None)
    monkeypatch.setattr(neighbourhoods, "_ADJACENCIES", {})
    fresh = random_graph(dtype=torch.float64)  # new edge tensors: built on the forced path
    got = forward_and_grads(model, fresh)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_an_adjacency_and_its_transpose_are_freed_without_the_collector():
    gc.disable()
    try:
        batch = random_graph()
        adj = Adjacency.with_self_loops(batch.edge_index, batch.num_nodes)
        adj.csr(2, torch.ones(2 * adj.nnz), transpose=True)
        adj_t, _ = adj.transposed()
        assert adj_t.transposed()[0] is adj
        refs = weakref.ref(adj), weakref.ref(adj_t)
        del adj, adj_t
        assert all(ref() is None for ref in refs)
    finally:
        gc.enable()


def test_a_training_step_on_an_unkeyed_batch_leaves_no_cycle():
    """One forward and backward pass of gLSTM on a batch without a topology key: once the batch
    is gone its neighbourhood structures are freed by reference counting alone."""
    torch.manual_seed(0)
    model = GLSTM(8, 2, heads=2, memory_dim=4, form="recurrent")
    gc.collect()
    gc.disable()
    try:
        batch = random_graph()
        model(batch.x, batch).square().sum().backward()
        entry = neighbourhoods._ADJACENCIES[id(batch.edge_index)]
        adj = weakref.ref(entry[3])
        adj_t = weakref.ref(entry[3].transposed()[0])
        del entry, batch
        assert adj() is None and adj_t() is None
    finally:
        gc.enable()


def test_deterministic_is_off_by_default_and_keeps_the_hashes(tmp_path):
    default = compose_config(["model=gcn"], tmp_path)
    assert default.deterministic is None
    assert "deterministic" not in str(config_hash(default))
    on = compose_config(["model=gcn", "deterministic=true"], tmp_path)
    assert config_hash(on) != config_hash(default)
    try:
        set_deterministic(True)
        assert torch.are_deterministic_algorithms_enabled()
        set_deterministic(None)
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_a_deterministic_run_trains_on_the_cpu(tiny):
    from benchmarks.engine.runner import run

    try:
        result = run(tiny("nar", "model=gcn", "deterministic=true", "sensitivity.enabled=false"))
    finally:
        torch.use_deterministic_algorithms(False)
    assert result["config"]["deterministic"] is True
