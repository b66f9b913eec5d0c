r"""GAT, graph attention network (Velickovic, Cucurull, Casanova, Romero, Lio & Bengio, "Graph
Attention Networks", ICLR 2018), over PyG's ``GATConv``:

.. math::
    x'_u = \big\Vert_{h=1}^{H} \sum_{v \in N(u) \cup \{u\}} \alpha^h_{uv} W^h x_v,
    \qquad \alpha^h_{uv} = \mathrm{softmax}_v\,
    \mathrm{LeakyReLU}\big(a^{h\top} [W^h x_u \,\Vert\, W^h x_v]\big)

H heads, each of width d / H, concatenated (so d must divide by H). The attention is "static":
the ranking of the neighbours by alpha is the same for every receiver u (GATv2, ``baselines.gatv2``,
fixes that; the gLSTM paper's code used GATv2 for "GAT").
"""

from torch_geometric.nn import GATConv

from baselines.stack import ConvStack
from benchmarks.core.contract import check_divisible, check_model_options


class GAT(ConvStack):
    """A `ConvStack` of `GATConv(d, d / H, heads=H)`.

    Args (besides `ConvStack`'s):
        heads (int): H, attention heads; d must divide by it. (default: 4)

    Shapes: forward(x [N, d], batch) -> [N, d]; each head [N, d / H].
    """

    conv_class = GATConv

    def __init__(self, dim: int, num_layers: int, *, heads: int = 4, **kwargs):
        check_model_options(dim=dim, heads=heads)
        check_divisible("dim", dim, "heads", heads)
        self.heads = heads
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int):
        return self.conv_class(dim, dim // self.heads, heads=self.heads)
