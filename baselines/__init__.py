"""Baseline GNNs over PyG's convolution layers; each `forward(x [N, d], batch) -> [N, d]`."""

from baselines.gat import GAT, GATv2
from baselines.gcn import GCN
from baselines.gin import GIN
from baselines.stack import ConvStack

__all__ = ["GAT", "GATv2", "GCN", "GIN", "ConvStack"]
