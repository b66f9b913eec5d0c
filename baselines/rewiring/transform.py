"""What FoSR and SDRF share as PyG transforms: replace a graph's edges with their rewiring."""

from __future__ import annotations

from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform


class EdgeRewiring(BaseTransform):
    """A transform that sets ``data.edge_index`` to ``self.rewire(edge_index, num_nodes)``.

    Subclasses define :meth:`rewire` (``[2, E]`` edges of an n-node graph -> ``[2, E']``), which
    :func:`~benchmarks.tasks.rewired.rewire_topology` also calls directly on a task's topology.
    """

    def forward(self, data: Data) -> Data:
        if getattr(data, "edge_attr", None) is not None:
            raise ValueError(f"{type(self).__name__}: graphs with edge_attr are not supported")
        data.edge_index = self.rewire(data.edge_index, data.num_nodes)
        return data

    def rewire(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        raise NotImplementedError
