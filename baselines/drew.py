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
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import GCNConv

from baselines.stack import ConvStack
from benchmarks.core.errors import require
from benchmarks.core.fully_adjacent import fully_adjacent_edges


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
    ):
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

    def make_convs(self, dim: int, num_layers: int, share_weights: bool) -> list[nn.ModuleList]:
        """convs[l - 1][k - 1]: layer l, hop k (k = 1..l); hop 1 with GCN's self-loops."""
        return [
            nn.ModuleList(GCNConv(dim, dim, add_self_loops=hop == 1) for hop in range(1, layer + 1))
            for layer in range(1, num_layers + 1)
        ]

    def delay(self, hop: int) -> int:
        """tau_nu(k) = max(0, k - nu); 0 without delay (nu = None)."""
        return 0 if self.nu is None else max(0, hop - self.nu)

    def reset_parameters(self) -> None:
        for module in [*(conv for layer in self.convs for conv in layer), *self.norms]:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def aggregate(self, layer: int, states: list[Tensor], batch) -> Tensor:
        """sum_k GCNConv_{l,k}(x^{(l - 1 - tau(k))}, N_k) for layer `layer` (1-based) -> [N, d]."""
        convs = self.convs[layer - 1]
        if self.last_layer_fa and layer == self.num_layers:
            return convs[0](states[-1], fully_adjacent_edges(batch))
        hop_index = batch.hop_index
        require(
            layer <= len(hop_index),
            "num_layers",
            f"DRew layer {layer} needs pairs at distance {layer}, "
            f"the batch has {len(hop_index)} hop sets",
        )
        return sum(
            conv(states[layer - 1 - self.delay(hop)], hop_index[hop - 1])
            for hop, conv in enumerate(convs, start=1)
        )

    def forward(self, x: Tensor, batch) -> Tensor:
        states = [x]  # x^{(0)}, ..., x^{(l-1)}
        for layer, norm in enumerate(self.norms, start=1):
            h = self.dropout(self.act(self.aggregate(layer, states, batch)))
            x = norm(x + h if self.residual else h)
            states.append(x)
        return x
