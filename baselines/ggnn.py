r"""GGNN, gated graph neural network (Li, Tarlow, Brockschmidt & Zemel, "Gated Graph Sequence Neural
Networks", ICLR 2016), one PyG ``GatedGraphConv(dim, num_layers=1)`` per layer:

.. math::
    m_u = \sum_{v \in N(u)} W x_v, \qquad x'_u = \mathrm{GRUCell}(m_u, x_u)

i.e. a GRU whose input is the summed messages and whose hidden state is the node's state
(r = sigma(W_r m + U_r x), z = sigma(W_z m + U_z x), x~ = tanh(W_h m + r * (U_h x)),
x' = (1 - z) * x~ + z * x). As in Alon & Yahav's Tree-NeighborsMatch GGNN, a layer has no
activation, residual or norm by default: the GRU already gates the update. N(u) is u's incoming
edges only (``GatedGraphConv`` adds no self-loop; u enters through the GRU's hidden state).
"""

from torch_geometric.nn import GatedGraphConv

from baselines.stack import ConvStack


class GGNN(ConvStack):
    """A `ConvStack` of `GatedGraphConv(d, num_layers=1)`; the options are `ConvStack`'s, with
    `residual` (default: False), `norm` (default: none) and `act` (default: none) off by default.

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` (``hop_index`` with
          ``khop``; ``batch`` and ``readout_index`` with ``last_layer_fa``).
        - **output:** ``[N, d]``.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        residual: bool = False,
        norm: str = "none",
        act: str = "none",
        **kwargs,
    ):
        super().__init__(dim, num_layers, residual=residual, norm=norm, act=act, **kwargs)

    def make_conv(self, dim: int) -> GatedGraphConv:
        return GatedGraphConv(dim, num_layers=1)
