"""gLSTM: graph message passing with an xLSTM matrix memory per node."""

from glstm.block import GLSTMBlock
from glstm.layer import GLSTMLayer
from glstm.memory import Memory, ParallelMemory, RecurrentMemory
from glstm.model import GLSTM
from glstm.sparse import Adjacency

__all__ = [
    "GLSTM",
    "GLSTMBlock",
    "GLSTMLayer",
    "Memory",
    "RecurrentMemory",
    "ParallelMemory",
    "Adjacency",
]
