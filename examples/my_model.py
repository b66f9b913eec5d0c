"""An example of a user's own model, outside the package: a residual MLP over PyG's `GCNConv`.

    h^{l+1} = h^l + MLP(LayerNorm(GCNConv(h^l, E_l)))

where E_l is the graph's `edge_index`, or with `khop` the pairs at distance exactly l
(`batch.hop_index[l - 1]`, the option the NAR sweeps set).

`examples/conf/model/mine.yaml` names it; README "Your own model" shows how to run and rank it.
"""

import torch
from torch_geometric.nn import MLP, GCNConv


class ResidualGCN(torch.nn.Module):
    """`num_layers` residual blocks h <- h + MLP(LayerNorm(GCNConv(h, E_l))) at width `dim`.

    Args:
        dim (int): node state width D (the runner passes the task's or the config's width).
        num_layers (int): number of blocks (the runner passes the task's default when the config
            says null).
        hidden_factor (int): the MLP's hidden width is hidden_factor x D. (default: 2)
        dropout (float): dropout inside the MLP. (default: 0.0)
        khop (bool): block l aggregates over the pairs at distance exactly l instead of the
            graph's edges. (default: False)

    Shapes:
        x: FloatTensor[num_nodes, D], batch: the PyG `Batch` (`edge_index`, `hop_index`) ->
        FloatTensor[num_nodes, D].
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        hidden_factor: int = 2,
        dropout: float = 0.0,
        khop: bool = False,
    ):
        super().__init__()
        self.khop = khop
        self.convs = torch.nn.ModuleList(GCNConv(dim, dim) for _ in range(num_layers))
        self.norms = torch.nn.ModuleList(torch.nn.LayerNorm(dim) for _ in range(num_layers))
        self.mlps = torch.nn.ModuleList(
            MLP([dim, hidden_factor * dim, dim], dropout=dropout, norm=None)
            for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, batch) -> torch.Tensor:
        h = x
        blocks = zip(self.convs, self.norms, self.mlps, strict=True)
        for layer, (conv, norm, mlp) in enumerate(blocks, start=1):
            edges = batch.hop_index[layer - 1] if self.khop else batch.edge_index
            h = h + mlp(norm(conv(h, edges)))
        return h
