"""The xLSTM family on graphs: gLSTM (matrix memory), graph sLSTM and graph LSTM (scalar memory)."""

from glstm.block import GLSTMBlock
from glstm.cell_stack import CellStack
from glstm.layer import GLSTMLayer
from glstm.lstm import GraphLSTM, LSTMStep
from glstm.memory import Memory, ParallelMemory, RecurrentMemory
from glstm.model import GLSTM
from glstm.slstm import GraphSLSTM, SLSTMCell
from glstm.sparse import Adjacency

__all__ = [
    "GLSTM",
    "GLSTMBlock",
    "GLSTMLayer",
    "Memory",
    "RecurrentMemory",
    "ParallelMemory",
    "Adjacency",
    "CellStack",
    "GraphSLSTM",
    "SLSTMCell",
    "GraphLSTM",
    "LSTMStep",
]
