r"""A virtual node per graph (Gilmer et al., ICML 2017; PyG's ``transforms.VirtualNode`` does the
same to a single graph), as an option of every model (``virtual_node=true``).

For a batch of B graphs with N nodes, node N + g is graph g's virtual node, with a learned state
and an edge to and from every node of graph g:

.. math::
    E' = E \cup \{(u, N + g(u))\} \cup \{(N + g(u), u)\},\qquad x'_{N+g} = w

so any two nodes of a graph are two hops apart through it. The model runs on the N + B nodes;
the readout sees the first N again. Hop sets (k-hop), the readout node and the hop distances of
the metrics stay the original graph's.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


class VirtualNode(nn.Module):
    """Inserts the virtual nodes and their edges into a batch, each right after its graph's nodes
    (node u of graph g moves to u + g, graph g's virtual node is the last of its block), so the
    batch vector stays sorted as PyG's dense batching (GPS's attention) expects.

    Args:
        dim (int): node width d.

    Shapes:
        - **input:** x ``[N, d]``, a batch with ``edge_index`` ``[2, E]`` and ``batch`` ``[N]``.
        - **output:** x ``[N + B, d]``, a shallow copy of the batch on those nodes (``edge_index``
          ``[2, E + 2N]``, ``batch``, ``hop_index``, ``readout_index`` renumbered,
          ``edge_embedding`` padded with zeros for the new edges, ``topology_key`` marked), and
          the positions ``[N]`` of the original nodes in it.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.state = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor, batch):
        n, graphs = x.shape[0], batch.num_graphs
        counts = torch.bincount(batch.batch, minlength=graphs)  # [B] nodes per graph
        position = torch.arange(n, device=x.device) + batch.batch  # [N]: u -> u + g(u)
        virtual = torch.cumsum(counts + 1, 0) - 1  # [B]: the last place of each block
        out = copy.copy(batch)
        links = torch.stack([position, virtual[batch.batch]])  # [2, N]: node -> its virtual node
        out.edge_index = torch.cat([position[batch.edge_index], links, links.flip(0)], dim=1)
        if getattr(batch, "hop_index", None) is not None:
            out.hop_index = [position[h] for h in batch.hop_index]
        if getattr(batch, "readout_index", None) is not None:
            out.readout_index = position[batch.readout_index]
        out.batch = torch.repeat_interleave(
            torch.arange(graphs, device=x.device), counts + 1, output_size=n + graphs
        )
        out.num_nodes = n + graphs
        embedding = getattr(batch, "edge_embedding", None)
        if embedding is not None:
            out.edge_embedding = torch.cat([embedding, embedding.new_zeros(2 * n, x.shape[1])])
        key = getattr(batch, "topology_key", None)
        if key is not None:
            out.topology_key = f"{key}/virtual_node"
        states = x.new_empty(n + graphs, x.shape[1])
        states = states.index_copy(0, position, x).index_copy(
            0, virtual, self.state.expand(graphs, -1)
        )
        return states, out, position
