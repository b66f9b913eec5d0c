"""gLSTM: the model the runner instantiates (``conf/model/glstm.yaml``)."""

from __future__ import annotations

from torch import Tensor, nn

from benchmarks.core.contract import check_model_options
from benchmarks.core.errors import check_bool, check_choice, check_positive_int
from benchmarks.core.fully_adjacent import fully_adjacent_edges
from glstm.block import GLSTMBlock
from glstm.layer import HIDDEN_NORMS, INPUT_GATES, INPUT_NORMS
from glstm.memory import Memory, ParallelMemory, RecurrentMemory, form_costs
from glstm.neighbourhoods import layer_neighbourhoods, neighbourhood

FORMS = ("auto", "recurrent", "parallel")
N_INITS = ("ones", "zeros")
# Besides its multiply-adds, every sparse read of the memory (the parallel form reads each earlier
# layer's writes: L (L + 1) / 2 reads; the recurrent form one step per layer: L) costs a fixed
# number of kernel launches and autograd nodes, which dominates on small graphs. `auto` counts it
# as this many multiply-adds, calibrated on a 2-core CPU: on RingTransfer at distance 16 (512
# nodes, 16 layers) the parallel form's 136 reads took 110.8 ms a step and the recurrent form's
# 16 steps 81.7 ms, though the parallel form has 2.5x fewer multiply-adds (9.0M against 22.5M).
READ_OVERHEAD_MACS = 2**20


