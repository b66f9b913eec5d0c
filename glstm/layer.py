r"""One gLSTM message-passing layer (Blayney et al., "gLSTM: Mitigating Over-Squashing by Increasing
Storage Capacity", ICLR 2026)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import scatter

from benchmarks.core.contract import NORMS, make_activation
from glstm.head_norm import HeadNorm
from glstm.memory import Memory
from glstm.sparse import Adjacency, spmm

INPUT_NORMS = {**NORMS, "rms": nn.RMSNorm}  # the contract's norms and RMSNorm
HIDDEN_NORMS = ("group", "none")
INPUT_GATES = ("ego", "neighbour", "edge")
# Entries of a stabiliser max within this fraction of max(|max|, 1) below the max count as tied
TIE_TOLERANCE = 2.0**-16


def neighbourhood_max(values: Tensor, adj: Adjacency) -> Tensor:
    r"""Per-head maximum over each neighbourhood, ``out[h, u] = max_{v in N(u)} values[h, (u, v)]``,
    with a subgradient that does not depend on rounding noise.

    Where several entries of N(u) attain the maximum, the max has no derivative; its gradient is
    split evenly among the tied entries (the mean of their gradients, the subgradient torch's own
    max takes at exact ties and the only one invariant under permuting them). Entries count as
    tied when within TIE_TOLERANCE max(|out|, 1) of the maximum, so that mathematically equal
    entries (nodes with identical inputs) stay tied after float rounding. That rounding differs
    with the batch: a dense matrix product may round a row differently depending on its position
    and on the number of rows, so a strict comparison would send the whole gradient to whichever
    tied entry happens to be an ulp larger, a different one alone and in a batch. The forward
    value is the exact maximum.

    Args:
        values (Tensor): per-entry values ``[H, nnz]`` in ``adj``'s entry order.
        adj (Adjacency): the neighbourhoods (every N(u) non-empty).

    Returns:
        Tensor ``[H, N]``.
    """
    n, row = adj.num_nodes, adj.row
    top = scatter(values.detach(), row, dim=1, dim_size=n, reduce="max")  # [H, N]
    top_entry = top[:, row]  # [H, nnz]
    tied = (top_entry - values.detach()) <= TIE_TOLERANCE * top_entry.abs().clamp(min=1.0)
    tied = tied.to(values.dtype)
    share = tied / scatter(tied, row, dim=1, dim_size=n, reduce="sum")[:, row]  # [H, nnz]
    # exactly `top` in value (values - values.detach() is 0); d out / d values = share
    return top + scatter(share * (values - values.detach()), row, dim=1, dim_size=n, reduce="sum")


class GLSTMLayer(nn.Module):
    r"""One gLSTM layer: every node writes key -> value pairs of its neighbourhood into a matrix
    memory (an xLSTM "mLSTM" cell whose time axis is the layer index) and reads it with a query.

    For every node u, with x the layer input and N(u) this layer's neighbourhood (incoming edges or,
    with k-hop aggregation, the nodes at distance exactly l, plus one self-loop):

    .. math::
        \hat x &= \mathrm{Dropout}(\mathrm{InputNorm}(x)) \\
        k_v &= W_k \hat x_v / \sqrt{d_k},\quad v_v = W_v \hat x_v,\quad
        \tilde f_v = W_f \hat x_v,\quad \tilde o_v = W_o \hat x_v,\quad
        \tilde i_v = W_i \hat x_v \ \ (\tilde i_{vu} = W_i [\hat x_v; \hat x_u]\ \text{for edge}) \\
        m_u &= \max(\tilde f_u + m_u^{prev},\ \max_{v \in N(u)} \tilde i_{vu}) \\
        i_{vu} &= \exp(\tilde i_v - m_v)\ \text{(ego)},\quad \exp(\tilde i_v - m_u)\
                  \text{(neighbour)},\quad \exp(\tilde i_{vu} - m_u)\ \text{(edge)} \\
        f_u &= \exp(\tilde f_u - m_u + m_u^{prev}),\quad o_u = \sigma(\tilde o_u) \\
        C_u &= f_u C_u^{prev} + \sum_{v \in N(u)} i_{vu} v_v k_v^\top,\quad
        n_u = f_u n_u^{prev} + \sum_{v \in N(u)} i_{vu} k_v \\
        q_u &= W_q [\hat x_u; \textstyle\sum_{v \in N(u), v \ne u} \hat x_v] \\
        h_u &= o_u \odot \frac{C_u q_u}{\max(n_u \cdot q_u, 1)}\ \text{(per head)},\quad
        x'_u = x_u + \mathrm{Act}(W_{out}\, \mathrm{Dropout}(\mathrm{GroupNorm}_H(h_u)))

    Shapes per node: k, q ``[H, d_k]``; v ``[H, d_v]``; gates ``[H]``; o ``[H * d_v]``;
    C ``[H, d_v, d_k]``; n ``[H, d_k]``; m ``[H]``. All linear maps have biases. Every exponent is
    <= 0 (m_u bounds f~_u + m_u^prev and every i~ aggregated at u, and u is in its own N(u)), so no
    gate overflows. The memory itself (C, n, m) lives in a :class:`~glstm.memory.Memory` passed in
    by the block, which computes the write and the read in the recurrent or the parallel form.

    Quirks of the public code are defaults, each behind an option: the ego input gate is
    stabilised by the *sender's* own m_v (``input_gate="neighbour"`` is the same gate stabilised by
    the receiver's m_u); n starts at ones (``n_init`` in :class:`~glstm.GLSTM`); n . q is clamped
    from below without an absolute value (``normaliser_abs``). A consequence of the first: m_v is a
    max over v's own neighbourhood, so with the ego gate u's output also depends on nodes two hops
    away per layer (through i_v), where the other gates keep the plain one-hop receptive field.
    A switched-off gate is 1, as in the public code; m is still computed (it stabilises the others).

    m_u is not differentiable where several entries of N(u) attain the inner max (nodes with
    identical inputs do); there the gradient is split evenly among the entries within float
    rounding of the max (:func:`neighbourhood_max`), so that a derivative of the output (the
    sensitivity measurements) does not depend on which graphs share the batch.

    Args:
        dim (int): node width d (input and output).
        heads (int): H.
        memory_dim (int): key/query size per head d_k.
        value_dim (int): value size per head d_v.
        input_gate (str): ``"ego"``, ``"neighbour"`` or ``"edge"``.
        forget_gate (bool): use the forget gate (``False``: f = 1).
        input_gating (bool): use the input gate (``False``: i = 1; m is still computed).
        output_gate (bool): use the output gate (``False``: o = 1).
        normaliser_abs (bool): read with max(|n . q|, 1) instead of max(n . q, 1).
        input_norm (str): ``"none"``, ``"layer"``, ``"rms"`` or ``"batch"``.
        hidden_norm (str): ``"group"`` (GroupNorm with H groups on h) or ``"none"``.
        act (str): activation after the output projection (``make_activation``).
        dropout (float): dropout on x^ and on the normalised h.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        memory_dim: int,
        value_dim: int,
        *,
        input_gate: str = "ego",
        forget_gate: bool = True,
        input_gating: bool = True,
        output_gate: bool = True,
        normaliser_abs: bool = False,
        input_norm: str = "none",
        hidden_norm: str = "group",
        act: str = "none",
        dropout: float = 0.0,
    ):
        super().__init__()
        self.dim, self.heads, self.key_dim, self.value_dim = dim, heads, memory_dim, value_dim
        self.input_gate, self.forget_gate, self.input_gating = input_gate, forget_gate, input_gating
        self.output_gate, self.normaliser_abs = output_gate, normaliser_abs
        h, dk, dv = heads, memory_dim, value_dim
        # W_k, W_v, W_f, W_o (and W_i for the per-sender gates) stacked into one matrix
        node_sizes = [h * dk, h * dv, h, h * dv] + ([h] if input_gate != "edge" else [])
        self.lin_node = nn.Linear(dim, sum(node_sizes))
        self.lin_edge_gate = nn.Linear(2 * dim, h) if input_gate == "edge" else None
        self.lin_q = nn.Linear(2 * dim, h * dk)
        self.lin_out = nn.Linear(h * dv, dim)
        self.input_norm = INPUT_NORMS[input_norm](dim)
        self.hidden_norm = HeadNorm(h, h * dv) if hidden_norm == "group" else nn.Identity()
        self.act = make_activation(act)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.node_sizes = node_sizes
        scale = torch.ones(sum(node_sizes))
        scale[: h * dk] = 1.0 / math.sqrt(dk)
        self.register_buffer("node_scale", scale, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor, adj: Adjacency, memory: Memory) -> Tensor:
        """
        Args:
            x (Tensor): node states ``[N, d]``.
            adj (Adjacency): this layer's neighbourhoods (with one self-loop per node).
            memory (Memory): the block's memory; updated in place.

        Returns:
            Tensor ``[N, d]``: x + the layer's output.
        """
        n, h, dk, dv = x.shape[0], self.heads, self.key_dim, self.value_dim
        xh = self.dropout(self.input_norm(x))  # [N, d]

        def heads_first(t: Tensor, width: int) -> Tensor:  # [N, H * width] -> [H, N, width]
            return t.view(n, h, width).transpose(0, 1).contiguous()

        projections = self.projections()
        parts = [F.linear(xh, weight, bias) for weight, bias in projections]
        k, v = heads_first(parts[0], dk), heads_first(parts[1], dv)

        def remake() -> tuple[Tensor, Tensor]:
            (w_k, b_k), (w_v, b_v) = projections[:2]
            return heads_first(F.linear(xh, w_k, b_k), dk), heads_first(F.linear(xh, w_v, b_v), dv)

        f_pre, o_pre = parts[2].t(), parts[3]  # [H, N], [N, H * d_v]
        q_self, q_neighbours = parts[-2], parts[-1]

        # input-gate pre-activations per entry (u, v) of N(u): [H, nnz]
        if self.input_gate == "edge":
            from_sender, from_receiver = parts[4].t(), parts[5].t()
            i_entry = from_sender[:, adj.col] + from_receiver[:, adj.row]
        else:
            i_node = parts[4].t()  # [H, N]
            i_entry = i_node[:, adj.col]

        m_prev = memory.m
        i_max = neighbourhood_max(i_entry, adj)  # [H, N]
        m = torch.maximum(f_pre + m_prev, i_max)  # [H, N]
        memory.m = m

        node_gate = entry_gate = None
        if self.input_gating:
            if self.input_gate == "ego":
                node_gate = torch.exp(i_node - m)  # the sender's own m_v (public code)
            else:
                entry_gate = torch.exp(i_entry - m[:, adj.row])
        log_f = f_pre - m + m_prev if self.forget_gate else None

        # q = W_q [x^_u; sum_{v in N(u), v != u} x^_v], with the neighbour sum taken after W_q
        q = q_self + spmm(None, q_neighbours[None], adj)[0]
        num, den = memory.step(
            adj, k, v, log_f, node_gate, entry_gate, heads_first(q, dk), remake=remake
        )
        if self.normaliser_abs:
            den = den.abs()
        hidden = num / den.clamp(min=1.0)[..., None]  # [H, N, d_v]
        hidden = hidden.transpose(0, 1).reshape(n, h * dv)
        if self.output_gate:
            hidden = torch.sigmoid(o_pre) * hidden
        out = self.dropout(self.hidden_norm(hidden))
        return x + self.act(self.lin_out(out))

    def projections(self) -> list[tuple[Tensor, Tensor | None]]:
        r"""Weight and bias of every per-node projection of x^, one pair per part.

        Parts: W_k / sqrt(d_k), W_v, W_f, W_o, then W_i (ego, neighbour) or its sender and receiver
        halves (edge: i~_vu = W_i^s x^_v + W_i^r x^_u + b_i), then W_q^a - W_q^b and W_q^b, where
        W_q = [W_q^a | W_q^b]. The last two give the query by linearity with one self-loop per node:
        q_u = W_q^a x^_u + W_q^b (sum_{v in N(u)} x^_v - x^_u) + b_q
            = (W_q^a - W_q^b) x^_u + b_q + sum_{v in N(u)} W_q^b x^_v.
        Each part is a matmul of its own: its output is contiguous, and the pointwise ops and head
        transposes that follow run several times faster than on column slices of one wide output.
        """
        d = self.dim
        w_q, b_q = self.lin_q.weight, self.lin_q.bias
        weights = (self.lin_node.weight * self.node_scale[:, None]).split(self.node_sizes)
        biases = (self.lin_node.bias * self.node_scale).split(self.node_sizes)
        parts = list(zip(weights, biases, strict=True))
        if self.lin_edge_gate is not None:
            w_i = self.lin_edge_gate.weight
            parts += [(w_i[:, :d], None), (w_i[:, d:], self.lin_edge_gate.bias)]
        return parts + [(w_q[:, :d] - w_q[:, d:], b_q), (w_q[:, d:], None)]

    def extra_repr(self) -> str:
        return (
            f"heads={self.heads}, memory_dim={self.key_dim}, value_dim={self.value_dim}, "
            f"input_gate={self.input_gate!r}, forget_gate={self.forget_gate}, "
            f"input_gating={self.input_gating}, output_gate={self.output_gate}, "
            f"normaliser_abs={self.normaliser_abs}"
        )
