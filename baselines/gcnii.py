r"""GCNII (Chen, Wei, Huang, Ding & Li, "Simple and Deep Graph Convolutional Networks", ICML 2020)
over PyG's `GCN2Conv`: layer l (1-based) with the stack's input x_0 (the initial residual),

.. math::
    x'_u = \left((1 - \alpha) \hat{P} x + \alpha x_0\right)_u
           \left((1 - \beta_l) I + \beta_l W_l\right),
    \qquad \beta_l = \log(\theta / l + 1)

where :math:`\hat{P} = \tilde{D}^{-1/2} (A + I) \tilde{D}^{-1/2}` (GCN normalisation with
self-loops). With ``theta`` null, beta = 1 in every layer (no identity mapping; PyG's
``GCN2Conv`` default, and what the A-DGN paper's GCNII baseline ran).
"""

from torch import Tensor, nn
from torch_geometric.nn import GCN2Conv

from baselines.stack import ConvStack
from benchmarks.core.errors import require


class GCNII(ConvStack):
    """A `ConvStack` of `GCN2Conv(dim, alpha, theta, layer=l)`; x_0 is the stack's input.

    Args (besides `ConvStack`'s):
        alpha (float): weight of the initial residual x_0, in [0, 1]. (default: 0.1)
        theta (float, optional): beta_l = log(theta / l + 1); null: beta = 1. (default: 0.5)
        share_weights (bool): one W for every layer; beta_l still follows the layer index.
            (default: False)

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
        alpha: float = 0.1,
        theta: float | None = 0.5,
        **kwargs,
    ):
        require(0.0 <= alpha <= 1.0, "alpha", f"must be in [0, 1], got {alpha}")
        require(theta is None or theta > 0, "theta", f"must be positive or null, got {theta}")
        self.alpha, self.theta = alpha, theta
        super().__init__(dim, num_layers, **kwargs)

    def make_convs(self, dim: int, num_layers: int, share_weights: bool) -> list[nn.Module]:
        convs = [
            GCN2Conv(dim, self.alpha, self.theta, layer=None if self.theta is None else layer)
            for layer in range(1, num_layers + 1)
        ]
        if share_weights:  # one W, tied across the layers' own beta_l
            for conv in convs[1:]:
                conv.weight1 = convs[0].weight1
        return convs

    def apply_conv(self, conv: nn.Module, x: Tensor, edges: Tensor, batch, x_0: Tensor) -> Tensor:
        return conv(x, x_0, edges)
