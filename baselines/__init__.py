"""Baseline GNNs over PyG's convolution layers; each `forward(x [N, d], batch) -> [N, d]`."""

import os

# Intel OpenMP threads spin for 200 ms after each parallel region; on a 2-core machine that
# starves PyG's scatter kernels (GCN steps measured 45x slower). Read when torch first loads.
os.environ.setdefault("KMP_BLOCKTIME", "0")

from baselines.fully_adjacent import fully_adjacent_edges
from baselines.gat import GAT, GATv2
from baselines.gcn import GCN
from baselines.ggnn import GGNN
from baselines.gin import GIN
from baselines.stack import ConvStack

__all__ = ["GAT", "GATv2", "GCN", "GGNN", "GIN", "ConvStack", "fully_adjacent_edges"]
