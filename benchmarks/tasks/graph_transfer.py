"""Graph transfer (Gravina et al., SWAN, AAAI 2025; reused by the gLSTM paper; SPEC 7.1).

Every node holds one value x_u ~ U[0, 1); the source holds 1 and the target 0. Every node must
output its own value, except that the source must output 0 and the target 1:

    y_u = x_u  (u not source, target),    y_source = 0,    y_target = 1.

The loss and metric are the MSE over all nodes. Topologies, with the distance parameter d, as
the SWAN code builds them (undirected):

- **line**: d nodes 0 - 1 - ... - (d - 1), source 0, target d - 1 (d - 1 hops apart: the SWAN
  code's "distance" is the node count here), and a **self-loop on every node** (the code adds
  them explicitly to the line, and only there);
- **ring**: 2d nodes, source 0, target d (d hops);
- **crossed_ring**: the ring plus, for i < d, the "rungs" (i, 2d - 1 - i) and, for 2 <= i < d,
  (i, 2d + 1 - i) (Di Giovanni et al. 2023). Source 0, target d, still d hops apart. Two rungs
  repeat ring edges, (0, 2d - 1) and (d - 1, d): the published data has these edges twice, and
  so does this topology (they weigh double in sum and degree-normalised aggregations).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from benchmarks.core.errors import check_choice, require
from benchmarks.tasks.base import Task, check_positive, split_sizes
from benchmarks.tasks.graphs import GraphSet, Topology, undirected
from benchmarks.tasks.nar import FeatureEncoder
from benchmarks.tasks.readouts import PerNodeReadout

TARGET, OTHER, SOURCE = 0, 1, 2  # node roles; the target is the readout node
TOPOLOGIES = ("line", "ring", "crossed_ring")
# The published split seeds (SWAN's generator, with the gLSTM port's fix that gives val its own
# seed); data seed s uses PUBLISHED_SEEDS[split] + s * SEED_STRIDE.
PUBLISHED_SEEDS = {"train": 1234, "val": 2345, "test": 3456}
SEED_STRIDE = 1_000_003


def transfer_topology(topology: str, distance: int) -> tuple[Topology, int]:
    """The graph shape and its source node; the readout node (`Topology.readout`) is the target."""
    d = distance
    if topology == "line":
        n, source, target = d, 0, d - 1
        path = torch.stack([torch.arange(n - 1), torch.arange(1, n)])
        loops = torch.arange(n).repeat(2, 1)
        edges = torch.cat([undirected(path), loops], dim=1)
    else:
        n, source, target = 2 * d, 0, d
        i = torch.arange(n)
        edges = torch.stack([i, (i + 1) % n])
        if topology == "crossed_ring":
            a, b = torch.arange(d), torch.arange(2, d)
            edges = torch.cat([edges, torch.stack([a, n - 1 - a]), torch.stack([b, n + 1 - b])], 1)
        edges = undirected(edges)
    roles = torch.full((n,), OTHER)
    roles[source], roles[target] = SOURCE, TARGET
    return Topology(edges, n, readout=target, roles=roles), source


class GraphTransfer(Task):
    """Node-level regression: carry the source's mark to the target (module docstring).

    Args:
        topology: "line" | "ring" | "crossed_ring".
        distance: d (>= 2): nodes on the line, half the nodes on the (crossed) ring.
        num_train, num_val, num_test: 1000 / 100 / 100 graphs.
        num_layers: default d.

    Data: x [G, n, 1], y [G, n, 1] per split. Data seed 0 reproduces the published draws (the
    SWAN code seeds torch with 1234 / 2345 / 3456 and draws `torch.rand(n, 1)` graph after graph,
    which equals one `torch.rand(G, n, 1)` from a generator with that seed); data seed s draws
    from seed `published + s * 1_000_003`, distinct for every (s, split).
    """

    name = "graph_transfer"
    kind = "regression"
    node_level = True

    def __init__(
        self,
        topology: str = "ring",
        distance: int = 5,
        num_train: int = 1000,
        num_val: int = 100,
        num_test: int = 100,
        num_layers: int | None = None,
    ):
        check_choice("task.topology", topology, TOPOLOGIES)
        require(
            isinstance(distance, int) and distance >= 2,
            "task.distance",
            f"must be an integer >= 2, got {distance!r}",
        )
        self.topology_name, self.distance = topology, distance
        self.sizes = split_sizes(num_train, num_val, num_test)
        self.num_layers = check_positive(
            "task.num_layers", distance if num_layers is None else num_layers
        )
        self.size = {"distance": distance}
        self.topology, self.source = transfer_topology(topology, distance)

    def generate(self, seed: int) -> dict[str, GraphSet]:
        out = {}
        for split, count in self.sizes.items():
            generator = torch.Generator().manual_seed(PUBLISHED_SEEDS[split] + seed * SEED_STRIDE)
            x = torch.rand(count, self.topology.num_nodes, 1, generator=generator)
            out[split] = GraphSet(self.topology, *self.features_and_targets(x), node_level=True)
        return out

    def features_and_targets(self, values: Tensor) -> tuple[Tensor, Tensor]:
        """(x, y) [G, n, 1] from the drawn values [G, n, 1]: the source and target marked."""
        source, target = self.source, self.topology.readout
        x = values.clone()
        x[:, source], x[:, target] = 1.0, 0.0
        y = x.clone()
        y[:, source], y[:, target] = 0.0, 1.0
        return x, y

    def make_encoder(self, dim: int) -> nn.Module:
        return FeatureEncoder(1, dim)

    def make_readout(self, dim: int) -> nn.Module:
        return PerNodeReadout(dim, 1)
