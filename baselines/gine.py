r"""GINE, GIN with edge features (Hu, Liu, Gomes, Zitnik, Liang, Pande & Leskovec, "Strategies for
Pre-training Graph Neural Networks", ICLR 2020) over PyG's `GINEConv`:

.. math::
    x'_u = \mathrm{MLP}\left((1 + \epsilon) x_u
           + \sum_{v \in N(u)} \mathrm{ReLU}(x_v + e_{vu})\right),
    \qquad \mathrm{MLP} = \mathrm{Linear} - [\mathrm{BN}] - \mathrm{Act} - \mathrm{Dropout}
           - \mathrm{Linear} - [\mathrm{BN}]

e_vu [E, d] is the task's encoded edge feature (``batch.edge_embedding``) on the graph's own
edges, and zero when the task has none or a layer aggregates other pairs (k-hop, FA). The stack's
activation, dropout, residual and norm follow the MLP.
"""

from torch import Tensor, nn
from torch_geometric.nn import GINEConv

from baselines.gin import MLP_NORMS
from baselines.stack import ConvStack
from benchmarks.core.contract import check_probability, make_activation
from benchmarks.core.edges import edge_features
from benchmarks.core.errors import check_choice


class GINE(ConvStack):
    """A `ConvStack` of `GINEConv(MLP)` fed with the batch's edge features.

    Args (besides `ConvStack`'s):
        mlp_norm (str): none | batch, after each Linear of the MLP. (default: batch)
        mlp_act (str, optional): the MLP's activation; null: the stack's `act`. (default: null)
        mlp_dropout (float): dropout after the MLP's activation, in [0, 1). (default: 0)
        train_eps (bool): learn eps. (default: False)

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` and, when the task has
          edge features, ``edge_embedding`` ``[E, d]`` (``hop_index`` with ``khop``; ``batch``
          and ``readout_index`` with ``last_layer_fa``).
        - **output:** ``[N, d]``.
    """

    reads_edge_features = True  # the runner builds the task's edge encoder for it

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        mlp_norm: str = "batch",
        mlp_act: str | None = None,
        mlp_dropout: float = 0.0,
        train_eps: bool = False,
        **kwargs,
    ):
        check_choice("mlp_norm", mlp_norm, MLP_NORMS)
        check_probability("mlp_dropout", mlp_dropout)
        make_activation(mlp_act, "mlp_act")
        self.mlp_norm, self.mlp_dropout, self.train_eps = mlp_norm, mlp_dropout, train_eps
        self.mlp_act = kwargs.get("act", "relu") if mlp_act is None else mlp_act
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int) -> GINEConv:
        def norm() -> nn.Module:
            return nn.BatchNorm1d(dim) if self.mlp_norm == "batch" else nn.Identity()

        mlp = nn.Sequential(
            nn.Linear(dim, dim),
            norm(),
            make_activation(self.mlp_act),
            nn.Dropout(self.mlp_dropout),
            nn.Linear(dim, dim),
            norm(),
        )
        return GINEConv(mlp, train_eps=self.train_eps)

    def apply_conv(self, conv: nn.Module, x: Tensor, edges: Tensor, batch, x_0: Tensor) -> Tensor:
        return conv(x, edges, edge_features(batch, edges, x))
