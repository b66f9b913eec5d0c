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
from benchmarks.core.errors import require


class GIN(ConvStack):
    """Args (besides `ConvStack`'s):
    mlp_norm: none | batch, inside the MLP.
    train_eps: learn eps.
    mlp_layers: blocks Linear-[BN]-Act in the MLP; 1 is a plain Linear.
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
        require(
            isinstance(mlp_layers, int) and mlp_layers >= 1,
            "model.mlp_layers",
            f"must be a positive integer, got {mlp_layers!r}",
        )
        self.mlp_norm, self.train_eps, self.mlp_layers = mlp_norm, train_eps, mlp_layers
        self.mlp_act = kwargs.get("act", "relu")
        require(
            mlp_norm in ("none", "batch"),
            "model.mlp_norm",
            f"must be 'none' or 'batch', got {mlp_norm!r}",
        )
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int) -> GINConv:
        def block() -> list[nn.Module]:
            norm = nn.BatchNorm1d(dim) if self.mlp_norm == "batch" else nn.Identity()
            return [nn.Linear(dim, dim), norm, make_activation(self.mlp_act)]

        if self.mlp_layers == 1:
            return GINConv(nn.Linear(dim, dim), train_eps=self.train_eps)
        layers = [module for _ in range(self.mlp_layers) for module in block()]
        return GINConv(nn.Sequential(*layers), train_eps=self.train_eps)
