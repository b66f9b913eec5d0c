r"""The gLSTM node memory in its two equivalent forms: recurrent and parallel.

Within a block, layer l (1-based) writes to every node's memory and then reads it:

.. math::
    C_u(l) = f_u(l) C_u(l-1) + \sum_{v \in N_l(u)} i_{vu}(l)\, v_v(l) k_v(l)^\top, \qquad
    n_u(l) = f_u(l) n_u(l-1) + \sum_{v \in N_l(u)} i_{vu}(l)\, k_v(l),

    \mathrm{num}_u(l) = C_u(l) q_u(l), \qquad \mathrm{den}_u(l) = n_u(l) \cdot q_u(l),

from C(0) = 0 and n(0) = 1 (``n_init="ones"``) or 0 (``"zeros"``). The input gate i_vu is either per
sender (``ego``: folded into [v_v; 1] before aggregation) or per entry (``neighbour``, ``edge``).

- :class:`RecurrentMemory` carries the state S_u = [C_u; n_u^T] ``[H, N, d_v + 1, d_k]`` from
  layer to layer and aggregates the per-node matrices i_v [v_v; 1] k_v^T with one sparse matrix
  product (never one d_v x d_k matrix per edge). Cost per layer: O((nnz + N) H (d_v + 1) d_k).
- :class:`ParallelMemory` never builds a d_v x d_k matrix. Unrolling the recursion,

  .. math::
      \mathrm{num}_u(l) = \sum_{s \le l} D(u, s, l) \sum_{v \in N_s(u)} i_{vu}(s)\, v_v(s)\,
      (k_v(s) \cdot q_u(l)), \qquad D(u, s, l) = \prod_{r=s+1}^{l} f_u(r),

  and the same for den with v replaced by 1, plus D(u, 0, l) sum(q_u(l)) for the n = 1 start. Each
  f_u(r) = exp(log f_u(r)) with log f_u(r) = f~_u(r) - m_u(r) + m_u(r-1) <= 0, so log D is a sum of
  non-positive terms (the telescoped f~ sum - m_u(l) + m_u(s)), and D is in [0, 1]. Cost of layer l:
  O(sum_{s <= l} nnz_s H (d_k + d_v + 1)) for one score per entry and one weighted sum.

Both forms expose the same ``step`` and ``state`` and agree to float32 rounding.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from glstm.node_products import matvec, outer
from glstm.sparse import Adjacency, sddmm, spmm

#: recomputes a layer's keys ``[H, N, d_k]`` and values ``[H, N, d_v]`` from its input
Remake = Callable[[], tuple[Tensor, Tensor]]


class _Placeholder(torch.autograd.Function):
    """A stand-in for a tensor that holds one element instead of its data; gradients pass to the
    tensor unchanged."""

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:
        return t.new_zeros(()).expand(t.shape)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad


class _Regenerated(torch.autograd.Function):
    """The data of two placeholders, made again by ``make``; gradients pass to the placeholders
    unchanged (so they add up where they would on the original tensors, in the same order)."""

    @staticmethod
    def forward(ctx, k: Tensor, vv: Tensor, make: Callable[[], tuple[Tensor, Tensor]]):
        return make()

    @staticmethod
    def backward(ctx, grad_k: Tensor, grad_vv: Tensor):
        return grad_k, grad_vv, None


class Memory:
    """Interface of a block's memory: created empty, then one :meth:`step` per layer.

    Args:
        num_nodes (int): N.
        heads (int): H.
        key_dim (int): d_k.
        value_dim (int): d_v.
        n_init (str): ``"ones"`` (the public code) or ``"zeros"``.
        like (Tensor): a tensor with the dtype and device to use.
    """

    def __init__(
        self, num_nodes: int, heads: int, key_dim: int, value_dim: int, n_init: str, like: Tensor
    ):
        self.num_nodes, self.heads, self.key_dim, self.value_dim = (
            num_nodes,
            heads,
            key_dim,
            value_dim,
        )
        self.n_init = n_init
        #: keep each layer's keys and values as placeholders and make them again from the layer's
        #: input where they are read (set by a recomputing block; the parallel form only)
        self.regenerate = False
        #: stabiliser m_u of the last layer, ``[H, N]`` (0 before the first layer)
        self.m = like.new_zeros(heads, num_nodes)

    def step(
        self,
        adj: Adjacency,
        k: Tensor,
        v: Tensor,
        log_f: Tensor | None,
        node_gate: Tensor | None,
        entry_gate: Tensor | None,
        q: Tensor,
        remake: Remake | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Write one layer into the memory, then read it with the queries.

        Args:
            adj (Adjacency): this layer's neighbourhoods N_l(u).
            k (Tensor): keys ``[H, N, d_k]``.
            v (Tensor): values ``[H, N, d_v]``.
            log_f (Tensor or None): log forget gate ``[H, N]`` (``None``: forget gate off, f = 1).
            node_gate (Tensor or None): per-sender input gate ``[H, N]`` (ego variant).
            entry_gate (Tensor or None): per-entry input gate ``[H, nnz]`` (neighbour, edge).
            q (Tensor): queries ``[H, N, d_k]``.
            remake (callable or None): recomputes ``(k, v)`` equal to these, for ``regenerate``.

        Returns:
            ``(num, den)``: C_u q_u ``[H, N, d_v]`` and n_u . q_u ``[H, N]``.
        """
        raise NotImplementedError

    def snapshot(self) -> Memory:
        """A copy of the memory as it is now, sharing its tensors: steps of either one leave the
        other as it was (tensors are never changed in place, only replaced)."""
        return copy.copy(self)

    def load(self, other: Memory) -> None:
        """Take over the state of ``other``, a memory of the same class (a stepped snapshot)."""
        vars(self).update(vars(other))

    def state(self) -> tuple[Tensor, Tensor, Tensor]:
        """The memory after the last step.

        Returns:
            C ``[N, H, d_v, d_k]``, n ``[N, H, d_k]``, m ``[N, H]``.
        """
        raise NotImplementedError

    @staticmethod
    def _values(v: Tensor, node_gate: Tensor | None) -> Tensor:
        """[v; 1] per node, times the per-sender gate: ``[H, N, d_v + 1]``."""
        vv = torch.cat([v, v.new_ones(v.shape[:-1] + (1,))], dim=-1)
        return vv if node_gate is None else vv * node_gate[..., None]

    def _initial_state(self, like: Tensor) -> Tensor:
        s = like.new_zeros(self.heads, self.num_nodes, self.value_dim + 1, self.key_dim)
        if self.n_init == "ones":
            s[:, :, -1, :] = 1.0
        return s

    def _to_node_major(self, s: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        s = s.transpose(0, 1)  # [N, H, d_v + 1, d_k]
        return s[:, :, :-1, :], s[:, :, -1, :], self.m.t()


class RecurrentMemory(Memory):
    """Carries S = [C; n^T] ``[H, N, d_v + 1, d_k]`` explicitly (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.s: Tensor | None = None

    def aggregate(self, adj: Adjacency, outer: Tensor, entry_gate: Tensor | None) -> Tensor:
        """sum_{v in N(u)} gate * outer_v, ``outer`` ``[H, N, F]`` -> ``[H, N, F]``."""
        return spmm(entry_gate, outer, adj)

    def step(self, adj, k, v, log_f, node_gate, entry_gate, q, remake=None):
        heads, n, dk = k.shape
        products = outer(self._values(v, node_gate), k)  # [H, N, d_v + 1, d_k]
        written = self.aggregate(adj, products.view(heads, n, -1), entry_gate).view(products.shape)
        s = self._initial_state(k) if self.s is None else self.s
        if log_f is None:
            self.s = s + written
        else:  # f S + written in one pass, with S flat per node
            f = torch.exp(log_f)[..., None]
            self.s = torch.addcmul(written.view(heads, n, -1), f, s.view(heads, n, -1)).view(
                s.shape
            )
        read = matvec(self.s, q)  # [H, N, d_v + 1]
        return read[..., :-1], read[..., -1]

    def state(self):
        return self._to_node_major(self.s)


class ParallelMemory(Memory):
    """Keeps each layer's keys, gated values and decay instead of C (see the module docstring).

    With ``regenerate``, a write keeps placeholders of k and [v; 1] and a function that makes them
    again from the layer's input; each read of an earlier layer then runs under
    ``torch.utils.checkpoint``, so that its remade k and v live only while that read runs (in the
    forward and in the backward pass). Gradients reach k and v through the placeholders, summed in
    the same order as without it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # one entry per layer s written so far:
        # [adj, k, gated [v; 1], entry gate, log D(., s, l), remake (None: k and [v; 1] are data)]
        self.writes: list[list] = []
        self.log_decay0: Tensor | None = None  # log D(u, 0, l) ``[H, N]``, for the n = 1 start

    def snapshot(self) -> ParallelMemory:
        copied = super().snapshot()
        copied.writes = [list(w) for w in self.writes]  # a step replaces each write's log D
        return copied

    def step(self, adj, k, v, log_f, node_gate, entry_gate, q, remake=None):
        if log_f is not None:
            for w in self.writes:
                w[4] = log_f if w[4] is None else w[4] + log_f
            self.log_decay0 = log_f if self.log_decay0 is None else self.log_decay0 + log_f
        # contiguous once, so that no read below copies them (or saves a copy for backward)
        k, vv = k.contiguous(), self._values(v, node_gate)
        q = q.contiguous()
        read = None
        for w_adj, w_k, w_vv, w_gate, w_log_decay, w_make in self.writes:
            if w_make is None:
                part = self._read(q, w_adj, w_k, w_vv, w_gate, w_log_decay)
            else:
                part = checkpoint(
                    self._read_regenerated,
                    q,
                    w_adj,
                    w_k,
                    w_vv,
                    w_gate,
                    w_log_decay,
                    w_make,
                    use_reentrant=False,
                )
            read = part if read is None else read + part
        part = self._read(q, adj, k, vv, entry_gate, None)
        read = part if read is None else read + part
        if self.regenerate and remake is not None:
            make = self._values_maker(remake, node_gate)
            write = [adj, _Placeholder.apply(k), _Placeholder.apply(vv), entry_gate, None, make]
        else:
            write = [adj, k, vv, entry_gate, None, None]
        self.writes.append(write)
        num, den = read[..., :-1], read[..., -1]
        if self.n_init == "ones":
            qsum = q.sum(-1)
            den = den + (qsum if self.log_decay0 is None else torch.exp(self.log_decay0) * qsum)
        return num, den

    @classmethod
    def _values_maker(cls, remake: Remake, node_gate: Tensor | None):
        def make() -> tuple[Tensor, Tensor]:
            k, v = remake()
            return k.contiguous(), cls._values(v, node_gate)

        return make

    @classmethod
    def _read(cls, q, adj, k, vv, gate, log_decay) -> Tensor:
        """One write's part of the read, ``[H, N, d_v + 1]``."""
        weight = cls._entry_weight(adj, gate, log_decay)  # i_vu(s) D(u, s, l)
        score = sddmm(q, k, adj)  # [H, nnz_s]: k_v(s) . q_u(l)
        if weight is not None:
            score = score * weight
        return spmm(score, vv, adj)

    @classmethod
    def _read_regenerated(cls, q, adj, k, vv, gate, log_decay, make) -> Tensor:
        k, vv = _Regenerated.apply(k, vv, make)
        return cls._read(q, adj, k, vv, gate, log_decay)

    @staticmethod
    def _keys_values(write: list) -> tuple[Tensor, Tensor]:
        _, k, vv, _, _, make = write
        return (k, vv) if make is None else _Regenerated.apply(k, vv, make)

    @staticmethod
    def _entry_weight(adj: Adjacency, gate: Tensor | None, log_decay: Tensor | None):
        """Per-entry gate times the receiver's decay D(u, s, l), ``[H, nnz]`` (None: all ones)."""
        if log_decay is None:
            return gate
        decay = torch.exp(log_decay)[:, adj.row]
        return decay if gate is None else gate * decay

    def state(self):
        """Materialises C and n (for tests and inspection; the forward pass never does)."""
        s = None
        for w in self.writes:
            w_adj, w_gate, w_log_decay = w[0], w[3], w[4]
            w_k, w_vv = self._keys_values(w)
            if s is None:
                s = self._initial_state(w_k)
                if self.log_decay0 is not None:
                    s = s * torch.exp(self.log_decay0)[..., None, None]
            heads, n, dk = w_k.shape
            outer = (w_vv[..., :, None] * w_k[..., None, :]).view(heads, n, -1)
            weight = self._entry_weight(w_adj, w_gate, w_log_decay)
            s = s + spmm(weight, outer, w_adj).view(s.shape)
        return self._to_node_major(s)


def form_costs(
    nnz: list[int], num_nodes: int, heads: int, key_dim: int, value_dim: int, entry_gate: bool
):
    """Multiply-adds of one block in each form, forward pass (backward is about twice that in both).

    Args:
        nnz (list[int]): entries per layer (edges plus self-loops), ``len = L``.
        num_nodes (int): N.
        heads, key_dim, value_dim (int): H, d_k, d_v.
        entry_gate (bool): whether the input gate is per entry (adds a weighted-entry product to the
            recurrent backward pass).

    Returns:
        ``{"recurrent": int, "parallel": int}``.
    """
    state = heads * (value_dim + 1) * key_dim
    edge_factor = 1.5 if entry_gate else 1.0
    recurrent = sum(edge_factor * e * state + 3 * num_nodes * state for e in nnz)
    # layer l reads every layer s <= l: one score (d_k) and one weighted sum (d_v + 1) per entry
    read_entries = sum(sum(nnz[: layer + 1]) for layer in range(len(nnz)))
    parallel = read_entries * heads * (key_dim + value_dim + 1)
    return {"recurrent": int(recurrent), "parallel": int(parallel)}
