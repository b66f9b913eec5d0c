"""DRew-GCN (Gutteridge, Dong, Bronstein & Di Giovanni, ICML 2023): dynamically rewired message
passing with delay, over PyG's `GCNConv`.

Layer l (1-based) maps the states x^{(0)} (the input), ..., x^{(l-1)} to x^{(l)}. It aggregates
from every hop k = 1..l, each hop with its own GCN weights, and the hop-k message reads the
sender's state delayed by tau_nu(k) = max(0, k - nu) layers:

    h_u = sum_{k=1..l} GCNConv_{l,k}( x^{(l - 1 - tau_nu(k))}, N_k )_u
    h_u = Dropout(Act(h_u));  x^{(l)}_u = x^{(l-1)}_u + h_u if residual else h_u;  x^{(l)} = Norm(.)

where N_k are the pairs at shortest-path distance exactly k (`batch.hop_index[k - 1]`), hop 1
with GCN's self-loops and symmetric normalisation D^{-1/2} (A + I) D^{-1/2}, hops k >= 2 with the
normalisation D_k^{-1/2} A_k D_k^{-1/2} of their own pairs (no self-loop: the node itself is
already heard at hop 1 and through the residual). nu = None (infinity) has no delay: every hop
reads x^{(l-1)}, so L layers reach 1 + 2 + ... + L hops. nu = 1 (the paper's default) delays
hop k by k - 1 layers: it reads x^{(l-k)}, so information travels one hop per layer, as in plain
message passing, but over a direct edge instead of through the nodes in between; L layers reach
L hops.

With `last_layer_fa`, layer L instead aggregates only over every node -> the readout node of its
graph (Alon & Yahav's FA) with the hop-1 convolution of that layer, as `ConvStack` does.

Two blocks (the option `block`):

- ``stack`` (the default; ours): the update above, a `ConvStack` layer with DRew's hop sum.
- ``code``: the block of the authors' code (BenGutteridge/DRew @0c5c1ca, `lrgb/graphgps/stage/
  drew_gnn.py` 50-52, `stage/example.py` 8-21 and 59-88, `layer/drew_gcnconv.py` 22). Every hop,
  hop 1 included, is a `GCNConv` with self-loops, without bias when `norm` is batch (GraphGym sets
  `has_bias = not has_batchnorm`), followed by Norm -> Dropout -> Act -> L2-normalisation per
  node; a hop set without pairs in the batch is skipped; the layer adds the input and normalises:

      h_k = L2(Act(Dropout(Norm(GCNConv_{l,k}(x^{(l - 1 - tau_nu(k))}, N_k + I)))))
      x^{(l)} = L2(x^{(l-1)} + ReLU(sum_{k: N_k not empty} h_k))

  where L2(v) = v / max(||v||_2, 1e-12) per node. The outer ReLU and the residual are fixed
  (`residual` must be true), `norm` is none or batch and acts per hop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv

from baselines.stack import ConvStack
from benchmarks.core.contract import NORMS, make_activation
from benchmarks.core.errors import check_choice, require
from benchmarks.core.fully_adjacent import fully_adjacent_edges

BLOCKS = ("stack", "code")


class DRewGCN(ConvStack):
    """DRew-GCN; see the module docstring for the maths. A `ConvStack` (its checks, norms,
    activation, dropout and residual) whose layer l holds l convolutions.

    Args:
        dim: node width d (input and output).
        num_layers: L; the batch needs hop sets 1..L (`batch.hop_index`, [2, E_k] each).
        nu: the delay parameter, a positive integer or None (infinity: no delay).
        act: activation name (none, relu, gelu, tanh, ...).
        dropout: dropout probability after the activation.
        residual: add x^{(l-1)} to the layer's output.
        norm: none | layer | batch, applied after the residual.
        khop: must be false: DRew chooses its pairs itself (the option exists so that every model
            config has it).
        last_layer_fa: layer L aggregates every node of a graph into its readout node instead.
        block: stack (ours, the default) | code (the authors' code's block; see the module
            docstring): with code, `norm`, `act` and `dropout` act on each hop.

    Shapes: forward(x [N, d], batch) -> [N, d]; L (L + 1) / 2 convolutions of d x d.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        nu: int | None = 1,
        act: str = "relu",
        dropout: float = 0.0,
        residual: bool = True,
        norm: str = "none",
        khop: bool = False,
        last_layer_fa: bool = False,
        block: str = "stack",
    ):
        check_choice("block", block, BLOCKS)
        if block == "code":
            require(residual is True, "residual", "must be true with block=code (its x_t + ...)")
            require(
                norm in ("none", "batch"),
                "norm",
                f"must be none or batch with block=code, got {norm!r}",
            )
        self.block = block
        self._code_bias = norm != "batch"
        require(
            nu is None or (isinstance(nu, int) and not isinstance(nu, bool) and nu >= 1),
            "nu",
            f"must be a positive integer or null (no delay), got {nu!r}",
        )
        require(
            khop is False,
            "khop",
            "DRew adds the pairs at distance l at layer l by itself; set nu instead",
        )
        self.nu = nu
        super().__init__(
            dim,
            num_layers,
            residual=residual,
            norm=norm,
            act=act,
            dropout=dropout,
            last_layer_fa=last_layer_fa,
        )
        if block == "code":
            # Norm, Act and Dropout act per hop; the layer's own norm is the L2-normalisation.
            self.hop_norms = nn.ModuleList(
                nn.ModuleList(NORMS[norm](dim) for _ in range(layer))
                for layer in range(1, num_layers + 1)
            )
            self.norms = nn.ModuleList(nn.Identity() for _ in range(num_layers))
            self.hop_act = make_activation(act)
            self.layer_act = nn.ReLU()

    def make_convs(self, dim: int, num_layers: int, share_weights: bool) -> list[nn.ModuleList]:
        """convs[l - 1][k - 1]: layer l, hop k (k = 1..l). stack: hop 1 with GCN's self-loops;
        code: every hop with self-loops, no bias under BatchNorm."""
        code = self.block == "code"

        def conv(hop: int) -> GCNConv:
            if code:
                return GCNConv(dim, dim, bias=self._code_bias)
            return GCNConv(dim, dim, add_self_loops=hop == 1)

        return [
            nn.ModuleList(conv(hop) for hop in range(1, layer + 1))
            for layer in range(1, num_layers + 1)
        ]

    def delay(self, hop: int) -> int:
        """tau_nu(k) = max(0, k - nu); 0 without delay (nu = None)."""
        return 0 if self.nu is None else max(0, hop - self.nu)

    def reset_parameters(self) -> None:
        hop_norms = [n for layer in getattr(self, "hop_norms", []) for n in layer]
        for module in [*(conv for layer in self.convs for conv in layer), *self.norms, *hop_norms]:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    @staticmethod
    def hop_sets(layer: int, batch) -> list[Tensor]:
        """The batch's hop sets (pairs at distance 1, 2, ...), at least `layer` of them."""
        hop_index = batch.hop_index
        require(
            layer <= len(hop_index),
            "num_layers",
            f"DRew layer {layer} needs pairs at distance {layer}, "
            f"the batch has {len(hop_index)} hop sets",
        )
        return hop_index

    def aggregate(self, layer: int, states: list[Tensor], batch) -> Tensor:
        """sum_k GCNConv_{l,k}(x^{(l - 1 - tau(k))}, N_k) for layer `layer` (1-based) -> [N, d]."""
        convs = self.convs[layer - 1]
        if self.last_layer_fa and layer == self.num_layers:
            return convs[0](states[-1], fully_adjacent_edges(batch))
        hop_index = self.hop_sets(layer, batch)
        return sum(
            conv(states[layer - 1 - self.delay(hop)], hop_index[hop - 1])
            for hop, conv in enumerate(convs, start=1)
        )

    def code_layer(self, layer: int, states: list[Tensor], batch) -> Tensor:
        """x^{(l)} of the authors' block (module docstring) for layer `layer` (1-based)."""
        convs, norms = self.convs[layer - 1], self.hop_norms[layer - 1]
        if self.last_layer_fa and layer == self.num_layers:
            pairs = [(1, fully_adjacent_edges(batch))]
        else:
            hop_index = self.hop_sets(layer, batch)
            pairs = [(hop, hop_index[hop - 1]) for hop in range(1, layer + 1)]
        x = states[-1]
        total = torch.zeros_like(x)
        for hop, edges in pairs:
            if edges.shape[1] == 0:
                continue  # the code skips a hop set without pairs
            h = convs[hop - 1](states[layer - 1 - self.delay(hop)], edges)
            h = self.hop_act(self.dropout(norms[hop - 1](h)))
            total = total + F.normalize(h, p=2.0, dim=-1)
        return F.normalize(x + self.layer_act(total), p=2.0, dim=-1)

    def forward(self, x: Tensor, batch) -> Tensor:
        if self.block == "code":
            states = [x]
            for layer in range(1, self.num_layers + 1):
                states.append(self.code_layer(layer, states, batch))
            return states[-1]
        states = [x]  # x^{(0)}, ..., x^{(l-1)}
        for layer, norm in enumerate(self.norms, start=1):
            h = self.dropout(self.act(self.aggregate(layer, states, batch)))
            x = norm(x + h if self.residual else h)
            states.append(x)
        return x
