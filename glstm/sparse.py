"""Sparse neighbourhood patterns and the two sparse products gLSTM needs.

Every gLSTM aggregation is one of two products over a layer's neighbourhoods N(u):

- ``spmm``:  out[h, u] = sum_{v in N(u)} a[h, (u, v)] * x[h, v]       (weighted sum of messages)
- ``sddmm``: s[h, (u, v)] = q[h, u] . k[h, v]                            (one score per entry)

Both are computed with torch's CSR kernels on a block-diagonal matrix with one block per head, so
that neither the forward nor the backward pass ever gathers a feature vector onto every edge.
(torch's own autograd for a sparse matrix with trainable values builds a dense num_nodes x
num_nodes gradient.) Their backward passes are the same two products again, each the other's
adjoint (A^T the transposed pattern, values permuted into its entry order):

    spmm:  d values = sddmm(grad, x),            d x = spmm(values^T, grad) on A^T
    sddmm: d q      = spmm(grad, k),             d k = spmm(grad^T, q) on A^T

Because a backward pass is written with the differentiable products themselves, it can be
differentiated again (double backward: second derivatives, Hessian-vector products), and both
products are ``torch.func``-transformable: ``setup_context``, a forward-mode rule (``jvp``, both
products being bilinear) and a ``vmap`` rule that folds the vmapped dimension into the heads (or,
when the entry weights are the same for the whole vmapped batch, into the features), so
``torch.func.jacrev`` / ``jacfwd`` / ``vmap`` / ``hessian`` run through gLSTM.

Tensors are head-major: node tensors are ``[H, N, F]`` and per-entry tensors ``[H, nnz]``, with
entries in the row-sorted (CSR) order of :class:`Adjacency`.
"""

from __future__ import annotations

import warnings
import weakref

import numpy as np
import torch
from torch import Tensor

# torch warns once that CSR support is "beta"; the products used here are long-standing kernels.
warnings.filterwarnings(
    "ignore", message="Sparse CSR tensor support is in beta", category=UserWarning
)


def _np_self_loops(src: np.ndarray, dst: np.ndarray, num_nodes: int):
    """(row, col) of N(u) = in-neighbours without self edges + one self-loop, sorted by row."""
    keep = src != dst
    if not keep.all():
        src, dst = src[keep], dst[keep]
    loop = np.arange(num_nodes, dtype=src.dtype)
    if dst.size < 2 or (dst[1:] >= dst[:-1]).all():
        # Merge without sorting: row u becomes [u's self-loop, u's edges in input order].
        row = np.empty(dst.size + num_nodes, dtype=src.dtype)
        col = np.empty_like(row)
        loop_pos = _np_compressed(dst, num_nodes)[:-1] + loop
        edge_pos = np.arange(dst.size) + dst + 1
        row[loop_pos], col[loop_pos] = loop, loop
        row[edge_pos], col[edge_pos] = dst, src
        return row, col
    row, col = np.concatenate([dst, loop]), np.concatenate([src, loop])
    perm = np.argsort(row, kind="quicksort")
    return row[perm], col[perm]


def _torch_self_loops(src: Tensor, dst: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``_np_self_loops`` with torch's kernels (where numpy cannot be used, see ``_numpy``)."""
    keep = src != dst
    src, dst = src[keep], dst[keep]
    loop = torch.arange(num_nodes, device=src.device)
    row, col = torch.cat([dst, loop]), torch.cat([src, loop])
    perm = torch.argsort(row)
    return row[perm], col[perm]


def _np_compressed(index: np.ndarray, size: int) -> np.ndarray:
    """CSR row pointer [size + 1] of a sorted index vector."""
    ptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(index, minlength=size), out=ptr[1:])
    return ptr


def _numpy(index: Tensor) -> np.ndarray | None:
    """An index tensor as a numpy array, or None where numpy cannot see it: on an accelerator,
    and inside a ``torch.func`` transform (where no tensor exposes its storage)."""
    if index.device.type != "cpu":
        return None
    try:
        return index.numpy()
    except RuntimeError:
        return None


