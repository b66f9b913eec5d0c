"""The neighbourhoods N_l(u) of each layer of a block, from a PyG batch."""

from __future__ import annotations

import weakref

from torch import Tensor

from glstm.sparse import Adjacency

# id(edge tensor) -> (weak reference, version, num_nodes, Adjacency). Tasks whose graphs share one
# topology hand out the same edge tensors for every batch of a given size, so the sorting in
# Adjacency.with_self_loops is done once per batch size instead of once per step. An entry
# disappears with its tensor and is ignored if the tensor was modified in place.
_ADJACENCIES: dict[int, tuple[weakref.ref, int, int, Adjacency]] = {}


def neighbourhood(edge_index: Tensor, num_nodes: int) -> Adjacency:
    """``Adjacency.with_self_loops(edge_index, num_nodes)``, cached for the tensor's lifetime."""
    key = id(edge_index)
    hit = _ADJACENCIES.get(key)
    if hit is not None:
        ref, version, n, adj = hit
        if ref() is edge_index and edge_index._version == version and n == num_nodes:
            return adj
    adj = Adjacency.with_self_loops(edge_index, num_nodes)
    ref = weakref.ref(edge_index, lambda _, key=key: _ADJACENCIES.pop(key, None))
    _ADJACENCIES[key] = (ref, edge_index._version, num_nodes, adj)
    return adj


def layer_neighbourhoods(
    batch, num_layers: int, khop: bool, num_nodes: int | None = None
) -> list[Adjacency]:
    """One :class:`~glstm.sparse.Adjacency` per layer l = 1..L of a block.

    Without k-hop aggregation every layer uses the graph's edges; with it, layer l uses the pairs at
    shortest-path distance exactly l, ``batch.hop_index[l - 1]``. Either way each node gets exactly
    one self-loop (self edges in the input are dropped first).

    Args:
        batch: a PyG batch with ``edge_index`` ``[2, E]`` (row 0 = sender, row 1 = receiver)
            and, for ``khop``, ``hop_index``: a list of ``[2, E_l]`` for l = 1..K.
        num_layers (int): L.
        khop (bool): aggregate over exact-distance hop sets.
        num_nodes (int, optional): N (default: ``batch.num_nodes``).

    Raises:
        ValueError: ``khop`` without ``batch.hop_index``, or with fewer than L hop sets.
    """
    num_nodes = batch.num_nodes if num_nodes is None else num_nodes
    if not khop:
        return [neighbourhood(batch.edge_index, num_nodes)] * num_layers
    hop_index = getattr(batch, "hop_index", None)
    if hop_index is None:
        raise ValueError("khop=True needs batch.hop_index (the task's exact-distance hop sets)")
    if len(hop_index) < num_layers:
        raise ValueError(
            f"khop=True with num_layers={num_layers} needs hop sets for distances 1..{num_layers}, "
            f"but batch.hop_index has {len(hop_index)}"
        )
    return [neighbourhood(hops, num_nodes) for hops in hop_index[:num_layers]]
