"""GraphSAGE (Hamilton, Ying & Leskovec, NeurIPS 2017) over PyG's `SAGEConv`:

    x'_u = W_1 x_u + W_2 AGG_{v in N(u)} x_v        (AGG: mean by default; sum, max, min)

The node enters through its own weight W_1 (`root_weight`), not through a self-loop.
"""

from torch_geometric.nn import SAGEConv

from baselines.stack import ConvStack
from benchmarks.core.errors import require

AGGREGATIONS = ("mean", "sum", "max", "min")


class GraphSAGE(ConvStack):
    """A `ConvStack` of `SAGEConv(dim, dim)`.

    Args (besides `ConvStack`'s):
        aggr: mean | sum | max | min, over the incoming edges.
        normalize: L2-normalise each output row (SAGEConv's `normalize`).
        project: Linear + ReLU on the neighbours before aggregating (the paper's pooling
            aggregator when aggr is max).
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        aggr: str = "mean",
        normalize: bool = False,
        project: bool = False,
        **kwargs,
    ):
        require(aggr in AGGREGATIONS, "model.aggr", f"must be one of {AGGREGATIONS}, got {aggr!r}")
        self.aggr, self.normalize, self.project = aggr, normalize, project
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int) -> SAGEConv:
        return SAGEConv(dim, dim, aggr=self.aggr, normalize=self.normalize, project=self.project)
