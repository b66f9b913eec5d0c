r"""A task's one topology, rewired once (FoSR or SDRF) while hops keep their original meaning.

Tasks share one :class:`~benchmarks.tasks.graphs.Topology` per instance, so a rewiring is paid
once, not per graph. Messages then flow over the rewired edges (``edge_index``, so the topology's
``key`` and every batch change with them), while ``distances``, ``hops``, ``hop_edges`` and the
readout node stay those of the original graph: "hop r" still names the nodes the task placed r
steps from the readout, and k-hop models aggregate the original graph's hop sets.

Edge directions: the transforms see the graph without self-loops and symmetrised. The rewired
topology keeps every original edge (its direction and self-loops included) that the transform did
not remove, and adds each new pair in both directions:

.. math::
    E' = (E \setminus R) \cup A \cup A^{\top}

with :math:`A` the added and :math:`R` the removed (both directions) undirected pairs.

Edge types: ``edge_type`` ``[E']`` is 0 for a kept edge and 1 for an added one (FoSR's relation
types; kedar2/FoSR @1a7360c ``run_graph_classification.py`` 49, 90), for the relational models
(``relational: true``), which read it from ``batch.edge_type``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor
from torch_geometric.utils import remove_self_loops, to_undirected

from benchmarks.tasks.graphs import Topology


@dataclass
class RewiredTopology(Topology):
    """A topology whose messages use rewired edges and whose distances are ``original``'s.

    Args:
        original: the task's topology before rewiring.
    """

    original: Topology | None = None
    edge_type: Tensor | None = None

    @cached_property
    def distances(self) -> Tensor:
        return self.original.distances


def rewire_topology(topology: Topology, transform) -> RewiredTopology:
    """``topology`` with ``transform.rewire(edge_index [2, E], n) -> [2, E']`` applied once.

    Args:
        topology: the task's topology.
        transform: :class:`~baselines.rewiring.FoSR` or :class:`~baselines.rewiring.SDRF`.
    """
    n = topology.num_nodes
    edges = topology.edge_index
    simple = to_undirected(remove_self_loops(edges)[0], num_nodes=n)
    rewired = transform.rewire(simple, n)
    before, after = simple[0] * n + simple[1], rewired[0] * n + rewired[1]
    added = rewired[:, ~torch.isin(after, before)]
    removed = before[~torch.isin(before, after)]
    kept = edges[:, ~torch.isin(edges[0] * n + edges[1], removed)]
    return RewiredTopology(
        edge_index=torch.cat([kept, added], dim=1),
        edge_type=torch.cat(
            [
                torch.zeros(kept.shape[1], dtype=torch.long),
                torch.ones(added.shape[1], dtype=torch.long),
            ]
        ),
        num_nodes=n,
        readout=topology.readout,
        roles=topology.roles,
        original=topology,
    )
