r"""A stack of recurrent cells whose time axis is the layer index: the scalar-memory members of the
xLSTM family on graphs, graph sLSTM and graph LSTM.

Layer l (1-based), for every node u, with x the layer input, s_u the cell state carried over from
layer l - 1 (none before the first layer) and N_l(u) the layer's senders (the graph's incoming
edges; with ``khop`` the nodes at distance exactly l; in a fully-adjacent last layer every node of
the graph into its readout node):

.. math::
    \hat x &= \mathrm{Dropout}(\mathrm{InputNorm}(x)) \\
    a_u &= [\hat x_u ;\ \mathrm{AGG}_{v \in N_l(u)} \hat x_v]
        \qquad (\mathrm{AGG}: \text{sum or mean; PyG's SimpleConv}) \\
    h_u, s_u &= \mathrm{Cell}_l(a_u, s_u) \\
    x'_u &= x_u + \mathrm{Act}(W_{out}\, \mathrm{Dropout}(\mathrm{GroupNorm}_H(h_u)))

The input path, the read-out (GroupNorm per head, projection, residual on the raw input) and the
options are gLSTM's (:class:`~glstm.GLSTM`); only the cell differs.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import SimpleConv

from benchmarks.core.contract import NORMS, check_divisible, check_model_options, make_activation
from benchmarks.core.edges import layer_edges
from benchmarks.core.errors import check_choice, check_positive_int
from glstm.head_norm import HeadNorm
from glstm.layer import HIDDEN_NORMS

AGGREGATIONS = ("sum", "mean")


class CellLayer(nn.Module):
    """One layer of a :class:`CellStack`: input norm, aggregation, cell, read-out, residual.

    Args:
        dim (int): node width d.
        cell (nn.Module): ``cell(a [N, 2d], state or None) -> (h [N, D], state)``.
        hidden_dim (int): the cell's output width D.
        heads (int): groups of the GroupNorm on h.
        aggr (str): ``sum`` or ``mean`` over N_l(u).
        input_norm, hidden_norm, act (str), dropout (float): as in :class:`CellStack`.
    """

    def __init__(self, dim, cell, hidden_dim, heads, aggr, input_norm, hidden_norm, act, dropout):
        super().__init__()
        self.input_norm = NORMS[input_norm](dim)
        self.aggregate = SimpleConv(aggr=aggr, combine_root="cat")  # [x_u ; AGG x_v]
        self.cell = cell
        self.hidden_norm = HeadNorm(heads, hidden_dim) if hidden_norm == "group" else nn.Identity()
        self.lin_out = nn.Linear(hidden_dim, dim)
        self.act = make_activation(act)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def reset_parameters(self):
        for module in (self.input_norm, self.cell, self.hidden_norm, self.lin_out):
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor, edges: Tensor, state):
        """x ``[N, d]``, edges ``[2, E_l]`` (sender, receiver), the cell state -> (x', state)."""
        a = self.aggregate(self.dropout(self.input_norm(x)), edges)  # [N, 2d]
        h, state = self.cell(a, state)  # [N, D]
        return x + self.act(self.lin_out(self.dropout(self.hidden_norm(h)))), state


class CellStack(nn.Module):
    """Base class of graph sLSTM and graph LSTM: L :class:`CellLayer` on one carried cell state.
    Subclasses implement :meth:`make_cell` and :attr:`state_floats`.

    Args:
        dim (int): node width d.
        num_layers (int): L (the runner sets it from the task).
        hidden_dim (int, optional): the cell's width D. (default: ``dim``)
        heads (int): H, groups of the GroupNorm on the cell output. (default: 1)
        aggr (str): ``sum`` | ``mean`` over a layer's senders. (default: sum)
        khop (bool): layer l aggregates the pairs at distance exactly l. (default: False)
        share_weights (bool): one layer (cell and read-out) for all L layers. (default: False)
        last_layer_fa (bool): the last layer aggregates every node of a graph into its readout
            node (Alon & Yahav's FA). (default: False)
        input_norm (str): ``none`` | ``layer`` | ``batch``. (default: none)
        hidden_norm (str): ``group`` (H groups) | ``none``. (default: group)
        act (str): activation after the projection. (default: none)
        dropout (float): on the normalised input and on the normalised h. (default: 0)

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` (``hop_index`` with
          ``khop``; ``batch`` and ``readout_index`` with ``last_layer_fa``).
        - **output:** ``[N, d]``.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        hidden_dim: int | None = None,
        heads: int = 1,
        aggr: str = "sum",
        khop: bool = False,
        share_weights: bool = False,
        last_layer_fa: bool = False,
        input_norm: str = "none",
        hidden_norm: str = "group",
        act: str = "none",
        dropout: float = 0.0,
    ):
        super().__init__()
        hidden_dim = dim if hidden_dim is None else hidden_dim
        check_model_options(
            dim=dim,
            num_layers=num_layers,
            heads=heads,
            khop=khop,
            share_weights=share_weights,
            last_layer_fa=last_layer_fa,
            act=act,
            dropout=dropout,
        )
        check_positive_int("hidden_dim", hidden_dim)
        check_divisible("hidden_dim", hidden_dim, "heads", heads)
        check_choice("aggr", aggr, AGGREGATIONS)
        check_choice("input_norm", input_norm, NORMS)
        check_choice("hidden_norm", hidden_norm, HIDDEN_NORMS)
        self.dim, self.num_layers, self.hidden_dim, self.heads = dim, num_layers, hidden_dim, heads
        self.khop, self.last_layer_fa = khop, last_layer_fa
        layers = [
            CellLayer(
                dim,
                self.make_cell(2 * dim, first=index == 0 and not share_weights),
                hidden_dim,
                heads,
                aggr,
                input_norm,
                hidden_norm,
                act,
                float(dropout),
            )
            for index in range(1 if share_weights else num_layers)
        ]
        self.layers = nn.ModuleList(layers * num_layers if share_weights else layers)

    def make_cell(self, input_size: int, first: bool) -> nn.Module:
        """The cell of one layer: ``cell(a [N, input_size], state) -> (h [N, D], state)``;
        ``first``: the cell only ever runs as the first layer (its state input is always None)."""
        raise NotImplementedError

    @property
    def state_floats(self) -> int:
        """Floats per node the cell carries from one layer to the next."""
        raise NotImplementedError

    def reset_parameters(self):
        for layer in self.layers:
            layer.reset_parameters()

    def edges_of_layer(self, batch, layer: int) -> Tensor:
        """The (sender, receiver) pairs [2, E_l] of layer `layer` (1-based): FA, k-hop or the
        graph's (`layer_edges`)."""
        return layer_edges(batch, layer, self.khop, self.last_layer_fa, self.num_layers)

    def forward(self, x: Tensor, batch) -> Tensor:
        state = None
        for index, layer in enumerate(self.layers, start=1):
            x, state = layer(x, self.edges_of_layer(batch, index), state)
        return x
