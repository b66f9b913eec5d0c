r"""GATv2 (Brody, Alon & Yahav, "How Attentive are Graph Attention Networks?", ICLR 2022), over
PyG's ``GATv2Conv``:

.. math::
    x'_u = \big\Vert_{h=1}^{H} \sum_{v \in N(u) \cup \{u\}} \alpha^h_{uv} W^h x_v,
    \qquad \alpha^h_{uv} = \mathrm{softmax}_v\,
    a^{h\top} \mathrm{LeakyReLU}\big(W^h [x_u \,\Vert\, x_v]\big)

H heads, each of width d / H, concatenated (so d must divide by H). Applying a after the
nonlinearity makes the attention "dynamic": each receiver u can rank its neighbours differently,
which GAT's cannot. The gLSTM paper's code used this layer for its "GAT" baseline.
"""

from torch_geometric.nn import GATv2Conv

from baselines.gat import GAT


class GATv2(GAT):
    """A `ConvStack` of `GATv2Conv(d, d / H, heads=H)`; the options are `GAT`'s.

    Args (besides `ConvStack`'s):
        heads (int): H, attention heads; d must divide by it. (default: 4)

    Shapes: forward(x [N, d], batch) -> [N, d]; each head [N, d / H].
    """

    conv_class = GATv2Conv
