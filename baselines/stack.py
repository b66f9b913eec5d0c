"""A stack of PyG convolutions with the options every baseline shares.

One layer l (1-based) maps x -> x' as in Alon & Yahav's public code:

    h = Act(Conv_l(x, E_l));  h = Dropout(h);  x' = x + h if residual else h;  x' = Norm(x')

where E_l is the graph's edge_index, or with `khop` the pairs at shortest-path distance exactly
l (`batch.hop_index[l - 1]`). With `last_layer_fa`, E_L of the last layer is replaced (with or
without `khop`) by every node -> the readout node of its graph (`fully_adjacent_edges`).
"""

from __future__ import annotations

from torch import Tensor, nn

from benchmarks.core.contract import NORMS, check_model_options, make_activation
from benchmarks.core.edges import layer_edges
from benchmarks.core.errors import check_bool, require

NUM_RELATIONS = 2  # FoSR's relation types: 0 an input edge, 1 an edge the rewiring added


def check_relational(relational, khop: bool, last_layer_fa: bool) -> bool:
    """The `relational` option (FoSR's R-GCN / R-GIN, kedar2/FoSR @1a7360c models/graph_model.py
    70-88): each layer aggregates the graph's edges per relation type `batch.edge_type` (0 input,
    1 added by a rewiring), so it needs the graph's own edges (no `khop`, no `last_layer_fa`)."""
    check_bool("relational", relational)
    if relational:
        require(not khop, "relational", "needs the graph's own edges, not khop")
        require(not last_layer_fa, "relational", "needs the graph's own edges, not last_layer_fa")
    return relational


def edge_types(batch, edges: Tensor) -> Tensor:
    """[E] relation types of `edges` (the batch's `edge_index`): `batch.edge_type`, or a clear
    error when the batch has none (a rewiring sets them)."""
    types = getattr(batch, "edge_type", None)
    require(
        types is not None and types.shape[0] == edges.shape[1],
        "relational",
        "the batch has no edge_type for its edges (set by rewiring=fosr or rewiring=sdrf)",
    )
    return types


class ConvStack(nn.Module):
    """Base class: subclasses implement `make_conv(dim) -> MessagePassing`, or `make_convs` when
    a layer's convolution depends on its index. The options are the model contract's
    (`benchmarks.core.contract`), checked there.

    Args:
        dim (int): node width d (input and output).
        num_layers (int): L.
        residual (bool): add the layer input to its output. (default: False)
        norm (str): none | layer | batch, applied after the residual. (default: none)
        act (str): activation name (none, relu, gelu, tanh, ...). (default: relu)
        dropout (float): dropout probability after the activation. (default: 0)
        khop (bool): layer l aggregates over pairs at distance exactly l. (default: False)
        share_weights (bool): one convolution for every layer. (default: False)
        last_layer_fa (bool): the last layer aggregates every node of a graph into its readout
            node instead of E_L (Alon & Yahav's FA). (default: False)

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` (``hop_index`` with
          ``khop``; ``batch`` and ``readout_index`` with ``last_layer_fa``).
        - **output:** ``[N, d]``.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        residual: bool = False,
        norm: str = "none",
        act: str = "relu",
        dropout: float = 0.0,
        khop: bool = False,
        share_weights: bool = False,
        last_layer_fa: bool = False,
    ):
        super().__init__()
        check_model_options(
            dim=dim,
            num_layers=num_layers,
            residual=residual,
            norm=norm,
            act=act,
            dropout=dropout,
            khop=khop,
            share_weights=share_weights,
            last_layer_fa=last_layer_fa,
        )
        self.num_layers, self.residual, self.khop = num_layers, residual, khop
        self.last_layer_fa = last_layer_fa
        self.convs = nn.ModuleList(self.make_convs(dim, num_layers, share_weights))
        self.norms = nn.ModuleList(NORMS[norm](dim) for _ in range(num_layers))
        self.act = make_activation(act)
        self.dropout = nn.Dropout(dropout)

    def make_conv(self, dim: int) -> nn.Module:
        raise NotImplementedError

    def make_convs(self, dim: int, num_layers: int, share_weights: bool) -> list[nn.Module]:
        """The convolution of each layer: `make_conv(dim)` per layer, or one object for all.
        Override when a layer's convolution depends on its index (GCNII's beta_l)."""
        if share_weights:
            return [self.make_conv(dim)] * num_layers
        return [self.make_conv(dim) for _ in range(num_layers)]

    def apply_conv(self, conv: nn.Module, x: Tensor, edges: Tensor, batch, x_0: Tensor) -> Tensor:
        """One convolution over `edges` [2, E_l] -> [N, d]. Override to pass more: the
        stack's input x_0 [N, d] (GCNII), the batch's edge features (GINE)."""
        return conv(x, edges)

    def edges_of_layer(self, batch, layer: int) -> Tensor:
        """The (sender, receiver) pairs [2, E_l] of layer `layer` (1-based): FA, k-hop or the
        graph's (`layer_edges`)."""
        return layer_edges(batch, layer, self.khop, self.last_layer_fa, self.num_layers)

    def reset_parameters(self) -> None:
        for module in [*self.convs, *self.norms]:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor, batch) -> Tensor:
        x_0 = x
        for layer, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True), start=1):
            edges = self.edges_of_layer(batch, layer)
            h = self.dropout(self.act(self.apply_conv(conv, x, edges, batch, x_0)))
            x = norm(x + h if self.residual else h)
        return x
