"""GIN (Xu et al., ICLR 2019) over PyG's `GINConv`:

    x'_u = MLP((1 + eps) x_u + sum_{v in N(u)} x_v),
    MLP = Linear - [BatchNorm] - Act - Linear - [BatchNorm] - Act   (mlp_layers = 2)
    MLP = Linear                                                    (mlp_layers = 1)

(Alon & Yahav's Tree-NeighborsMatch GIN: Linear-BN-ReLU-Linear-BN-ReLU, eps = 0; the SWAN and
A-DGN codes' GIN: GINConv(Linear), learnt eps.)
"""

from torch import nn
from torch_geometric.nn import GINConv

from baselines.stack import ConvStack
from benchmarks.core.contract import make_activation
from benchmarks.core.errors import check_choice, check_positive_int

MLP_NORMS = ("none", "batch")


class GIN(ConvStack):
    """A `ConvStack` of `GINConv(MLP)`.

    Args (besides `ConvStack`'s):
        mlp_norm (str): none | batch, inside the MLP. (default: batch)
        train_eps (bool): learn eps (else eps = 0). (default: False)
        mlp_layers (int): blocks Linear-[BN]-Act in the MLP (their Act is the stack's `act`); 1 is
            a plain Linear. (default: 2)

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
        mlp_norm: str = "batch",
        train_eps: bool = False,
        mlp_layers: int = 2,
        **kwargs,
    ):
        check_positive_int("mlp_layers", mlp_layers)
        check_choice("mlp_norm", mlp_norm, MLP_NORMS)
        self.mlp_norm, self.train_eps, self.mlp_layers = mlp_norm, train_eps, mlp_layers
        self.mlp_act = kwargs.get("act", "relu")
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int) -> GINConv:
        def block() -> list[nn.Module]:
            norm = nn.BatchNorm1d(dim) if self.mlp_norm == "batch" else nn.Identity()
            return [nn.Linear(dim, dim), norm, make_activation(self.mlp_act)]

        if self.mlp_layers == 1:
            return GINConv(nn.Linear(dim, dim), train_eps=self.train_eps)
        layers = [module for _ in range(self.mlp_layers) for module in block()]
        return GINConv(nn.Sequential(*layers), train_eps=self.train_eps)
