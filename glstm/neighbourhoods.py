"""The neighbourhoods N_l(u) of each layer of a block, from a PyG batch."""

from __future__ import annotations

from glstm.sparse import Adjacency


def layer_neighbourhoods(batch, num_layers: int, khop: bool) -> list[Adjacency]:
    """One :class:`~glstm.sparse.Adjacency` per layer l = 1..L of a block.

    Without k-hop aggregation every layer uses the graph's edges; with it, layer l uses the pairs at
    shortest-path distance exactly l, ``batch.hop_index[l - 1]``. Either way each node gets exactly
    one self-loop (self edges in the input are dropped first).

    Args:
        batch: a PyG batch with ``edge_index`` ``[2, E]`` (row 0 = sender, row 1 = receiver),
            ``num_nodes`` and, for ``khop``, ``hop_index``: a list of ``[2, E_l]`` for l = 1..K.
        num_layers (int): L.
        khop (bool): aggregate over exact-distance hop sets.

    Raises:
        ValueError: ``khop`` without ``batch.hop_index``, or with fewer than L hop sets.
    """
    num_nodes = batch.num_nodes
    if not khop:
        return [Adjacency.with_self_loops(batch.edge_index, num_nodes)] * num_layers
    hop_index = getattr(batch, "hop_index", None)
    if hop_index is None:
        raise ValueError("khop=True needs batch.hop_index (the task's exact-distance hop sets)")
    if len(hop_index) < num_layers:
        raise ValueError(
            f"khop=True with num_layers={num_layers} needs hop sets for distances 1..{num_layers}, "
            f"but batch.hop_index has {len(hop_index)}"
        )
    return [Adjacency.with_self_loops(hops, num_nodes) for hops in hop_index[:num_layers]]
