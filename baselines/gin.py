"""GIN (Xu et al., ICLR 2019) over PyG's `GINConv`:

    x'_u = MLP((1 + eps) x_u + sum_{v in N(u)} x_v),
    MLP = Linear - [BatchNorm] - Act - Linear - [BatchNorm] - Act

(Alon & Yahav's Tree-NeighborsMatch GIN: Linear-BN-ReLU-Linear-BN-ReLU, eps = 0.)
"""

from torch import nn
from torch_geometric.nn import GINConv

from baselines.stack import ConvStack, make_activation
from benchmarks.errors import require


class GIN(ConvStack):
    """Args (besides `ConvStack`'s):
    mlp_norm: none | batch, inside the MLP.
    train_eps: learn eps.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        mlp_norm: str = "batch",
        train_eps: bool = False,
        **kwargs,
    ):
        self.mlp_norm, self.train_eps = mlp_norm, train_eps
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

        return GINConv(nn.Sequential(*block(), *block()), train_eps=self.train_eps)
