"""GraphGPS (Rampášek et al., NeurIPS 2022) over PyG's `GPSConv`: each layer adds a local message
passing step and global multi-head attention among the nodes of each graph,

    x' = MLP(Norm(x + Attn(x) + x + MPNN(x)))    (GPSConv: both branches with residual and
                                                  BatchNorm, then a residual MLP)

with GIN as the local MPNN (GraphGPS's default without edge features: GINConv with a 2-layer
MLP). Positional encoding (`pe`): "rwse" adds W [RW_1(u), ..., RW_k(u)] to the input, the
return probabilities of random walks of length 1..k (PyG's `AddRandomWalkPE`), computed once per
topology and device for tasks whose batches share one (`batch.topology_key`); "none" adds none.

Attention sees every node of a graph, so unlike the message-passing baselines the output does
not stay within L hops (tests/helpers.py GLOBAL_MODELS).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch_geometric.data import Data
from torch_geometric.nn import GINConv, GPSConv
from torch_geometric.transforms import AddRandomWalkPE

from baselines.stack import ConvStack
from benchmarks.errors import require

POSITIONAL_ENCODINGS = ("rwse", "none")


class GPS(ConvStack):
    """Args (besides `ConvStack`'s; keep its residual false, norm none and act none: GPSConv has
    its own):
    heads: attention heads (dim must be divisible by them).
    attn_dropout: dropout on the attention weights.
    pe: rwse | none.
    walk_length: k, the random-walk lengths of the RWSE.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        heads: int = 4,
        attn_dropout: float = 0.0,
        pe: str = "rwse",
        walk_length: int = 16,
        **kwargs,
    ):
        require(
            isinstance(heads, int) and heads > 0 and dim % heads == 0,
            "model.heads",
            f"must be a positive divisor of model.dim={dim}, got {heads!r}",
        )
        require(pe in POSITIONAL_ENCODINGS, "model.pe", f"must be rwse or none, got {pe!r}")
        require(
            isinstance(walk_length, int) and walk_length > 0,
            "model.walk_length",
            f"must be a positive integer, got {walk_length!r}",
        )
        self.heads, self.attn_dropout = heads, attn_dropout
        super().__init__(dim, num_layers, **kwargs)
        self.walk_length = walk_length
        self.pe_lin = nn.Linear(walk_length, dim) if pe == "rwse" else None
        self._pe_cache: dict = {}

    def make_conv(self, dim: int) -> GPSConv:
        mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        return GPSConv(
            dim, GINConv(mlp), heads=self.heads, attn_kwargs={"dropout": self.attn_dropout}
        )

    def apply_conv(self, conv, x: Tensor, edges: Tensor, batch, x_0: Tensor) -> Tensor:
        return conv(x, edges, batch=batch.batch)

    def random_walk_pe(self, batch, num_nodes: int | None = None) -> Tensor:
        """[N, k] RWSE of the batch's graph (N: `num_nodes`, default the batch's), cached per
        topology and device when it has one."""
        num_nodes = batch.num_nodes if num_nodes is None else num_nodes
        key = getattr(batch, "topology_key", None)
        key = None if key is None else (key, batch.edge_index.device)
        if key is not None and key in self._pe_cache:
            return self._pe_cache[key]
        data = Data(edge_index=batch.edge_index, num_nodes=num_nodes)
        pe = AddRandomWalkPE(self.walk_length, attr_name="pe")(data).pe
        if key is not None:
            self._pe_cache = {key: pe}  # one topology at a time: a task's batch size
        return pe

    def forward(self, x: Tensor, batch) -> Tensor:
        if self.pe_lin is not None:
            x = x + self.pe_lin(self.random_walk_pe(batch, x.shape[0]).to(x.dtype))
        # attention written out in differentiable ops: torch's fused CPU kernel has no second
        # derivative, which the mixing measurement takes
        with sdpa_kernel(SDPBackend.MATH):
            return super().forward(x, batch)
