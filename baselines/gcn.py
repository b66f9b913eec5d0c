"""GCN (Kipf & Welling, ICLR 2017) over PyG's `GCNConv`:

x'_u = W sum_{v in N(u) + u} x_v / sqrt(deg(u) deg(v)) + b
"""

from torch_geometric.nn import GCNConv

from baselines.stack import ConvStack


class GCN(ConvStack):
    """A `ConvStack` of `GCNConv(d, d)` (self-loops, symmetric normalisation); the options are
    `ConvStack`'s.

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` (``hop_index`` with
          ``khop``; ``batch`` and ``readout_index`` with ``last_layer_fa``).
        - **output:** ``[N, d]``.
    """

    def make_conv(self, dim: int) -> GCNConv:
        return GCNConv(dim, dim)
