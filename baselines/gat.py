"""GAT (Velickovic et al., ICLR 2018) and GATv2 (Brody et al., ICLR 2022) over PyG's convs:

    x'_u = ||_{heads} sum_{v in N(u) + u} alpha_uv W x_v,
    GAT:   alpha_uv = softmax_v LeakyReLU(a^T [W x_u || W x_v])
    GATv2: alpha_uv = softmax_v a^T LeakyReLU(W [x_u || x_v])

Heads are concatenated, each of width dim / heads (the gLSTM paper's code used GATv2 for "GAT").
"""

from torch_geometric.nn import GATConv, GATv2Conv

from baselines.stack import ConvStack
from benchmarks.core.errors import require


class GAT(ConvStack):
    """Args (besides `ConvStack`'s): heads: attention heads; dim must divide by it."""

    conv_class = GATConv

    def __init__(self, dim: int, num_layers: int, *, heads: int = 4, **kwargs):
        require(
            isinstance(heads, int) and heads > 0,
            "model.heads",
            f"must be a positive integer, got {heads!r}",
        )
        require(
            dim % heads == 0, "model.dim", f"must be divisible by model.heads={heads}, got {dim}"
        )
        self.heads = heads
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int):
        return self.conv_class(dim, dim // self.heads, heads=self.heads)


class GATv2(GAT):
    conv_class = GATv2Conv