class GLSTM(nn.Module):
    r"""gLSTM (Blayney, Arroyo, Dong & Bronstein, ICLR 2026): a message-passing network whose nodes
    carry an xLSTM matrix memory, maps node states ``[N, d] -> [N, d]``.

    ``num_blocks`` blocks run in sequence; each block is L :class:`~glstm.layer.GLSTMLayer` (see
    there for the update rule) on a fresh memory C = 0, n = 1 (``n_init="ones"``), m = 0. The memory
    is computed in one of two equivalent forms (:mod:`glstm.memory`): ``recurrent`` carries
    C ``[N, H, d_v, d_k]``; ``parallel`` unrolls it into attention-like sums and never builds a
    d_v x d_k matrix. ``auto`` picks the cheaper one for the batch at hand: its multiply-adds
    (:func:`~glstm.memory.form_costs`) plus a fixed cost per sparse read (``READ_OVERHEAD_MACS``).
    The public code's quirks are the defaults: ``input_gate="ego"`` (gate stabilised by the
    sender's own m), ``n_init="ones"``, ``normaliser_abs=False``.

    Args:
        dim (int): node width d.
        num_layers (int): layers per block L (the runner sets it from the task).
        heads (int): H. (default: 4)
        memory_dim (int): key/query size per head d_k. (default: 16)
        value_dim (int, optional): value size per head d_v. (default: ``memory_dim``)
        num_blocks (int): blocks in sequence. (default: 1)
        share_weights (bool): share layer weights across the layers of a block. (default: False)
        khop (bool): layer l aggregates the pairs at distance exactly l (``batch.hop_index``)
            instead of the graph's edges. (default: False)
        last_layer_fa (bool): the model's last layer (the last block's last layer) aggregates
            every node of a graph into its readout node instead of its edges or hop set (Alon &
            Yahav's FA, :func:`~benchmarks.core.fully_adjacent.fully_adjacent_edges`).
            (default: False)
        input_norm (str): ``none`` | ``layer`` | ``rms`` | ``batch``. (default: none)
        hidden_norm (str): ``group`` (GroupNorm, H groups) | ``none``. (default: group)
        act (str): activation after each layer's output projection, ``none`` or a name PyG's
            resolver knows. (default: none)
        dropout (float): dropout on each layer's normalised input and hidden read. (default: 0)
        input_gate (str): ``ego`` | ``neighbour`` | ``edge``. (default: ego)
        forget_gate (bool): use the forget gate (off: f = 1). (default: True)
        input_gating (bool): use the input gate (off: i = 1). (default: True)
        output_gate (bool): use the output gate (off: o = 1). (default: True)
        n_init (str): initial normaliser, ``ones`` (public code) | ``zeros``. (default: ones)
        normaliser_abs (bool): read with max(|n . q|, 1); the public code has max(n . q, 1).
            (default: False)
        form (str): ``auto`` | ``recurrent`` | ``parallel``. (default: auto)
        recompute (bool): while gradients are recorded, keep only each layer's output and memory
            writes and recompute the layer in the backward pass (:class:`~glstm.block.GLSTMBlock`):
            the same outputs and gradients for less memory and about one more forward pass of
            time. Pays with the parallel form, whose writes (k, gated [v; 1], log decays) are
            small; the recurrent form still keeps its state ``[H, N, d_v + 1, d_k]`` per layer.
            Not in ``conf/model/glstm.yaml``: set it with ``+model.recompute=true``.
            (default: False)

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` (sender, receiver),
          ``num_nodes``, ``hop_index`` (list of ``[2, E_l]``) when ``khop``, and ``batch``
          and ``readout_index`` when ``last_layer_fa``.
        - **output:** ``[N, d]``.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        heads: int = 4,
        memory_dim: int = 16,
        value_dim: int | None = None,
        num_blocks: int = 1,
        share_weights: bool = False,
        khop: bool = False,
        last_layer_fa: bool = False,
        input_norm: str = "none",
        hidden_norm: str = "group",
        act: str = "none",
        dropout: float = 0.0,
        input_gate: str = "ego",
        forget_gate: bool = True,
        input_gating: bool = True,
        output_gate: bool = True,
        n_init: str = "ones",
        normaliser_abs: bool = False,
        form: str = "auto",
        recompute: bool = False,
    ):
        super().__init__()
        value_dim = memory_dim if value_dim is None else value_dim
        check_model_options(
            dim=dim,
            num_layers=num_layers,
            heads=heads,
            share_weights=share_weights,
            khop=khop,
            last_layer_fa=last_layer_fa,
            act=act,
            dropout=dropout,
        )
        for key, value in [
            ("memory_dim", memory_dim),
            ("value_dim", value_dim),
            ("num_blocks", num_blocks),
        ]:
            check_positive_int(key, value)
        for key, value in [
            ("forget_gate", forget_gate),
            ("input_gating", input_gating),
            ("output_gate", output_gate),
            ("normaliser_abs", normaliser_abs),
            ("recompute", recompute),
        ]:
            check_bool(key, value)
        check_choice("input_norm", input_norm, INPUT_NORMS)
        check_choice("hidden_norm", hidden_norm, HIDDEN_NORMS)
        check_choice("input_gate", input_gate, INPUT_GATES)
        check_choice("n_init", n_init, N_INITS)
        check_choice("form", form, FORMS)
        self.dim, self.num_layers, self.num_blocks, self.khop = dim, num_layers, num_blocks, khop
        self.last_layer_fa = last_layer_fa
        self.heads, self.memory_dim, self.value_dim = heads, memory_dim, value_dim
        self.input_gate, self.n_init, self.form = input_gate, n_init, form
        self.recompute = recompute
        self.blocks = nn.ModuleList(
            GLSTMBlock(
                num_layers,
                share_weights,
                recompute,
                dim=dim,
                heads=heads,
                memory_dim=memory_dim,
                value_dim=value_dim,
                input_gate=input_gate,
                forget_gate=forget_gate,
                input_gating=input_gating,
                output_gate=output_gate,
                normaliser_abs=normaliser_abs,
                input_norm=input_norm,
                hidden_norm=hidden_norm,
                act=act,
                dropout=float(dropout),
            )
            for _ in range(num_blocks)
        )

    def reset_parameters(self):
        for block in self.blocks:
            block.reset_parameters()

    @property
    def state_floats(self) -> int:
        """Floats per node of one block's memory: C, n and m, H (d_v d_k + d_k + 1)."""
        return self.heads * (self.value_dim * self.memory_dim + self.memory_dim + 1)

    def choose_form(self, neighbourhoods, num_nodes: int) -> str:
        """``recurrent`` or ``parallel``: ``self.form``, or for ``auto`` the cheaper one."""
        if self.form != "auto":
            return self.form
        layers = len(neighbourhoods)
        reads = {"recurrent": layers, "parallel": layers * (layers + 1) // 2}
        macs = form_costs(
            [adj.nnz for adj in neighbourhoods],
            num_nodes,
            self.heads,
            self.memory_dim,
            self.value_dim,
            entry_gate=self.input_gate != "ego",
        )
        costs = {form: macs[form] + READ_OVERHEAD_MACS * reads[form] for form in macs}
        return min(costs, key=lambda form: (costs[form], form))

    def memory_class(self, form: str) -> type[Memory]:
        """The memory implementation of a form (a hook for the speed benchmark's reference)."""
        return {"recurrent": RecurrentMemory, "parallel": ParallelMemory}[form]

    def forward_with_memory(self, x: Tensor, batch) -> tuple[Tensor, list[Memory]]:
        """:meth:`forward`, also returning each block's final memory (see ``Memory.state``)."""
        num_nodes = x.shape[0]
        neighbourhoods = layer_neighbourhoods(batch, self.num_layers, self.khop, num_nodes)
        last_block_neighbourhoods = neighbourhoods
        if self.last_layer_fa:
            topology = getattr(batch, "topology_key", None)
            key = None if topology is None else (topology, "fully_adjacent")
            fully_adjacent = neighbourhood(fully_adjacent_edges(batch), num_nodes, key)
            last_block_neighbourhoods = [*neighbourhoods[:-1], fully_adjacent]
        memory_cls = self.memory_class(self.choose_form(last_block_neighbourhoods, num_nodes))
        memories = []
        for i, block in enumerate(self.blocks):
            memory = memory_cls(
                num_nodes, self.heads, self.memory_dim, self.value_dim, self.n_init, like=x
            )
            is_last = i == len(self.blocks) - 1
            x = block(x, last_block_neighbourhoods if is_last else neighbourhoods, memory)
            memories.append(memory)
        return x, memories

    def forward(self, x: Tensor, batch) -> Tensor:
        """
        Args:
            x (Tensor): encoded node states ``[N, d]``.
            batch: the PyG batch (``edge_index``, ``num_nodes``; ``hop_index`` with ``khop``;
                ``batch`` and ``readout_index`` with ``last_layer_fa``).

        Returns:
            Tensor ``[N, d]``.
        """
        return self.forward_with_memory(x, batch)[0]
