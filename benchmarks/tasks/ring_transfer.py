"""RingTransfer (the gLSTM paper's variant, after Bodnar et al. 2021).

A ring of 2L nodes; node 0 reads out, node L (the farthest) carries the class as a one-hot
5-vector; every other node holds ones and node 0 zeros. Layers = L.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.core.errors import require
from benchmarks.tasks.base import Task, check_positive, split_sizes, uniform_labels
from benchmarks.tasks.graphs import GraphSet, Topology, split_generator, undirected
from benchmarks.tasks.nar import FeatureEncoder
from benchmarks.tasks.readouts import NodeReadout

READOUT, OTHER, SOURCE = 0, 1, 2  # node roles


class RingTransfer(Task):
    """Args:
    distance: L, the hops from the readout to the source node (ring of 2L nodes).
    num_classes: 5 in the paper.
    num_train, num_val, num_test: 1000 / 100 / 100.
    num_layers: default L.
    """

    name = "ring_transfer"

    def __init__(
        self,
        distance: int = 4,
        num_classes: int = 5,
        num_train: int = 1000,
        num_val: int = 100,
        num_test: int = 100,
        num_layers: int | None = None,
    ):
        self.distance = check_positive("task.distance", distance)
        require(
            isinstance(num_classes, int) and num_classes >= 2,
            "task.num_classes",
            f"must be an integer >= 2, got {num_classes!r}",
        )
        self.num_classes = num_classes
        self.sizes = split_sizes(num_train, num_val, num_test)
        self.num_layers = check_positive(
            "task.num_layers", distance if num_layers is None else num_layers
        )
        self.size = {"distance": distance}
        n = 2 * distance
        ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
        roles = torch.full((n,), OTHER)
        roles[0], roles[distance] = READOUT, SOURCE
        self.topology = Topology(undirected(ring), n, readout=0, roles=roles)

    def generate(self, seed: int) -> dict[str, GraphSet]:
        out = {}
        for split, count in self.sizes.items():
            y = uniform_labels(count, self.num_classes, split_generator(seed, split))
            x = torch.ones(count, self.topology.num_nodes, self.num_classes)
            x[:, 0] = 0.0
            x[:, self.distance] = nn.functional.one_hot(y, self.num_classes).float()
            out[split] = GraphSet(self.topology, x, y)
        return out

    def make_encoder(self, dim: int) -> nn.Module:
        return FeatureEncoder(self.num_classes, dim)

    def make_readout(self, dim: int) -> nn.Module:
        return NodeReadout(dim, self.num_classes)