def _compressed(index: Tensor, size: int) -> Tensor:
    """CSR row pointer [size + 1] of a sorted index tensor."""
    array = _numpy(index)
    if array is not None:
        return torch.from_numpy(_np_compressed(array, size))
    ptr = index.new_zeros(size + 1)
    torch.cumsum(torch.bincount(index, minlength=size), 0, out=ptr[1:])
    return ptr


class Adjacency:
    r"""The neighbourhoods N(u) of one layer as a receiver-major (CSR) sparsity pattern.

    Entry ``(row, col) = (u, v)`` means that receiver ``u`` aggregates sender ``v``. Entries are
    sorted by row; a row's column order is arbitrary. The transposed pattern (needed only by the
    backward passes) and the block-diagonal copies for ``H`` heads are built lazily and cached.
    The index bookkeeping runs on plain (integer, never differentiated) tensors, so it is
    unaffected by autograd and ``torch.func`` transforms of the features.

    Args:
        row (LongTensor): receivers, ``[nnz]``, sorted.
        col (LongTensor): senders, ``[nnz]``.
        num_nodes (int): number of nodes N.
    """

    def __init__(self, row: Tensor, col: Tensor, num_nodes: int):
        self.row, self.col, self.num_nodes = row, col, num_nodes
        self.nnz = row.numel()
        self._cache: dict = {}

    @classmethod
    def with_self_loops(cls, edge_index: Tensor, num_nodes: int) -> Adjacency:
        """N(u) = {v : (v, u) in edge_index, v != u} + {u}: exactly one self-loop per node.

        Args:
            edge_index (LongTensor): ``[2, E]``, row 0 = sender v, row 1 = receiver u.
            num_nodes (int): number of nodes N.
        """
        # numpy: several times faster than torch's CPU kernels for this index bookkeeping
        edges = _numpy(edge_index)
        if edges is None:
            return cls(*_torch_self_loops(edge_index[0], edge_index[1], num_nodes), num_nodes)
        row, col = _np_self_loops(*edges, num_nodes)
        return cls(torch.from_numpy(row), torch.from_numpy(col), num_nodes)

    @property
    def crow(self) -> Tensor:
        """CSR row pointer ``[N + 1]``."""
        if "crow" not in self._cache:
            self._cache["crow"] = _compressed(self.row, self.num_nodes)
        return self._cache["crow"]

    def transposed(self) -> tuple[Adjacency, Tensor]:
        """The sender-major pattern A^T and the entry permutation into its order.

        Returns:
            ``(adj_t, perm)``: entry e of ``adj_t`` is entry ``perm[e]`` of this pattern with row
            and column swapped, so per-entry values ``a [H, nnz]`` become ``a[:, perm]``. The
            transpose of ``adj_t`` is this pattern again: cached both ways, ``adj_t`` holding only
            a weak reference back, so that a pattern and its transpose form no reference cycle
            and are freed as soon as the pattern is (without waiting for the garbage collector).
        """
        cached = self._cache.get("t")
        if cached is not None:
            adj_t, perm = cached
            adj_t = adj_t() if isinstance(adj_t, weakref.ref) else adj_t
            if adj_t is not None:
                return adj_t, perm
        col = _numpy(self.col)
        if col is None:
            perm = torch.argsort(self.col)
        else:
            perm = torch.from_numpy(np.argsort(col, kind="quicksort"))
        adj_t = Adjacency(self.col[perm], self.row[perm], self.num_nodes)
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(self.nnz, device=perm.device)
        self._cache["t"] = (adj_t, perm)
        adj_t._cache["t"] = (weakref.ref(self), inverse)
        return adj_t, perm

    def _transpose(self) -> tuple[Tensor, Tensor, Tensor]:
        """A^T as (row pointer ``[N + 1]``, receivers ``[nnz]``, entry permutation ``[nnz]``)."""
        adj_t, perm = self.transposed()
        return adj_t.crow, adj_t.col, perm

    # -- block-diagonal index arrays for H heads ------------------------------------------------
    def _blocks(self, heads: int) -> tuple[Tensor, Tensor]:
        if heads not in self._cache:
            crow, col = self.crow, self.col
            h = torch.arange(heads, device=col.device)[:, None]
            crow_h = torch.cat(
                [(crow[:-1] + h * self.nnz).reshape(-1), crow.new_full((1,), heads * self.nnz)]
            )
            col_h = (col + h * self.num_nodes).reshape(-1)
            if heads * self.nnz < 2**31:  # 32-bit indices: what the CPU kernels use natively
                crow_h, col_h = crow_h.int(), col_h.int()
            self._cache[heads] = (crow_h, col_h)
        return self._cache[heads]

    def ones(self, heads: int, dtype: torch.dtype) -> Tensor:
        key = ("ones", heads, dtype)
        if key not in self._cache:
            self._cache[key] = torch.ones(heads * self.nnz, dtype=dtype, device=self.row.device)
        return self._cache[key]

    def csr(self, heads: int, values: Tensor, transpose: bool = False) -> Tensor:
        """Block-diagonal ``[H * N, H * N]`` CSR matrix; ``values`` ``[H * nnz]`` in entry order.

        With ``transpose``, the matrix of A^T (``values`` still in this pattern's entry order).
        """
        if transpose:
            adj_t, perm = self.transposed()
            return adj_t.csr(heads, values.view(heads, -1)[:, perm].reshape(-1))
        crow, col = self._blocks(heads)
        n = heads * self.num_nodes
        return torch.sparse_csr_tensor(crow, col, values, (n, n), check_invariants=False)


