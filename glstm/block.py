"""A gLSTM block: L layers sharing one node memory."""

from __future__ import annotations

from torch import Tensor, nn

from glstm.layer import GLSTMLayer
from glstm.memory import Memory
from glstm.sparse import Adjacency


class GLSTMBlock(nn.Module):
    r"""L gLSTM layers run in sequence on one memory that starts at C = 0, n = 1 (or 0), m = 0.

    .. math::
        x^{(l)} = \mathrm{GLSTMLayer}_l(x^{(l-1)}, N_l, \text{memory}), \qquad l = 1..L

    Args:
        num_layers (int): L.
        share_weights (bool): one set of layer weights for all L layers.
        **layer_kwargs: arguments of :class:`~glstm.layer.GLSTMLayer`.
    """

    def __init__(self, num_layers: int, share_weights: bool = False, **layer_kwargs):
        super().__init__()
        self.num_layers, self.share_weights = num_layers, share_weights
        self.layers = nn.ModuleList(
            GLSTMLayer(**layer_kwargs) for _ in range(1 if share_weights else num_layers)
        )

    def reset_parameters(self):
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, x: Tensor, neighbourhoods: list[Adjacency], memory: Memory) -> Tensor:
        """
        Args:
            x (Tensor): node states ``[N, d]``.
            neighbourhoods (list[Adjacency]): N_l for l = 1..L.
            memory (Memory): a fresh memory (recurrent or parallel form); updated in place.

        Returns:
            Tensor ``[N, d]``.
        """
        for i, neighbourhood in enumerate(neighbourhoods[: self.num_layers]):
            layer = self.layers[0 if self.share_weights else i]
            x = layer(x, neighbourhood, memory)
        return x
