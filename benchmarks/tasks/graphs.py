"""Shared topology and vectorised batching for tasks whose graphs all have one shape.

Every task instance uses a single topology; graphs differ only in features and labels. A
`GraphSet` therefore stores features as one dense tensor `x[G, n, F]` and builds a PyG `Batch`
for any index set by offsetting the one topology, so no per-graph Python object ever exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path
from torch import Tensor
from torch_geometric.data import Batch


def undirected(edges: Tensor) -> Tensor:
    """Both directions of every edge: [2, E] -> [2, 2E]."""
    return torch.cat([edges, edges.flip(0)], dim=1)


@dataclass
class Topology:
    """One graph shape shared by every graph of a task instance.

    Args:
        edge_index: [2, E] (sender, receiver) pairs; messages flow from row 0 to row 1.
        num_nodes: n, nodes per graph.
        readout: index of the node whose final state is read out.
        roles: [n] integer role of each node (task-specific meaning, for metrics).
    """

    edge_index: Tensor
    num_nodes: int
    readout: int
    roles: Tensor

    @cached_property
    def key(self) -> str:
        """A digest of the edges and the node count: equal for equal topologies, whichever
        tensors hold them (so structures built from it can be cached on any device)."""
        digest = hashlib.blake2b(self.edge_index.numpy().tobytes(), digest_size=12)
        digest.update(str((tuple(self.edge_index.shape), self.num_nodes)).encode())
        return digest.hexdigest()

    @cached_property
    def distances(self) -> Tensor:
        """[n, n] shortest-path length from sender (row) to receiver (column) along edge
        direction; -1 where unreachable. One BFS per node on the single topology."""
        src, dst = self.edge_index.numpy()
        adj = coo_matrix((np.ones(len(src)), (src, dst)), shape=(self.num_nodes,) * 2)
        dist = shortest_path(adj.tocsr(), method="D", directed=True, unweighted=True)
        dist[np.isinf(dist)] = -1
        return torch.from_numpy(dist.astype(np.int64))

    @cached_property
    def hops(self) -> Tensor:
        """[n] hop distance from each node to the readout node (-1 if it cannot reach it)."""
        return self.distances[:, self.readout]

    def hop_edges(self, hop: int) -> Tensor:
        """[2, E_hop] the (sender, receiver) pairs at distance exactly `hop` (>= 1)."""
        return (self.distances == hop).nonzero().t().contiguous()

    @property
    def max_hop(self) -> int:
        return int(self.distances.max())


class Batches:
    """Iteration in batches over a graph set with `__len__` and `batch(index)`."""

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """Iterate over the set in batches (the last one may be smaller).

        The shuffle is drawn by `generator` on the CPU, so a seed gives the same batch order on
        every device (and a checkpoint's generator state resumes anywhere); on an accelerator the
        order is copied there once per pass, from pinned memory, and each batch's index is a
        slice of it on the device."""
        device = getattr(self, "device", torch.device("cpu"))
        if not shuffle:
            order = torch.arange(len(self), device=device)
        else:
            order = torch.randperm(len(self), generator=generator)
            if device.type == "cuda":
                order = order.pin_memory().to(device, non_blocking=True)
            elif device.type != "cpu":
                order = order.to(device)
        for start in range(0, len(self), batch_size):
            yield self.batch(order[start : start + batch_size])

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def to(self, device: torch.device | str) -> Batches:
        """The set with its batches built on `device` (here: each batch is moved by the loop)."""
        return self


@dataclass
class GraphSet(Batches):
    """G graphs on one topology.

    Args:
        topology: the shared graph shape.
        x: [G, n, F] node features (long for token tasks, float otherwise).
        y: [G] class labels or [G, D] regression targets; with `node_level`, [G, n, D] targets
            of every node (batches carry them as [B n, D]).
        node_fields: per-graph node indices [G] (e.g. the queried key node); batches carry them
            as global indices under the same name.
    """

    topology: Topology
    x: Tensor
    y: Tensor
    node_fields: dict[str, Tensor] = field(default_factory=dict)
    num_hops: int = 0
    node_level: bool = False
    device: torch.device = field(default=torch.device("cpu"), repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> GraphSet:
        """The same graphs with features, labels and batch structures on `device`, so that
        every batch is built there (one copy of the data instead of one per step)."""
        device = torch.device(device)
        if device == self.device:
            return self
        return replace(
            self,
            x=self.x.to(device),
            y=self.y.to(device),
            node_fields={k: v.to(device) for k, v in self.node_fields.items()},
            device=device,
            _cache={},
        )

    def _structure(self, size: int) -> dict:
        """Batch-size-dependent tensors, identical for every batch of that size."""
        if size not in self._cache:
            topo, n = self.topology, self.topology.num_nodes
            offsets = torch.arange(size) * n

            def tile(edges: Tensor) -> Tensor:  # [2, E] -> [2, size * E]
                return (edges[:, None, :] + offsets[None, :, None]).reshape(2, -1)

            self._cache[size] = dict(
                edge_index=tile(topo.edge_index),
                hop_index=[tile(topo.hop_edges(h)) for h in range(1, self.num_hops + 1)],
                batch=torch.arange(size).repeat_interleave(n),
                ptr=torch.arange(size + 1) * n,
                hops=topo.hops.repeat(size),
                roles=topo.roles.repeat(size),
                readout_index=offsets + topo.readout,
                offsets=offsets,
            )
            edge_type = getattr(topo, "edge_type", None)  # a rewired topology's (FoSR)
            if edge_type is not None:
                self._cache[size]["edge_type"] = edge_type.repeat(size)
            if self.device.type != "cpu":
                self._cache[size] = {
                    k: [t.to(self.device) for t in v] if isinstance(v, list) else v.to(self.device)
                    for k, v in self._cache[size].items()
                }
        return self._cache[size]

    def batch(self, index: Tensor) -> Batch:
        """The graphs at `index` ([B] long) as one PyG Batch with `readout_index`, `hops`,
        `roles`, `hop_index` (list of [2, E_l], l = 1..num_hops), the node fields and
        `topology_key` (the topology's key and B: batches with equal keys have equal edges)."""
        s = self._structure(len(index))
        index = index.to(self.device)
        x, y = self.x[index], self.y[index]
        out = Batch(
            x=x.reshape(-1, *x.shape[2:]),
            y=y.reshape(-1, *y.shape[2:]) if self.node_level else y,
            edge_index=s["edge_index"],
            batch=s["batch"],
            ptr=s["ptr"],
            hops=s["hops"],
            roles=s["roles"],
            readout_index=s["readout_index"],
        )
        out.hop_index = s["hop_index"]
        if "edge_type" in s:
            out.edge_type = s["edge_type"]
        out.topology_key = f"{self.topology.key}/{len(index)}"
        for name, local in self.node_fields.items():
            out[name] = s["offsets"] + local[index]
        return out


def split_generator(seed: int, split: str) -> torch.Generator:
    """A generator for one split of one data seed; the same in every process."""
    index = {"train": 0, "val": 1, "test": 2}[split]
    return torch.Generator().manual_seed(seed * 1_000_003 + index)
