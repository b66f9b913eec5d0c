"""Sparse neighbourhood patterns and the two sparse products gLSTM needs.

Every gLSTM aggregation is one of two products over a layer's neighbourhoods N(u):

- ``spmm``:  out[h, u] = sum_{v in N(u)} a[h, (u, v)] * x[h, v]       (weighted sum of messages)
- ``sddmm``: s[h, (u, v)] = q[h, u] . k[h, v]                            (one score per entry)

Both are computed with torch's CSR kernels on a block-diagonal matrix with one block per head, and
both have hand-written backward passes (each is the other's adjoint), so that neither the forward
nor the backward pass ever gathers a feature vector onto every edge. (torch's own autograd for a
sparse matrix with trainable values builds a dense num_nodes x num_nodes gradient.)

Tensors are head-major: node tensors are ``[H, N, F]`` and per-entry tensors ``[H, nnz]``, with
entries in the row-sorted (CSR) order of :class:`Adjacency`.
"""

from __future__ import annotations

import warnings

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
    """``_np_self_loops`` with torch's kernels, for tensors that live on an accelerator."""
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


def _compressed(index: Tensor, size: int) -> Tensor:
    """CSR row pointer [size + 1] of a sorted index tensor."""
    if index.device.type == "cpu":
        return torch.from_numpy(_np_compressed(index.numpy(), size))
    ptr = index.new_zeros(size + 1)
    torch.cumsum(torch.bincount(index, minlength=size), 0, out=ptr[1:])
    return ptr


