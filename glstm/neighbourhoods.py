"""The neighbourhoods N_l(u) of each layer of a block, from a PyG batch."""

from __future__ import annotations

import weakref
from collections import OrderedDict

from torch import Tensor

from benchmarks.core.errors import require
from glstm.sparse import Adjacency

# id(edge tensor) -> (weak reference, version, num_nodes, Adjacency). Tasks whose graphs share one
# topology hand out the same edge tensors for every batch of a given size, so the sorting in
# Adjacency.with_self_loops is done once per batch size instead of once per step. An entry
# disappears with its tensor and is ignored if the tensor was modified in place.
_ADJACENCIES: dict[int, tuple[weakref.ref, int, int, Adjacency]] = {}

# (topology key, edge set, device) -> Adjacency, for batches that say which topology they tile
# (`batch.topology_key`, see benchmarks/tasks/graphs.py): a hit needs no tensor of a previous
# step, so batches copied to an accelerator each step, or rebuilt, reuse one structure per
# topology and device. The least recently used entries go beyond TOPOLOGY_CACHE_SIZE.
_BY_TOPOLOGY: OrderedDict[tuple, Adjacency] = OrderedDict()
TOPOLOGY_CACHE_SIZE = 64


def neighbourhood(edge_index: Tensor, num_nodes: int, topology_key=None) -> Adjacency:
    """``Adjacency.with_self_loops(edge_index, num_nodes)``, cached per topology and device when
    ``topology_key`` (hashable: the batch's topology and which of its edge sets) is given, else
    for the tensor's lifetime."""
    if topology_key is not None:
        key = (topology_key, num_nodes, edge_index.device)
        adj = _BY_TOPOLOGY.get(key)
        if adj is None:
            adj = _BY_TOPOLOGY[key] = Adjacency.with_self_loops(edge_index, num_nodes)
            if len(_BY_TOPOLOGY) > TOPOLOGY_CACHE_SIZE:
                _BY_TOPOLOGY.popitem(last=False)
        _BY_TOPOLOGY.move_to_end(key)
        return adj
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
    one self-loop (self edges in the input are dropped first). Batches with a ``topology_key``
    get structures cached per topology and device, others per edge tensor.

    Args:
        batch: a PyG batch with ``edge_index`` ``[2, E]`` (row 0 = sender, row 1 = receiver)
            and, for ``khop``, ``hop_index``: a list of ``[2, E_l]`` for l = 1..K.
        num_layers (int): L.
        khop (bool): aggregate over exact-distance hop sets.
        num_nodes (int, optional): N (default: ``batch.num_nodes``).

    Raises:
        ConfigError: ``khop`` without ``batch.hop_index``, or with fewer than L hop sets.
    """
    num_nodes = batch.num_nodes if num_nodes is None else num_nodes
    topology = getattr(batch, "topology_key", None)

    def key(*edge_set) -> tuple | None:
        return None if topology is None else (topology, *edge_set)

    if not khop:
        return [neighbourhood(batch.edge_index, num_nodes, key("edges"))] * num_layers
    hop_index = getattr(batch, "hop_index", None)
    require(hop_index is not None, "khop", "needs batch.hop_index (the task's hop sets)")
    require(
        len(hop_index) >= num_layers,
        "khop",
        f"with num_layers={num_layers} needs hop sets for distances 1..{num_layers}, "
        f"the batch has {len(hop_index)}",
    )
    return [
        neighbourhood(hops, num_nodes, key("hop", hop))
        for hop, hops in enumerate(hop_index[:num_layers], start=1)
    ]
