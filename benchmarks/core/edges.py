"""The (sender, receiver) pairs a layer reads, and the edge features that go with them."""

from __future__ import annotations

from torch import Tensor

from benchmarks.core.errors import require


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
