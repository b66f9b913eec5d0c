"""GraphSAGE (Hamilton, Ying & Leskovec, NeurIPS 2017) over PyG's `SAGEConv`:

    x'_u = W_1 x_u + W_2 AGG_{v in N(u)} x_v        (AGG: mean by default; sum, max, min)

The node enters through its own weight W_1 (`root_weight`), not through a self-loop.
"""

from torch_geometric.nn import SAGEConv

from baselines.stack import ConvStack
from benchmarks.core.errors import check_choice

AGGREGATIONS = ("mean", "sum", "max", "min")


class GraphSAGE(ConvStack):
    """A `ConvStack` of `SAGEConv(dim, dim)`.

    Args (besides `ConvStack`'s):
        aggr (str): mean | sum | max | min, over the incoming edges. (default: mean)
        normalize (bool): L2-normalise each output row (SAGEConv's `normalize`). (default: False)
        project (bool): Linear + ReLU on the neighbours before aggregating (the paper's pooling
            aggregator when aggr is max). (default: False)

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
        aggr: str = "mean",
        normalize: bool = False,
        project: bool = False,
        **kwargs,
    ):
        check_choice("aggr", aggr, AGGREGATIONS)
        self.aggr, self.normalize, self.project = aggr, normalize, project
        super().__init__(dim, num_layers, **kwargs)

    def make_conv(self, dim: int) -> SAGEConv:
        return SAGEConv(dim, dim, aggr=self.aggr, normalize=self.normalize, project=self.project)
