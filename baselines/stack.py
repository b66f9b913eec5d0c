"""A stack of PyG convolutions with the options every baseline shares.

One layer l (1-based) maps x -> x' as in Alon & Yahav's public code:

    h = Act(Conv_l(x, E_l));  h = Dropout(h);  x' = x + h if residual else h;  x' = Norm(x')

where E_l is the graph's edge_index, or with `khop` the pairs at shortest-path distance exactly
l (`batch.hop_index[l - 1]`). With `last_layer_fa`, E_L of the last layer is replaced (with or
without `khop`) by every node -> the readout node of its graph (`fully_adjacent_edges`).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn.resolver import activation_resolver

from baselines.fully_adjacent import fully_adjacent_edges
from benchmarks.errors import ConfigError, require

NORMS = {"none": nn.Identity, "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}


def make_activation(act: str | None) -> nn.Module:
    """none -> identity; otherwise an activation PyG's resolver knows (relu, gelu, tanh...)."""
    if act in (None, "none", "identity"):
        return nn.Identity()
    try:
        return activation_resolver(act)
    except ValueError:
        raise ConfigError(f"model.act: unknown activation {act!r}") from None


def layer_edges(batch, layer: int, khop: bool) -> Tensor:
    """The (sender, receiver) pairs layer `layer` (1-based) aggregates over: [2, E_l]."""
    if not khop:
        return batch.edge_index
    hop_index = batch.hop_index
    require(
        layer <= len(hop_index),
        "model.khop",
        f"layer {layer} needs pairs at distance {layer}, the batch has {len(hop_index)} hop sets",
    )
    return hop_index[layer - 1]


def edge_features(batch, edges: Tensor, x: Tensor) -> Tensor:
    """The features [E_l, d] of the pairs `edges` [2, E_l], for models that read edge features
    (GINE, GatedGCN): the task's encoded edge features `batch.edge_embedding` [E, d] when `edges`
    is the graph's own `batch.edge_index`; zeros when the task has none or the layer's pairs are
    others (k-hop sets, the FA layer). Dtype and device follow x [N, d]."""
    embedding = getattr(batch, "edge_embedding", None)
    if embedding is not None and edges is batch.edge_index:
        require(
            embedding.shape == (edges.size(1), x.size(1)),
            "model.dim",
            f"edge features of shape {tuple(embedding.shape)} do not match "
            f"{edges.size(1)} edges of width {x.size(1)}",
        )
        return embedding
    return x.new_zeros(edges.size(1), x.size(1))


class ConvStack(nn.Module):
    """Base class: subclasses implement `make_conv(dim) -> MessagePassing`.

    Args:
        dim: node width d (input and output).
        num_layers: L.
        residual: add the layer input to its output.
        norm: none | layer | batch, applied after the residual.
        act: activation name (none, relu, gelu, tanh, ...).
        dropout: dropout probability after the activation.
        khop: layer l aggregates over pairs at distance exactly l.
        share_weights: one convolution for every layer.
        last_layer_fa: the last layer aggregates every node of a graph into its readout node
            instead of E_L (Alon & Yahav's FA).

    Shapes: forward(x [N, d], batch) -> [N, d].
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
        require(
            isinstance(dim, int) and dim > 0,
            "model.dim",
            f"must be a positive integer, got {dim!r}",
        )
        require(
            isinstance(num_layers, int) and num_layers > 0,
            "model.num_layers",
            f"must be a positive integer, got {num_layers!r}",
        )
        require(norm in NORMS, "model.norm", f"must be one of {sorted(NORMS)}, got {norm!r}")
        require(0.0 <= dropout < 1.0, "model.dropout", f"must be in [0, 1), got {dropout}")
        require(
            isinstance(last_layer_fa, bool),
            "model.last_layer_fa",
            f"must be true or false, got {last_layer_fa!r}",
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
        """The (sender, receiver) pairs of layer `layer` (1-based): FA, k-hop or the graph's."""
        if self.last_layer_fa and layer == self.num_layers:
            return fully_adjacent_edges(batch)
        return layer_edges(batch, layer, self.khop)

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
