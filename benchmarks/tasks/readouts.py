"""Readouts: node states h [N, dim] -> predictions, at one node per graph, at every node, or pooled.

Each readout states where its predictions live with `per_node`: one row per node ([N, out]) or
one row per graph ([B, out]); the task's targets (`batch.y`) have the same rows.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import MLP
from torch_geometric.nn.aggr import MultiAggregation


class NodeReadout(nn.Module):
    """prediction = Linear(h[readout node of each graph]): [N, dim] -> [B, out]."""

    per_node = False

    def __init__(self, dim: int, out: int, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(dim, out, bias=bias)

    def forward(self, h: Tensor, batch) -> Tensor:
        return self.linear(h[batch.readout_index])


class PerNodeReadout(nn.Module):
    """prediction_u = MLP(h_u) for every node u: [N, dim] -> [N, out].

    Args:
        dim: node width; out: outputs per node.
        hidden: widths of the MLP's hidden layers ([] : one Linear).
        act: the MLP's activation (PyG's resolver names).
        act_last: apply the activation to the output too (A-DGN's GPP heads do).
    """

    per_node = True

    def __init__(
        self,
        dim: int,
        out: int,
        hidden: tuple[int, ...] = (),
        act: str = "relu",
        act_last: bool = False,
    ):
        super().__init__()
        self.mlp = MLP([dim, *hidden, out], act=act, norm=None, plain_last=not act_last)

    def forward(self, h: Tensor, batch) -> Tensor:
        return self.mlp(h)


class PooledReadout(nn.Module):
    """prediction_b = MLP(concat_a pool_a({h_u : u in graph b})): [N, dim] -> [B, out].

    Args:
        dim: node width; out: outputs per graph.
        pools: PyG aggregations concatenated, e.g. ("sum", "max", "mean") or ("mean",).
        hidden: widths of the MLP's hidden layers.
        act: the MLP's activation.
        act_last: apply the activation to the output too.
        dropout: Dropout before each Linear of the MLP (GraphGPS's graph head, Tönshoff et al.'s
            0.1: toenshoff/LRGB @c3500cb graphgps/head/mlp_graph.py 27-38). (default: 0)
    """

    per_node = False

    def __init__(
        self,
        dim: int,
        out: int,
        pools: tuple[str, ...] = ("mean",),
        hidden: tuple[int, ...] = (),
        act: str = "relu",
        act_last: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.pool = MultiAggregation(list(pools), mode="cat")
        width = dim * len(pools)
        # PyG's MLP drops out after each hidden activation; with the input's, before each Linear
        self.input_dropout = nn.Dropout(dropout)
        self.mlp = MLP(
            [width, *hidden, out], act=act, norm=None, plain_last=not act_last, dropout=dropout
        )

    def forward(self, h: Tensor, batch) -> Tensor:
        pooled = self.pool(h, batch.batch, dim_size=batch.num_graphs)
        return self.mlp(self.input_dropout(pooled))
