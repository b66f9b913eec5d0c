r"""Graph sLSTM: xLSTM's scalar-memory cell with exponential gating and memory mixing (Beck et al.,
"xLSTM: Extended Long Short-Term Memory", NeurIPS 2024), with the layer index as time. No graph
sLSTM has been published; this one is ours."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks.core.errors import check_bool, check_choice
from glstm.cell_stack import CellStack

INPUT_GATES = ("exp", "sigmoid", "none")
FORGET_GATES = ("sigmoid", "exp", "none")


class SLSTMCell(nn.Module):
    r"""One sLSTM step for every node: a cell vector with exponential gating, a stabiliser and
    memory mixing within each head.

    With a the layer's input ``[N, F]`` and the previous state (h, c, n, m), all ``[N, D]``:

    .. math::
        (\tilde i, \tilde f, \tilde z, \tilde o) &= W a + R\, h^{prev} + b
            \qquad (R\ \text{block-diagonal: one}\ d_h \times 4 d_h\ \text{block per head}) \\
        \log i &= \tilde i\ (\texttt{exp}),\ \log\sigma(\tilde i)\ (\texttt{sigmoid}),\
            0\ (\texttt{none}) \\
        \log f &= \log\sigma(\tilde f)\ (\texttt{sigmoid}),\ \tilde f\ (\texttt{exp}),\
            0\ (\texttt{none}) \\
        m &= \max(\log f + m^{prev}, \log i) \\
        i &= \exp(\log i - m),\quad f = \exp(\log f + m^{prev} - m),\quad
            o = \sigma(\tilde o) \\
        c &= f\, c^{prev} + i \tanh(\tilde z),\quad n = f\, n^{prev} + i,\quad
            h = o \odot c / n

    elementwise. The first step starts from c = n = h = 0 with m = log i, as the public xLSTM code
    does (then i = 1, n = 1 and h = o tanh(z~)). Both exponents are <= 0 and one of i, f is 1, so
    nothing overflows and n >= 1 after every step; m cancels between c and n, so h equals the
    unstabilised recursion's (exp(log i) and exp(log f) in place of i and f) wherever that one
    does not overflow.

    Args:
        input_size (int): F.
        hidden_size (int): D = H d_h.
        heads (int): H.
        input_gate (str): ``exp`` | ``sigmoid`` | ``none`` (i = 1). (default: exp)
        forget_gate (str): ``sigmoid`` | ``exp`` | ``none`` (f = 1). (default: sigmoid)
        output_gate (bool): use o (off: o = 1). (default: True)
        memory_mixing (bool): the recurrent R h^prev term (off: R = 0). (default: True)
        first (bool): the cell of a first layer, which starts from no state: it has no forget
            gate and no R (both would only ever multiply zeros). (default: False)

    Only the gates in use have weights: W has one block of D rows per gate that is on.

    Shapes:
        - **input:** a ``[N, F]``, state ``(h, c, n, m)`` each ``[N, D]`` or ``None``.
        - **output:** h ``[N, D]``, the new state.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        heads: int,
        *,
        input_gate: str = "exp",
        forget_gate: str = "sigmoid",
        output_gate: bool = True,
        memory_mixing: bool = True,
        first: bool = False,
    ):
        super().__init__()
        self.hidden_size, self.heads, self.head_dim = hidden_size, heads, hidden_size // heads
        self.input_gate, self.forget_gate = input_gate, forget_gate
        self.output_gate, self.first = output_gate, first
        # pre-activations of the gates in use only (a switched-off gate has no weights)
        used = {
            "i": input_gate != "none",  # the first layer's too: its m = log i scales c and n
            "f": forget_gate != "none" and not first,
            "z": True,
            "o": output_gate,
        }
        self.gates = [name for name, on in used.items() if on]
        # output j of gate g in head k is row (k, g, j): W's rows and R's columns line up per head
        self.lin = nn.Linear(input_size, len(self.gates) * hidden_size)
        shape = (heads, self.head_dim, len(self.gates) * self.head_dim)
        self.recurrent = nn.Parameter(torch.empty(shape)) if memory_mixing and not first else None
        self.reset_parameters()

    def reset_parameters(self):
        self.lin.reset_parameters()
        if self.recurrent is not None:  # as torch's LSTMCell: U(-1/sqrt(d_h), 1/sqrt(d_h))
            bound = 1.0 / math.sqrt(self.head_dim)
            nn.init.uniform_(self.recurrent, -bound, bound)

    def forward(self, a: Tensor, state: tuple[Tensor, ...] | None = None):
        if self.first and state is not None:
            raise ValueError("a first-layer sLSTM cell (no forget gate, no R) takes no state")
        n, heads, dh = a.shape[0], self.heads, self.head_dim
        raw = self.lin(a).view(n, heads, -1)
        if self.recurrent is not None and state is not None:
            h_prev = state[0].view(n, heads, dh)
            raw = raw + torch.einsum("nkd,kde->nke", h_prev, self.recurrent)
        pre = dict(zip(self.gates, raw.view(n, heads, -1, dh).unbind(2), strict=True))
        z = torch.tanh(pre["z"])  # [N, H, d_h]
        log_i = self._log_gate(self.input_gate, pre.get("i"))
        if state is None:  # c = n = 0: m = log i, so i = 1
            c, nrm, m = z, torch.ones_like(z), log_i.expand_as(z)
        else:
            _, c_prev, n_prev, m_prev = (s.view(n, heads, dh) for s in state)
            log_f_plus_m = self._log_gate(self.forget_gate, pre.get("f")) + m_prev
            m = torch.maximum(log_f_plus_m, log_i)
            i, f = torch.exp(log_i - m), torch.exp(log_f_plus_m - m)
            c, nrm = f * c_prev + i * z, f * n_prev + i
        h = c / nrm
        if self.output_gate:
            h = torch.sigmoid(pre["o"]) * h
        h, c, nrm, m = (t.reshape(n, -1) for t in (h, c, nrm, m))
        return h, (h, c, nrm, m)

    def _log_gate(self, kind: str, pre: Tensor | None) -> Tensor:
        if pre is None:  # gate off, or the first layer's unused one: log 1
            return self.lin.weight.new_zeros(())
        return pre if kind == "exp" else F.logsigmoid(pre)

    def extra_repr(self) -> str:
        return (
            f"hidden_size={self.hidden_size}, heads={self.heads}, "
            f"input_gate={self.input_gate!r}, forget_gate={self.forget_gate!r}, "
            f"output_gate={self.output_gate}, memory_mixing={self.recurrent is not None}, "
            f"first={self.first}"
        )


