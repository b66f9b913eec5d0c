"""The (sender, receiver) pairs a layer reads, and the edge features that go with them."""

from __future__ import annotations

from torch import Tensor

from benchmarks.core.errors import require
from benchmarks.core.fully_adjacent import fully_adjacent_edges


def layer_edges(
    batch, layer: int, khop: bool, last_layer_fa: bool = False, num_layers: int | None = None
) -> Tensor:
    """The (sender, receiver) pairs [2, E_l] layer `layer` (1-based) aggregates over: with
    `last_layer_fa` and `layer == num_layers`, every node -> its graph's readout node
    (`fully_adjacent_edges`); else with `khop` the pairs at distance exactly `layer`
    (`batch.hop_index[layer - 1]`); else the graph's `batch.edge_index`. Too few hop sets is a
    ConfigError naming `khop`."""
    if last_layer_fa and layer == num_layers:
        return fully_adjacent_edges(batch)
    if not khop:
        return batch.edge_index
    hop_index = getattr(batch, "hop_index", None)
    require(hop_index is not None, "khop", "needs batch.hop_index (the task's hop sets)")
    require(
        layer <= len(hop_index),
        "khop",
        f"layer {layer} needs pairs at distance {layer}, the batch has {len(hop_index)} hop sets",
    )
    return hop_index[layer - 1]


def edge_features(batch, edges: Tensor, x: Tensor) -> Tensor:
    """The features [E_l, d] of the pairs `edges` [2, E_l], for models that read edge features
    (GINE, GatedGCN): the task's encoded edge features `batch.edge_embedding` [E, d] when `edges`
    is the graph's own `batch.edge_index`; zeros when the task has none or the layer's pairs are
    others (k-hop sets, the FA layer). Dtype and device follow x [N, d]. A task's features of
    another width are a ConfigError naming `dim`."""
    embedding = getattr(batch, "edge_embedding", None)
    if embedding is not None and edges is batch.edge_index:
        require(
            embedding.shape == (edges.size(1), x.size(1)),
            "dim",
            f"edge features of shape {tuple(embedding.shape)} do not match "
            f"{edges.size(1)} edges of width {x.size(1)}",
        )
        return embedding
    return x.new_zeros(edges.size(1), x.size(1))
