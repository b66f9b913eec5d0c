r"""Graph LSTM: the classic LSTM cell (Hochreiter & Schmidhuber, 1997) with the layer index as time,
the baseline xLSTM improves on."""

from __future__ import annotations

from torch import Tensor, nn

from glstm.cell_stack import CellStack


class LSTMStep(nn.LSTMCell):
    r"""torch's :class:`~torch.nn.LSTMCell` in the cell interface of
    :class:`~glstm.cell_stack.CellStack`: sigmoid gates, one cell vector per node.

    .. math::
        (i, f, g, o) &= (\sigma, \sigma, \tanh, \sigma)(W a + U h^{prev} + b) \\
        c &= f \odot c^{prev} + i \odot g,\qquad h = o \odot \tanh(c)

    from h = c = 0.

    Shapes:
        - **input:** a ``[N, F]``, state ``(h, c)`` each ``[N, D]`` or ``None``.
        - **output:** h ``[N, D]``, the new state.
    """

    def forward(self, a: Tensor, state: tuple[Tensor, Tensor] | None = None):
        h, c = super().forward(a, state)
        return h, (h, c)


class GraphLSTM(CellStack):
    r"""Graph LSTM: every node carries an LSTM state (h, c) across the layers, fed with its own
    state and the aggregate of its neighbours' (:class:`~glstm.cell_stack.CellStack` for the
    layer, :class:`LSTMStep` for the cell), maps node states ``[N, d] -> [N, d]``.

    State per node: 2 D floats (h, c). The read-out's GroupNorm has one group (a LayerNorm on h).

    Args:
        dim (int): node width d.
        num_layers (int): L.
        hidden_dim (int, optional): D. (default: ``dim``)
        **kwargs: the options of :class:`~glstm.cell_stack.CellStack` (``aggr``, ``khop``,
            ``share_weights``, ``last_layer_fa``, ``input_norm``, ``hidden_norm``, ``act``,
            ``dropout``).
    """

    def __init__(self, dim: int, num_layers: int, **kwargs):
        super().__init__(dim, num_layers, heads=1, **kwargs)

    def make_cell(self, input_size: int, first: bool) -> LSTMStep:
        return LSTMStep(input_size, self.hidden_dim)

    @property
    def state_floats(self) -> int:
        return 2 * self.hidden_dim
