"""Graphs of different shapes, stored concatenated, batched by index without per-graph objects.

The storage is PyG's collated layout (what an `InMemoryDataset` holds): node rows and edge
columns of all graphs one after another, with pointers to where each graph starts, and edge
indices local to their graph. A batch gathers the graphs' row ranges and shifts their edges,
all in a few vectorised operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path
from torch import Tensor
from torch_geometric.data import Batch, InMemoryDataset

from benchmarks.tasks.graphs import Batches


def ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """The concatenated integer ranges [starts[i], starts[i] + counts[i]): [sum(counts)], on
    the inputs' device."""
    ends = torch.cumsum(counts, 0)
    total = int(ends[-1]) if len(ends) else 0
    shift = torch.repeat_interleave(starts - (ends - counts), counts, output_size=total)
    return torch.arange(total, device=counts.device) + shift


@dataclass
class GraphList(Batches):
    """G graphs with their own node and edge counts.

    Args:
        x: [N_total, F] node features of every graph, graph after graph.
        edge_index: [2, E_total] (sender, receiver), indices local to each graph.
        node_ptr: [G + 1] graph g's nodes are rows node_ptr[g] .. node_ptr[g + 1] - 1.
        edge_ptr: [G + 1] graph g's edges are columns edge_ptr[g] .. edge_ptr[g + 1] - 1.
        y: [G, ...] graph targets, or with `node_level` [N_total, ...] node targets.
        edge_attr: [E_total, ...] edge features, or None.
        node_level: the targets belong to nodes.
        num_hops: K; batches carry `hop_index`, the pairs at distance exactly l = 1..K.
        pair_distances: the graphs' shortest-path lengths in the layout of `distances()`, when
            the data source has them already (GPP computes them for its targets); else None,
            and `distances()` computes them on first use.

    Batches have x, y, edge_index, edge_attr, batch, ptr and hop_index, like PyG's.
    """

    x: Tensor
    edge_index: Tensor
    node_ptr: Tensor
    edge_ptr: Tensor
    y: Tensor
    edge_attr: Tensor | None = None
    node_level: bool = False
    num_hops: int = 0
    pair_distances: tuple[Tensor, Tensor] | None = field(default=None, repr=False)

    @classmethod
    def from_dataset(cls, dataset: InMemoryDataset, node_level: bool = False) -> GraphList:
        """The graphs of a PyG in-memory dataset (its collated storage, shared, not copied)."""
        data, slices = dataset._data, dataset.slices
        return cls(
            x=data.x,
            edge_index=data.edge_index,
            node_ptr=slices["x"],
            edge_ptr=slices["edge_index"],
            y=data.y,
            edge_attr=data.edge_attr if "edge_attr" in data else None,
            node_level=node_level,
        )

    def __len__(self) -> int:
        return len(self.node_ptr) - 1

    @property
    def num_nodes(self) -> Tensor:
        """[G] nodes per graph."""
        return self.node_ptr[1:] - self.node_ptr[:-1]

    def distances(self) -> tuple[Tensor, Tensor]:
        """Every graph's shortest-path lengths (sender -> receiver, -1 if unreachable), computed
        once: (values [sum_g n_g^2] int16, graph g's n_g x n_g block from pointer[g])."""
        if self.pair_distances is None:
            blocks = []
            for g in range(len(self)):
                n = int(self.num_nodes[g])
                src, dst = self.edge_index[:, self.edge_ptr[g] : self.edge_ptr[g + 1]].numpy()
                adj = csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
                dist = shortest_path(adj, method="D", directed=True, unweighted=True)
                dist[np.isinf(dist)] = -1
                blocks.append(torch.from_numpy(dist.astype(np.int16)).reshape(-1))
            pointer = torch.cat([torch.zeros(1, dtype=torch.long), (self.num_nodes**2).cumsum(0)])
            self.pair_distances = (torch.cat(blocks), pointer)
        return self.pair_distances

    def batch(self, index: Tensor) -> Batch:
        """The graphs at `index` ([B] long) as one PyG Batch."""
        index = index.to(self.node_ptr.device)
        counts = self.num_nodes[index]  # [B]
        offsets = torch.cumsum(counts, 0) - counts  # [B] first node of each graph in the batch
        edge_counts = (self.edge_ptr[1:] - self.edge_ptr[:-1])[index]
        edge_cols = ranges(self.edge_ptr[index], edge_counts)
        nodes = ranges(self.node_ptr[index], counts)
        graph = torch.arange(len(index), device=counts.device)
        out = Batch(
            x=self.x[nodes],
            y=self.y[nodes] if self.node_level else self.y[index],
            edge_index=self.edge_index[:, edge_cols]
            + torch.repeat_interleave(offsets, edge_counts, output_size=len(edge_cols)),
            batch=torch.repeat_interleave(graph, counts, output_size=len(nodes)),
            ptr=torch.cat([offsets, counts.sum().reshape(1)]),
        )
        if self.edge_attr is not None:
            out.edge_attr = self.edge_attr[edge_cols]
        out.hop_index = self._hop_index(index, counts, offsets) if self.num_hops else []
        return out

    def _hop_index(self, index: Tensor, counts: Tensor, offsets: Tensor) -> list[Tensor]:
        """[2, E_l] for l = 1..num_hops: the batch's (sender, receiver) pairs at distance l."""
        values, pointer = self.distances()
        sizes = counts**2
        dist = values[ranges(pointer[index], sizes)]  # the batch's blocks, row-major
        total = len(dist)
        within = torch.arange(total, device=dist.device) - torch.repeat_interleave(
            torch.cumsum(sizes, 0) - sizes, sizes, output_size=total
        )
        n = torch.repeat_interleave(counts, sizes, output_size=total)
        shift = torch.repeat_interleave(offsets, sizes, output_size=total)
        sender, receiver = within // n + shift, within % n + shift
        return [
            torch.stack([sender[dist == hop], receiver[dist == hop]])
            for hop in range(1, self.num_hops + 1)
        ]
