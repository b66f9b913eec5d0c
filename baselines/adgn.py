r"""A-DGN, anti-symmetric deep graph network (Gravina, Bacciu & Gallicchio, "Anti-Symmetric DGN: a
Stable Architecture for Deep Graph Networks", ICLR 2023), one PyG ``AntiSymmetricConv`` per
layer: a forward-Euler step of a stable, non-dissipative graph ODE,

.. math::
    x'_u = x_u + \epsilon \, \sigma\!\left((W - W^\top - \gamma I) x_u
           + \Phi(X, N(u)) + b\right)

with :math:`\Phi` the neighbour aggregation: ``phi: gcn`` is PyG's default
``GCNConv(d, d, bias=False)`` (normalised, with self-loops); ``phi: sum`` is the paper's
simple aggregation :math:`\sum_{v \in N(u)} V x_v` (``GCNConv`` without normalisation or
self-loops). The layer already is a residual update, so the stack's residual, norm and
activation default to off; sigma (``conv_act``) acts inside the step.

Initialisation (``init``): ``pyg`` (the default; ours) keeps PyG's (Glorot on Phi's weight, the
bias at 0); ``torch`` is the authors' code's (gravins/Anti-SymmetricDGN, and A-DGN in
gravins/SWAN): Phi's Linear (``phi: sum``, their ``NaiveAggr``) with torch's default
``kaiming_uniform_(a=sqrt 5)`` and the bias uniform in
:math:`\pm 1 / \sqrt d` (:math:`\pm 1/8` at d = 64), as an ``nn.Linear`` starts.
"""

import math

import torch
from torch import nn
from torch_geometric.nn import AntiSymmetricConv, GCNConv

from baselines.stack import ConvStack
from benchmarks.core.contract import make_activation
from benchmarks.core.errors import check_choice, require

PHIS = ("gcn", "sum")
INITS = ("pyg", "torch")


class ADGN(ConvStack):
    """A `ConvStack` of `AntiSymmetricConv(dim, phi, num_iters=1, epsilon, gamma, act)`.

    Args (besides `ConvStack`'s; `residual`, `norm` and `act` default to off):
        epsilon (float): the step size of the discretisation (> 0). (default: 0.1)
        gamma (float): the diffusion that keeps the step stable (>= 0). (default: 0.1)
        phi (str): gcn | sum, the neighbour aggregation Phi. (default: gcn)
        conv_act (str): sigma inside the step (tanh in the paper). (default: tanh)
        share_weights (bool): A-DGN discretises one ODE, so every step applies the same function
            (the paper's main variant, and PyG's ``num_iters``); false gives the paper's
            "layer-dependent weights" variant. (default: True)
        init (str): pyg | torch, the initialisation (module docstring). (default: pyg)

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` (``hop_index`` with
          ``khop``; ``batch`` and ``readout_index`` with ``last_layer_fa``).
        - **output:** ``[N, d]``.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        epsilon: float = 0.1,
        gamma: float = 0.1,
        phi: str = "gcn",
        conv_act: str = "tanh",
        share_weights: bool = True,
        residual: bool = False,
        norm: str = "none",
        act: str = "none",
        init: str = "pyg",
        **kwargs,
    ):
        check_choice("init", init, INITS)
        self.init = init
        require(epsilon > 0, "epsilon", f"must be positive, got {epsilon}")
        require(gamma >= 0, "gamma", f"must be non-negative, got {gamma}")
        check_choice("phi", phi, PHIS)
        make_activation(conv_act, "conv_act")  # one clear error for an unknown name
        self.epsilon, self.gamma, self.phi, self.conv_act = epsilon, gamma, phi, conv_act
        super().__init__(
            dim,
            num_layers,
            share_weights=share_weights,
            residual=residual,
            norm=norm,
            act=act,
            **kwargs,
        )

    def make_conv(self, dim: int) -> AntiSymmetricConv:
        if self.phi == "gcn":
            phi = GCNConv(dim, dim, bias=False)
        else:
            phi = GCNConv(dim, dim, bias=False, normalize=False, add_self_loops=False)
        act = None if self.conv_act in ("none", "identity") else self.conv_act
        conv = AntiSymmetricConv(
            dim, phi=phi, num_iters=1, epsilon=self.epsilon, gamma=self.gamma, act=act
        )
        self.initialise(conv)
        return conv

    def initialise(self, conv: AntiSymmetricConv) -> None:
        """With init=torch: the bias uniform in +-1/sqrt(d) and, for phi=sum (the code's
        NaiveAggr, an nn.Linear without bias), Phi's weight as torch's nn.Linear (phi=gcn is PyG's
        GCNConv there too, Glorot)."""
        if self.init != "torch":
            return
        with torch.no_grad():
            if self.phi == "sum":
                nn.init.kaiming_uniform_(conv.phi.lin.weight, a=math.sqrt(5))
            bound = 1 / math.sqrt(conv.in_channels)
            nn.init.uniform_(conv.bias, -bound, bound)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for conv in dict.fromkeys(self.convs):
            self.initialise(conv)
