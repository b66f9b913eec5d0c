"""Baseline GNNs over PyG's convolution layers; each `forward(x [N, d], batch) -> [N, d]`."""

from baselines.fully_adjacent import fully_adjacent_edges
from baselines.gat import GAT, GATv2
from baselines.gcn import GCN
from baselines.ggnn import GGNN
from baselines.gin import GIN
from baselines.stack import ConvStack

__all__ = ["GAT", "GATv2", "GCN", "GGNN", "GIN", "ConvStack", "fully_adjacent_edges"]
