"""A gLSTM block: L layers sharing one node memory."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from glstm.layer import GLSTMLayer
from glstm.memory import Memory
from glstm.sparse import Adjacency


class GLSTMBlock(nn.Module):
    r"""L gLSTM layers run in sequence on one memory that starts at C = 0, n = 1 (or 0), m = 0.

    .. math::
        x^{(l)} = \mathrm{GLSTMLayer}_l(x^{(l-1)}, N_l, \text{memory}), \qquad l = 1..L

    With ``recompute``, while gradients are recorded each layer keeps only what it hands on (its
    output x and its writes to the memory) and runs again in the backward pass to rebuild its
    intermediate tensors (``torch.utils.checkpoint`` without reentry, from x and a snapshot of the
    memory as the layer found it; the RNG state is restored, so dropout draws the same masks). The
    outputs and gradients are those without it; second derivatives go through it as well.

    Args:
        num_layers (int): L.
        share_weights (bool): one set of layer weights for all L layers.
        recompute (bool): recompute each layer in the backward pass instead of keeping its
            intermediate tensors. (default: False)
        **layer_kwargs: arguments of :class:`~glstm.layer.GLSTMLayer`.
    """

    def __init__(
        self,
        num_layers: int,
        share_weights: bool = False,
        recompute: bool = False,
        **layer_kwargs,
    ):
        super().__init__()
        self.num_layers, self.share_weights, self.recompute = num_layers, share_weights, recompute
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
        recompute = self.recompute and torch.is_grad_enabled()
        if recompute:
            memory.regenerate = True
        for i, neighbourhood in enumerate(neighbourhoods[: self.num_layers]):
            layer = self.layers[0 if self.share_weights else i]
            if recompute:
                x = recomputed_layer(layer, x, neighbourhood, memory)
            else:
                x = layer(x, neighbourhood, memory)
        return x


def recomputed_layer(layer: GLSTMLayer, x: Tensor, adj: Adjacency, memory: Memory) -> Tensor:
    """``layer(x, adj, memory)``, saving none of the layer's intermediate tensors for the backward
    pass, which recomputes them from x and the memory as it is now.

    Returns:
        Tensor ``[N, d]``; ``memory`` is updated in place as by the layer itself.
    """
    before = memory.snapshot()

    def run(x: Tensor) -> tuple[Tensor, Memory]:
        scratch = before.snapshot()  # every run starts from the memory the layer found
        return layer(x, adj, scratch), scratch

    x, after = checkpoint(run, x, use_reentrant=False)
    memory.load(after)
    return x
