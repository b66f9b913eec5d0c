r"""GatedGCN, residual gated graph convolution with edge states (Bresson & Laurent, "Residual Gated
Graph ConvNets", 2017, in the form of Dwivedi et al.'s "Benchmarking Graph Neural Networks" and of
GraphGPS / LRGB). One layer, for every edge v -> u with state e_uv:

.. math::
    \hat{e}_{uv} = A h_u + B h_v + C e_{uv}, \qquad \sigma_{uv} = \mathrm{sigmoid}(\hat{e}_{uv})

    h'_u = h_u + \mathrm{Dropout}\,\mathrm{Act}\,\mathrm{Norm}\Big(U h_u
           + \frac{\sum_{v \in N(u)} \sigma_{uv} \odot V h_v}
                  {\sum_{v \in N(u)} \sigma_{uv} + 10^{-6}}\Big)

    e'_{uv} = e_{uv} + \mathrm{Dropout}\,\mathrm{Act}\,\mathrm{Norm}(\hat{e}_{uv})

(Norm: BatchNorm, Act: ReLU by default; dropout before the residual, as GraphGPS's layer, which
produced the LRGB numbers). PyG's ``ResGatedGraphConv`` is only the gate, so the layer is written
here from the papers. Edge states start from the task's encoded edge features
(``batch.edge_embedding``, zeros when it has none) and are carried from layer to layer while the
layers aggregate the graph's own edges; a layer over other pairs (k-hop sets, the FA layer) starts
from zero states.
"""

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from baselines.stack import ConvStack
from benchmarks.core.contract import NORMS, check_model_options, make_activation
from benchmarks.core.edges import edge_features
from benchmarks.core.errors import require

EPS = 1e-6  # in the denominator of the gated mean (GraphGPS, benchmarking-gnns)


class GatedGCNLayer(MessagePassing):
    """One GatedGCN layer (module docstring); A, B, C, U, V are Linear(d, d) with biases.

    Args:
        dim: node and edge width d.
        act: activation name.
        norm: none | layer | batch, on the node and the edge update.
        dropout: after the activation, on both updates.
        residual: add h_u and e_uv to their updates.
        edge_states: whether the layer can compute new edge states (false for a last layer,
            whose would go unused).

    Shapes: forward(x [N, d], edge_index [2, E], edge_state [E, d], update_edges) ->
    (x' [N, d], e' [E, d]); e' is the input edge_state when `update_edges` is false.
    """

    def __init__(
        self,
        dim: int,
        *,
        act: str = "relu",
        norm: str = "batch",
        dropout: float = 0.0,
        residual: bool = True,
        edge_states: bool = True,
    ):
        super().__init__(aggr="add")
        self.gate_receiver = nn.Linear(dim, dim)  # A
        self.gate_sender = nn.Linear(dim, dim)  # B
        self.gate_edge = nn.Linear(dim, dim)  # C
        self.lin_self = nn.Linear(dim, dim)  # U
        self.lin_neighbour = nn.Linear(dim, dim)  # V
        self.node_norm = NORMS[norm](dim)
        self.edge_norm = NORMS[norm](dim) if edge_states else None
        self.act = make_activation(act)
        self.dropout = nn.Dropout(dropout)
        self.residual = residual

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for module in self.children():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_state: Tensor, update_edges: bool = True
    ) -> tuple[Tensor, Tensor]:
        gate_input = self.edge_updater(  # ê [E, d]
            edge_index,
            receiver=self.gate_receiver(x),
            sender=self.gate_sender(x),
            edge=self.gate_edge(edge_state),
        )
        weighted = self.propagate(  # [N, 2d]: sum sigma * V h_v | sum sigma
            edge_index, value=self.lin_neighbour(x), gate=torch.sigmoid(gate_input)
        )
        numerator, denominator = weighted.chunk(2, dim=-1)
        h = self.lin_self(x) + numerator / (denominator + EPS)
        h = self.dropout(self.act(self.node_norm(h)))
        x = x + h if self.residual else h
        if not update_edges:
            return x, edge_state
        require(
            self.edge_norm is not None,
            "update_edges",
            "this GatedGCN layer was built without edge states (edge_states=false)",
        )
        e = self.dropout(self.act(self.edge_norm(gate_input)))
        return x, edge_state + e if self.residual else e

    def edge_update(self, receiver_i: Tensor, sender_j: Tensor, edge: Tensor) -> Tensor:
        return receiver_i + sender_j + edge

    def message(self, value_j: Tensor, gate: Tensor) -> Tensor:
        return torch.cat([gate * value_j, gate], dim=-1)


class GatedGCN(ConvStack):
    """A stack of `GatedGCNLayer`s with `ConvStack`'s khop, share_weights and last_layer_fa.

    The layer owns its residual, norm, activation and dropout (on nodes and edges), so those
    options go to it; their defaults are the paper's.

    Args (`ConvStack`'s, with these defaults):
        residual (bool): (default: True)
        norm (str): (default: batch)
        act (str): (default: relu)
        dropout (float): (default: 0)

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` and, when the task has
          edge features, ``edge_embedding`` ``[E, d]`` (``hop_index`` with ``khop``; ``batch``
          and ``readout_index`` with ``last_layer_fa``).
        - **output:** ``[N, d]``; edge states ``[E_l, d]`` inside.
    """

    reads_edge_features = True  # the runner builds the task's edge encoder for it

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        residual: bool = True,
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.0,
        **kwargs,
    ):
        check_model_options(residual=residual, norm=norm, act=act, dropout=dropout)
        self.layer_options = dict(act=act, norm=norm, dropout=dropout, residual=residual)
        super().__init__(dim, num_layers, residual=False, norm="none", act="none", **kwargs)

    def carries_edge_states(self, layer: int) -> bool:
        """Whether layer `layer` (1-based) hands its edge states to the next layer: both
        aggregate the graph's own edges (not k-hop sets, not the FA layer)."""
        next_is_fa = self.last_layer_fa and layer + 1 == self.num_layers
        return layer < self.num_layers and not self.khop and not next_is_fa

    def make_convs(self, dim: int, num_layers: int, share_weights: bool) -> list[nn.Module]:
        carries = [self.carries_edge_states(layer) for layer in range(1, num_layers + 1)]
        if share_weights:
            return [GatedGCNLayer(dim, edge_states=any(carries), **self.layer_options)] * num_layers
        return [GatedGCNLayer(dim, edge_states=c, **self.layer_options) for c in carries]

    def forward(self, x: Tensor, batch) -> Tensor:
        edge_state = None
        for layer, conv in enumerate(self.convs, start=1):
            edges = self.edges_of_layer(batch, layer)
            if edge_state is None:  # nothing carried over: the task's features or zeros
                edge_state = edge_features(batch, edges, x)  # [E_l, d]
            carried = self.carries_edge_states(layer)
            x, edge_state = conv(x, edges, edge_state, update_edges=carried)
            edge_state = edge_state if carried else None
        return x
