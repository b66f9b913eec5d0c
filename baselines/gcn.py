"""GCN (Kipf & Welling, ICLR 2017) over PyG's `GCNConv`:

x'_u = W sum_{v in N(u) + u} x_v / sqrt(deg(u) deg(v)) + b

With `relational` (off by default; FoSR's R-GCN, kedar2/FoSR @1a7360c models/graph_model.py), each
layer is PyG's `RGCNConv` with 2 relations instead (Schlichtkrull et al. 2018):

x'_u = W_root x_u + sum_r mean_{v in N_r(u)} W_r x_v + b

with r the edge type `batch.edge_type` (0 an input edge, 1 an edge the rewiring added).
"""

from torch import Tensor, nn
from torch_geometric.nn import GCNConv, RGCNConv

from baselines.stack import NUM_RELATIONS, ConvStack, check_relational, edge_types


class GCN(ConvStack):
    """A `ConvStack` of `GCNConv(d, d)` (self-loops, symmetric normalisation); the options are
    `ConvStack`'s and `relational` (bool, default False: `RGCNConv(d, d, 2)` over
    `batch.edge_type`; needs the graph's own edges).

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` (``hop_index`` with
          ``khop``; ``batch`` and ``readout_index`` with ``last_layer_fa``; ``edge_type``
          ``[E]`` with ``relational``).
        - **output:** ``[N, d]``.
    """

    def __init__(self, dim: int, num_layers: int, *, relational: bool = False, **kwargs):
        self.relational = check_relational(
            relational, kwargs.get("khop", False), kwargs.get("last_layer_fa", False)
        )
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int) -> nn.Module:
        if self.relational:
            return RGCNConv(dim, dim, NUM_RELATIONS)
        return GCNConv(dim, dim)

    def apply_conv(self, conv: nn.Module, x: Tensor, edges: Tensor, batch, x_0: Tensor) -> Tensor:
        if self.relational:
            return conv(x, edges, edge_types(batch, edges))
        return conv(x, edges)