class GraphSLSTM(CellStack):
    r"""Graph sLSTM: every node carries an sLSTM state (h, c, n, m) across the layers, fed with
    its own state and the aggregate of its neighbours' (:class:`~glstm.cell_stack.CellStack` for
    the layer, :class:`SLSTMCell` for the cell), maps node states ``[N, d] -> [N, d]``.

    State per node: 4 D floats (h, c, n, m).

    Args:
        dim (int): node width d.
        num_layers (int): L.
        heads (int): H; memory mixing stays within a head. (default: 4)
        hidden_dim (int, optional): D. (default: ``dim``)
        input_gate (str): ``exp`` | ``sigmoid`` | ``none``. (default: exp)
        forget_gate (str): ``sigmoid`` | ``exp`` | ``none``. (default: sigmoid)
        output_gate (bool): (default: True)
        memory_mixing (bool): (default: True)
        **kwargs: the options of :class:`~glstm.cell_stack.CellStack` (``aggr``, ``khop``,
            ``share_weights``, ``last_layer_fa``, ``input_norm``, ``hidden_norm``, ``act``,
            ``dropout``).
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        heads: int = 4,
        input_gate: str = "exp",
        forget_gate: str = "sigmoid",
        output_gate: bool = True,
        memory_mixing: bool = True,
        **kwargs,
    ):
        check_choice("input_gate", input_gate, INPUT_GATES)
        check_choice("forget_gate", forget_gate, FORGET_GATES)
        check_bool("output_gate", output_gate)
        check_bool("memory_mixing", memory_mixing)
        self.gates = dict(
            input_gate=input_gate,
            forget_gate=forget_gate,
            output_gate=bool(output_gate),
            memory_mixing=bool(memory_mixing),
        )
        super().__init__(dim, num_layers, heads=heads, **kwargs)

    def make_cell(self, input_size: int, first: bool) -> SLSTMCell:
        return SLSTMCell(input_size, self.hidden_dim, self.heads, first=first, **self.gates)

    @property
    def state_floats(self) -> int:
        return 4 * self.hidden_dim
