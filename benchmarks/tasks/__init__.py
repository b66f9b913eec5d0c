"""Over-squashing tasks. Each task config names its class with `_target_`."""

from benchmarks.tasks.base import Task
from benchmarks.tasks.graph_list import GraphList
from benchmarks.tasks.graph_transfer import GraphTransfer
from benchmarks.tasks.graphs import GraphSet, Topology
from benchmarks.tasks.nar import NAR, NARR
from benchmarks.tasks.ring_transfer import RingTransfer
from benchmarks.tasks.tree_neighbors_match import TreeNeighborsMatch

__all__ = [
    "NAR",
    "NARR",
    "GraphList",
    "GraphSet",
    "GraphTransfer",
    "RingTransfer",
    "Task",
    "Topology",
    "TreeNeighborsMatch",
]