def _mm(a: Tensor, x: Tensor, out: Tensor | None = None) -> Tensor:
    """Sparse ``a @ x`` written into `out` (default: a fresh tensor), whatever `out` held before.

    ``addmm(..., out=)`` skips the copy of ``a @ x``. Off the CPU, `out` is zero-filled first: on
    CUDA it is handed to cuSPARSE as the input C of ``beta C + a x``, and ``beta = 0`` does not
    stop NaN or Inf left in the buffer from reaching the result (torch's own CSR matmul allocates
    zeros for C too, pytorch#63511). The CPU kernel never reads C when ``beta = 0`` (tested by
    poisoning the buffer with NaN), and the fill would cost a pass over the output.
    """
    if out is None:
        out = x.new_empty(a.shape[0], x.shape[1])
    if x.device.type != "cpu":
        out.zero_()
    return torch.addmm(out, a, x, beta=0.0, out=out)


def _batch_first(t: Tensor, dim: int | None, size: int) -> Tensor:
    """A vmapped tensor with its vmapped dimension first (expanded if it has none)."""
    return t.expand(size, *t.shape) if dim is None else t.movedim(dim, 0)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(values: Tensor | None, x: Tensor, adj: Adjacency) -> Tensor:
        heads, n, f = x.shape
        vals = adj.ones(heads, x.dtype) if values is None else values.reshape(-1)
        return _mm(adj.csr(heads, vals), x.reshape(heads * n, f)).view(heads, n, f)

    @staticmethod
    def setup_context(ctx, inputs, output):
        values, x, adj = inputs
        ctx.adj = adj
        ctx.save_for_backward(values, x if ctx.needs_input_grad[0] else None)
        ctx.save_for_forward(values, x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        values, x = ctx.saved_tensors
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:
            grad_values = sddmm(grad, x, ctx.adj)
        if ctx.needs_input_grad[1]:
            adj_t, perm = ctx.adj.transposed()
            grad_x = spmm(None if values is None else values[:, perm], grad, adj_t)
        return grad_values, grad_x, None

    @staticmethod
    def jvp(ctx, d_values: Tensor | None, d_x: Tensor | None, _):
        values, x = ctx.saved_tensors
        out = None if d_x is None else spmm(values, d_x, ctx.adj)
        if d_values is not None:
            part = spmm(d_values, x, ctx.adj)
            out = part if out is None else out + part
        return out

    @staticmethod
    def vmap(info, in_dims, values, x, adj):
        size, (values_dim, x_dim, _) = info.batch_size, in_dims
        if values is None or values_dim is None:
            # one matrix for the whole batch: fold the batch into the features
            x = _batch_first(x, x_dim, size)  # [B, H, N, F]
            b, h, n, f = x.shape
            out = spmm(values, x.permute(1, 2, 0, 3).reshape(h, n, b * f), adj)
            return out.view(h, n, b, f).permute(2, 0, 1, 3), 0
        # one matrix per batch element: fold the batch into the heads
        values = _batch_first(values, values_dim, size)  # [B, H, nnz]
        x = _batch_first(x, x_dim, size)  # [B, H, N, F]
        b, h, n, f = x.shape
        out = spmm(values.reshape(b * h, -1), x.reshape(b * h, n, f), adj)
        return out.view(b, h, n, f), 0


class _SDDMM(torch.autograd.Function):
    @staticmethod
    def forward(q: Tensor, k: Tensor, adj: Adjacency) -> Tensor:
        heads, n, f = q.shape
        q2, k2 = q.reshape(heads * n, f), k.reshape(heads * n, f)
        pattern = adj.csr(heads, adj.ones(heads, q.dtype))
        scores = torch.sparse.sampled_addmm(pattern, q2, k2.t(), beta=0.0).values()
        return scores.view(heads, adj.nnz)

    @staticmethod
    def setup_context(ctx, inputs, output):
        q, k, adj = inputs
        ctx.adj = adj
        need_q, need_k = ctx.needs_input_grad[:2]
        ctx.save_for_backward(q if need_k else None, k if need_q else None)
        ctx.save_for_forward(q, k)

    @staticmethod
    def backward(ctx, grad: Tensor):
        q, k = ctx.saved_tensors
        grad_q = grad_k = None
        if ctx.needs_input_grad[0]:
            grad_q = spmm(grad, k, ctx.adj)
        if ctx.needs_input_grad[1]:
            adj_t, perm = ctx.adj.transposed()
            grad_k = spmm(grad[:, perm], q, adj_t)
        return grad_q, grad_k, None

    @staticmethod
    def jvp(ctx, d_q: Tensor | None, d_k: Tensor | None, _):
        q, k = ctx.saved_tensors
        out = None if d_q is None else sddmm(d_q, k, ctx.adj)
        if d_k is not None:
            part = sddmm(q, d_k, ctx.adj)
            out = part if out is None else out + part
        return out

    @staticmethod
    def vmap(info, in_dims, q, k, adj):
        size, (q_dim, k_dim, _) = info.batch_size, in_dims
        q, k = _batch_first(q, q_dim, size), _batch_first(k, k_dim, size)  # [B, H, N, F]
        b, h, n, f = q.shape
        out = sddmm(q.reshape(b * h, n, f), k.reshape(b * h, n, f), adj)
        return out.view(b, h, -1), 0


def spmm(values: Tensor | None, x: Tensor, adj: Adjacency) -> Tensor:
    r"""Per-head weighted neighbourhood sum ``out[h, u] = sum_{v in N(u)} a[h, (u, v)] x[h, v]``.

    Differentiable any number of times, and transformable by ``torch.func``.

    Args:
        values (Tensor or None): entry weights ``[H, nnz]`` (``None``: all ones).
        x (Tensor): sender features ``[H, N, F]``.
        adj (Adjacency): the neighbourhoods.

    Returns:
        Tensor ``[H, N, F]``.
    """
    values, x = _full_precision(values, x)
    return _SpMM.apply(values, x, adj)


def sddmm(q: Tensor, k: Tensor, adj: Adjacency) -> Tensor:
    r"""Per-entry scores ``s[h, (u, v)] = q[h, u] . k[h, v]``.

    Differentiable any number of times, and transformable by ``torch.func``.

    Args:
        q (Tensor): receiver vectors ``[H, N, F]``.
        k (Tensor): sender vectors ``[H, N, F]``.
        adj (Adjacency): the neighbourhoods.

    Returns:
        Tensor ``[H, nnz]`` in entry order.
    """
    q, k = _full_precision(q, k)
    return _SDDMM.apply(q, k, adj)


def _full_precision(*tensors: Tensor | None) -> tuple[Tensor | None, ...]:
    """Half-precision inputs (from mixed precision) as float32: torch's CSR kernels lack
    bfloat16 on CPU, and the memory's sums are better kept in float32 anyway."""
    return tuple(
        t.float() if t is not None and t.dtype in (torch.bfloat16, torch.float16) else t
        for t in tensors
    )
