"""GCN-SSM and kGCN-SSM (Arroyo, Gravina, Gutteridge, Barbero, Gallicchio, Dong, Bronstein &
Vandergheynst, "On Vanishing Gradients, Over-Smoothing, and Over-Squashing in GNNs: Bridging
Recurrent and Graph Learning", arXiv 2502.10818, NeurIPS 2025): a GCN read as a linear
state-space model over its layers, over PyG's `GCNConv`.

Layer l (1-based) maps the node states H^{(l-1)} [N, d] to H^{(l)}; per node u, with column
vectors,

    F_u = Dropout(Act(GCNConv_l(H^{(l-1)}, E_l)_u))                       (the GCN layer)
    h^{(l)}_u = Norm( Lambda h^{(l-1)}_u + B F_u )                          (GNN-SSM)

where GCNConv_l(H, E)_u = W_l sum_{v in E(u) + u} h_v / sqrt(deg(u) deg(v)) + b_l (GCN's
self-loops and symmetric normalisation on the layer's own pairs), E_l is the graph's edges, or
with `khop` (kGCN-SSM) the pairs at shortest-path distance exactly l (`batch.hop_index[l - 1]`),
so L layers reach 1 + 2 + ... + L hops. Lambda [d, d] (the state matrix) and B [d, d] (the input
matrix) are one pair shared by every layer and, by default, **fixed**: the model has exactly
GCN's trainable parameters ("at no extra trainable parameter cost", the paper's abstract).

The layer Jacobian d vec H^{(l)} / d vec H^{(l-1)} = I_N (x) Lambda + (I_N (x) B) J_F: with the
eigenvalues of Lambda at 1 (Lambda = I, the default) the state path carries every node's state
to the next layer unchanged, however contractive the GCN term J_F is (the paper's "edge of
chaos" argument against vanishing gradients); with F = 0 the Jacobian is the identity.

Sources. The paper's own equations could not be read here (only its abstract and the names of
its table rows: "GCN-SSM", "GCN-SSM + eig(Lambda) ~ 1", "GCN-SSM + k-hop", "kGCN-SSM").
The construction above follows the public code of the gLSTM paper, which ports GNN-SSM and
compares against kGCN-SSM on LRGB and GPP (github.com/HughBlayney/gLSTM, commit a685dfc:
`gnn_xlstm/network/gnn_ssm.py`, `gnn_xlstm/config/ssm_config.py`, `configs/GNN-SSM/*.yaml`):
- Lambda and B are dense d x d maps without bias, shared by all layers, not trained
  (`shared_state`, `shared_input`: true; `train_state`, `train_input`: false in every config).
- Lambda starts as a random d x d matrix (torch's `nn.Linear` initialisation) whose eigenvalues
  are all replaced by `state_eigenvalue_magnitude` = 1.0 keeping its eigenvectors:
  Lambda = V (m I) V^{-1}, which is m I. We build m I directly (`state_eigenvalue`).
- B is that random matrix, entries U(-1/sqrt(d), 1/sqrt(d)), left unnormalised in every
  published config (`input_eigenvalue_magnitude: None`); `input_eigenvalue` = m gives B = m I.
- Act: ReLU (Peptides, NAR), tanh (GPP); BatchNorm after the sum on Peptides-func only; no
  dropout and no further residual; k-hop as above, each hop set with GCN's self-loops.
Dropout (default 0) is our addition, placed where `ConvStack` puts it, so every option of the
suite's baselines exists here.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv

from baselines.stack import ConvStack
from benchmarks.core.errors import check_bool, require


def _check_eigenvalue(key: str, value) -> float | None:
    """`value` (a finite number, or None for a random matrix), or a ConfigError naming `key`."""
    ok = value is None or (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )
    require(ok, key, f"must be a finite number or null (a random fixed matrix), got {value!r}")
    return None if value is None else float(value)


class GCNSSM(ConvStack):
    """GCN-SSM, and with `khop` kGCN-SSM; see the module docstring for the maths. A `ConvStack`
    of `GCNConv(dim, dim)` (its checks, norms, activation, dropout, k-hop and FA edges) whose
    residual is the state path Lambda h.

    Args:
        dim: node width d (input and output).
        num_layers: L.
        state_eigenvalue: m, Lambda = m I (the eigenvalue of every eigenvector); None: Lambda
            random, entries U(-1/sqrt(d), 1/sqrt(d)) (a GCN-SSM without eig(Lambda) ~ 1).
        input_eigenvalue: None: B random as above (every published config); m: B = m I.
        train_state: Lambda is a trained parameter instead of a fixed buffer.
        train_input: B likewise.
        act: activation of the GCN term (none, relu, gelu, tanh, ...).
        dropout: dropout probability after the activation.
        norm: none | layer | batch, applied to Lambda h + B F.
        khop: layer l aggregates over the pairs at distance exactly l (kGCN-SSM).
        share_weights: one GCNConv for every layer (Lambda and B are always shared).
        last_layer_fa: the last layer aggregates every node of a graph into its readout node
            instead of E_L (Alon & Yahav's FA).

    Shapes: forward(x [N, d], batch) -> [N, d]; `state_matrix` Lambda and `input_matrix` B
    [d, d].
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        state_eigenvalue: float | None = 1.0,
        input_eigenvalue: float | None = None,
        train_state: bool = False,
        train_input: bool = False,
        act: str = "relu",
        dropout: float = 0.0,
        norm: str = "none",
        khop: bool = False,
        share_weights: bool = False,
        last_layer_fa: bool = False,
    ):
        self.state_eigenvalue = _check_eigenvalue("state_eigenvalue", state_eigenvalue)
        self.input_eigenvalue = _check_eigenvalue("input_eigenvalue", input_eigenvalue)
        check_bool("train_state", train_state)
        check_bool("train_input", train_input)
        super().__init__(
            dim,
            num_layers,
            residual=False,
            norm=norm,
            act=act,
            dropout=dropout,
            khop=khop,
            share_weights=share_weights,
            last_layer_fa=last_layer_fa,
        )
        self._add_matrix("state_matrix", self._initial(dim, self.state_eigenvalue), train_state)
        self._add_matrix("input_matrix", self._initial(dim, self.input_eigenvalue), train_input)

    def make_conv(self, dim: int) -> GCNConv:
        return GCNConv(dim, dim)

    @staticmethod
    def _initial(dim: int, eigenvalue: float | None) -> Tensor:
        """m I [d, d], or (None) a random matrix with entries U(-1/sqrt(d), 1/sqrt(d))."""
        if eigenvalue is not None:
            return eigenvalue * torch.eye(dim)
        bound = 1.0 / math.sqrt(dim)
        return torch.empty(dim, dim).uniform_(-bound, bound)

    def _add_matrix(self, name: str, value: Tensor, trainable: bool) -> None:
        # A fixed matrix is a buffer: saved with the weights, moved by .to() and .double(),
        # but neither trained nor counted as a parameter.
        if trainable:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        dim = self.state_matrix.size(0)
        with torch.no_grad():
            self.state_matrix.copy_(self._initial(dim, self.state_eigenvalue))
            self.input_matrix.copy_(self._initial(dim, self.input_eigenvalue))

    def forward(self, x: Tensor, batch) -> Tensor:
        x_0 = x
        for layer, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True), start=1):
            edges = self.edges_of_layer(batch, layer)
            update = self.dropout(self.act(self.apply_conv(conv, x, edges, batch, x_0)))  # [N, d]
            # rows are nodes: h Lambda^T per row is Lambda h per node
            x = norm(x @ self.state_matrix.T + update @ self.input_matrix.T)
        return x
