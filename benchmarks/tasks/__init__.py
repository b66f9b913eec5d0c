"""Over-squashing tasks. Each task config names its class with `_target_`."""

from benchmarks.tasks.base import Task
from benchmarks.tasks.gpp import GPP
from benchmarks.tasks.graph_list import GraphList
from benchmarks.tasks.graph_transfer import GraphTransfer
from benchmarks.tasks.graphs import GraphSet, Topology
from benchmarks.tasks.nar import NAR, NARR
from benchmarks.tasks.peptides import Peptides
from benchmarks.tasks.ring_transfer import RingTransfer
from benchmarks.tasks.tree_neighbors_match import TreeNeighborsMatch

__all__ = [
    "GPP",
    "NAR",
    "NARR",
    "GraphList",
    "GraphSet",
    "GraphTransfer",
    "Peptides",
    "RingTransfer",
    "Task",
    "Topology",
    "TreeNeighborsMatch",
]
