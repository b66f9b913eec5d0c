"""What FoSR and SDRF share as PyG transforms: replace a graph's edges with their rewiring."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform


class EdgeRewiring(BaseTransform):
    """A transform that sets ``data.edge_index`` to ``self.rewire(edge_index, num_nodes)`` and
    ``data.edge_type`` ``[E']`` to 0 for an input edge and 1 for an added one (FoSR's relation
    types, read by the relational models: ``relational: true``).

    Subclasses define :meth:`rewire` (``[2, E]`` edges of an n-node graph -> ``[2, E']``), which
    :func:`~benchmarks.tasks.rewired.rewire_topology` also calls directly on a task's topology.
    """

    def forward(self, data: Data) -> Data:
        if getattr(data, "edge_attr", None) is not None:
            raise ValueError(f"{type(self).__name__}: graphs with edge_attr are not supported")
        n = data.num_nodes
        before = data.edge_index
        data.edge_index = self.rewire(before, n)
        data.edge_type = added_edge_types(before, data.edge_index, n)
        return data

    def rewire(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        raise NotImplementedError


def added_edge_types(before: Tensor, after: Tensor, num_nodes: int) -> Tensor:
    """[E'] long: 0 where the pair of ``after`` [2, E'] is in ``before`` [2, E], else 1."""
    keys = before[0].long() * num_nodes + before[1].long()
    return (~torch.isin(after[0] * num_nodes + after[1], keys)).long()
