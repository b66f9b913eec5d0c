"""Baseline GNNs over PyG's convolution layers; each `forward(x [N, d], batch) -> [N, d]`."""

from baselines.adgn import ADGN
from baselines.drew import DRewGCN
from baselines.gat import GAT
from baselines.gatedgcn import GatedGCN, GatedGCNLayer
from baselines.gatv2 import GATv2
from baselines.gcn import GCN
from baselines.gcnii import GCNII
from baselines.ggnn import GGNN
from baselines.gin import GIN
from baselines.gine import GINE
from baselines.gnn_ssm import GCNSSM
from baselines.gps import GPS
from baselines.sage import GraphSAGE
from baselines.stack import ConvStack

__all__ = [
    "ADGN",
    "GAT",
    "GATv2",
    "GCN",
    "GCNII",
    "GCNSSM",
    "GGNN",
    "GIN",
    "GINE",
    "GPS",
    "ConvStack",
    "DRewGCN",
    "GatedGCN",
    "GatedGCNLayer",
    "GraphSAGE",
]