class Adjacency:
    r"""The neighbourhoods N(u) of one layer as a receiver-major (CSR) sparsity pattern.

    Entry ``(row, col) = (u, v)`` means that receiver ``u`` aggregates sender ``v``. Entries are
    sorted by row; a row's column order is arbitrary. The transposed pattern (needed only by the
    backward passes) and the block-diagonal copies for ``H`` heads are built lazily and cached.

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
        if edge_index.device.type != "cpu":
            return cls(*_torch_self_loops(edge_index[0], edge_index[1], num_nodes), num_nodes)
        # numpy: several times faster than torch's CPU kernels for this index bookkeeping
        row, col = _np_self_loops(*edge_index.numpy(), num_nodes)
        return cls(torch.from_numpy(row), torch.from_numpy(col), num_nodes)

    @property
    def crow(self) -> Tensor:
        """CSR row pointer ``[N + 1]``."""
        if "crow" not in self._cache:
            self._cache["crow"] = _compressed(self.row, self.num_nodes)
        return self._cache["crow"]

    # -- block-diagonal index arrays for H heads ------------------------------------------------
    def _transpose(self) -> tuple[Tensor, Tensor, Tensor]:
        """Sender-major pattern: (row pointer, receivers, entry permutation)."""
        if "t" not in self._cache:
            if self.col.device.type == "cpu":
                perm = torch.from_numpy(np.argsort(self.col.numpy(), kind="quicksort"))
            else:
                perm = torch.argsort(self.col)
            self._cache["t"] = (_compressed(self.col[perm], self.num_nodes), self.row[perm], perm)
        return self._cache["t"]

    def _blocks(self, heads: int, transpose: bool) -> tuple[Tensor, Tensor, Tensor | None]:
        key = (heads, transpose)
        if key not in self._cache:
            if transpose:
                crow, col, perm = self._transpose()
            else:
                crow, col, perm = self.crow, self.col, None
            h = torch.arange(heads, device=col.device)[:, None]
            crow_h = torch.cat(
                [(crow[:-1] + h * self.nnz).reshape(-1), crow.new_full((1,), heads * self.nnz)]
            )
            col_h = (col + h * self.num_nodes).reshape(-1)
            perm_h = None if perm is None else (perm + h * self.nnz).reshape(-1)
            if heads * self.nnz < 2**31:  # 32-bit indices: what the CPU kernels use natively
                crow_h, col_h = crow_h.int(), col_h.int()
            self._cache[key] = (crow_h, col_h, perm_h)
        return self._cache[key]

    def ones(self, heads: int, dtype: torch.dtype) -> Tensor:
        key = ("ones", heads, dtype)
        if key not in self._cache:
            self._cache[key] = torch.ones(heads * self.nnz, dtype=dtype, device=self.row.device)
        return self._cache[key]

    def csr(self, heads: int, values: Tensor, transpose: bool = False) -> Tensor:
        """Block-diagonal ``[H * N, H * N]`` CSR matrix; ``values`` ``[H * nnz]`` in entry order."""
        crow, col, perm = self._blocks(heads, transpose)
        if perm is not None:
            values = values[perm]
        n = heads * self.num_nodes
        return torch.sparse_csr_tensor(crow, col, values, (n, n), check_invariants=False)


def _mm(a: Tensor, x: Tensor) -> Tensor:
    """Sparse ``a @ x`` into a fresh tensor (with ``out=``, torch skips a zero fill and a copy)."""
    out = x.new_empty(a.shape[0], x.shape[1])
    return torch.addmm(out, a, x, beta=0.0, out=out)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: Tensor | None, x: Tensor, adj: Adjacency) -> Tensor:
        heads, n, f = x.shape
        vals = adj.ones(heads, x.dtype) if values is None else values.reshape(-1)
        x2 = x.reshape(heads * n, f)
        ctx.adj = adj
        ctx.save_for_backward(values, x2 if ctx.needs_input_grad[0] else None)
        return _mm(adj.csr(heads, vals), x2).view(heads, n, f)

    @staticmethod
    def backward(ctx, grad: Tensor):
        adj = ctx.adj
        values, x2 = ctx.saved_tensors
        heads, n, f = grad.shape
        vals = adj.ones(heads, grad.dtype) if values is None else values.reshape(-1)
        g2 = grad.reshape(heads * n, f)
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:
            pattern = adj.csr(heads, adj.ones(heads, grad.dtype))
            grad_values = torch.sparse.sampled_addmm(pattern, g2, x2.t(), beta=0.0).values()
            grad_values = grad_values.view(heads, adj.nnz)
        if ctx.needs_input_grad[1]:
            grad_x = _mm(adj.csr(heads, vals, transpose=True), g2).view(heads, n, f)
        return grad_values, grad_x, None


class _SDDMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, adj: Adjacency) -> Tensor:
        heads, n, f = q.shape
        q2, k2 = q.reshape(heads * n, f), k.reshape(heads * n, f)
        ctx.adj = adj
        ctx.save_for_backward(q2, k2)
        pattern = adj.csr(heads, adj.ones(heads, q.dtype))
        return (
            torch.sparse.sampled_addmm(pattern, q2, k2.t(), beta=0.0).values().view(heads, adj.nnz)
        )

    @staticmethod
    def backward(ctx, grad: Tensor):
        adj = ctx.adj
        q2, k2 = ctx.saved_tensors
        heads = grad.shape[0]
        g = grad.reshape(-1)
        grad_q = grad_k = None
        if ctx.needs_input_grad[0]:
            grad_q = _mm(adj.csr(heads, g), k2).view(heads, adj.num_nodes, -1)
        if ctx.needs_input_grad[1]:
            grad_k = _mm(adj.csr(heads, g, transpose=True), q2).view(heads, adj.num_nodes, -1)
        return grad_q, grad_k, None


def spmm(values: Tensor | None, x: Tensor, adj: Adjacency) -> Tensor:
    r"""Per-head weighted neighbourhood sum ``out[h, u] = sum_{v in N(u)} a[h, (u, v)] x[h, v]``.

    Args:
        values (Tensor or None): entry weights ``[H, nnz]`` (``None``: all ones).
        x (Tensor): sender features ``[H, N, F]``.
        adj (Adjacency): the neighbourhoods.

    Returns:
        Tensor ``[H, N, F]``.
    """
    return _SpMM.apply(values, x, adj)


def sddmm(q: Tensor, k: Tensor, adj: Adjacency) -> Tensor:
    r"""Per-entry scores ``s[h, (u, v)] = q[h, u] . k[h, v]``.

    Args:
        q (Tensor): receiver vectors ``[H, N, F]``.
        k (Tensor): sender vectors ``[H, N, F]``.
        adj (Adjacency): the neighbourhoods.

    Returns:
        Tensor ``[H, nnz]`` in entry order.
    """
    return _SDDMM.apply(q, k, adj)
