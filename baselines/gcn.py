"""GCN (Kipf & Welling, ICLR 2017) over PyG's `GCNConv`:

x'_u = W sum_{v in N(u) + u} x_v / sqrt(deg(u) deg(v)) + b
"""

from torch_geometric.nn import GCNConv

from baselines.stack import ConvStack


class GCN(ConvStack):
    """A `ConvStack` of `GCNConv(dim, dim)`; see `ConvStack` for the options."""

    def make_conv(self, dim: int) -> GCNConv:
        return GCNConv(dim, dim)
