"""GIN (Xu et al., ICLR 2019) over PyG's `GINConv`:

    x'_u = MLP((1 + eps) x_u + sum_{v in N(u)} x_v),
    MLP = Linear - [BatchNorm] - Act - Linear - [BatchNorm] - Act   (mlp_layers = 2)
    MLP = Linear                                                    (mlp_layers = 1)

(Alon & Yahav's Tree-NeighborsMatch GIN: Linear-BN-ReLU-Linear-BN-ReLU, eps = 0; the SWAN and
A-DGN codes' GIN: GINConv(Linear), learnt eps.)

With `relational` (off by default; FoSR's R-GIN, kedar2/FoSR @1a7360c models/graph_model.py
27-41), a layer sums a root Linear and one GINConv per relation type r (`batch.edge_type`: 0 an
input edge, 1 an edge the rewiring added):

    x'_u = W_root x_u + b + sum_r MLP_r((1 + eps) x_u + sum_{v in N_r(u)} x_v)
"""

from torch import Tensor, nn
from torch_geometric.nn import GINConv

from baselines.stack import NUM_RELATIONS, ConvStack, check_relational, edge_types
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
        relational (bool): a root Linear plus one GINConv per relation type `batch.edge_type`
            (FoSR's R-GIN); needs the graph's own edges. (default: False)

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
        relational: bool = False,
        **kwargs,
    ):
        self.relational = check_relational(
            relational, kwargs.get("khop", False), kwargs.get("last_layer_fa", False)
        )
        check_positive_int("mlp_layers", mlp_layers)
        check_choice("mlp_norm", mlp_norm, MLP_NORMS)
        self.mlp_norm, self.train_eps, self.mlp_layers = mlp_norm, train_eps, mlp_layers
        self.mlp_act = kwargs.get("act", "relu")
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int) -> nn.Module:
        if self.relational:
            return RelationalGIN(dim, [self.make_gin(dim) for _ in range(NUM_RELATIONS)])
        return self.make_gin(dim)

    def apply_conv(self, conv: nn.Module, x: Tensor, edges: Tensor, batch, x_0: Tensor) -> Tensor:
        if self.relational:
            return conv(x, edges, edge_types(batch, edges))
        return conv(x, edges)

    def make_gin(self, dim: int) -> GINConv:
        def block() -> list[nn.Module]:
            norm = nn.BatchNorm1d(dim) if self.mlp_norm == "batch" else nn.Identity()
            return [nn.Linear(dim, dim), norm, make_activation(self.mlp_act)]

        if self.mlp_layers == 1:
            return GINConv(nn.Linear(dim, dim), train_eps=self.train_eps)
        layers = [module for _ in range(self.mlp_layers) for module in block()]
        return GINConv(nn.Sequential(*layers), train_eps=self.train_eps)


class RelationalGIN(nn.Module):
    """W_root x + b + sum_r GINConv_r(x, edges of type r) (FoSR's R-GIN).

    Args:
        dim: width d.
        convs: one `GINConv` per relation type.
    """

    def __init__(self, dim: int, convs: list[GINConv]):
        super().__init__()
        self.root = nn.Linear(dim, dim)
        self.convs = nn.ModuleList(convs)

    def reset_parameters(self) -> None:
        self.root.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        out = self.root(x)
        for relation, conv in enumerate(self.convs):
            out = out + conv(x, edge_index[:, edge_type == relation])
        return out
