"""GraphGPS (Rampášek et al., NeurIPS 2022) over PyG's `GPSConv`: each layer adds a local message
passing step and global multi-head attention among the nodes of each graph,

    x' = MLP(Norm(x + Attn(x) + x + MPNN(x)))    (GPSConv: both branches with residual and
                                                  BatchNorm, then a residual MLP)

with GIN as the local MPNN (GraphGPS's default without edge features: GINConv with a 2-layer
MLP). A positional encoding P [N, k] (`pe`) is added to the input, x + W P with W = Linear(k, d):

- "rwse": P(u) = [RW_1(u), ..., RW_k(u)], the return probabilities of random walks of length
  1..k in u's graph (PyG's `AddRandomWalkPE`, computed per graph), k = `walk_length`.
- "lap": P(u) = [v_1(u), ..., v_k(u)], the eigenvectors of the k smallest non-trivial
  eigenvalues of each graph's symmetric normalised Laplacian I - D^-1/2 A D^-1/2 (the encoding
  of PyG's `AddLaplacianEigenvectorPE`, here with torch's eigensolver; a directed graph is made
  undirected first, as GraphGPS's LapPE does; GraphGPS's Peptides configs use the unnormalised
  Laplacian), k = `lap_dim`; zeros where a graph of n nodes has fewer (k >= n). Computed per graph,
  never on the batch's Laplacian, whose eigenspaces mix its graphs. An eigenvector's sign is
  arbitrary: in training mode each column is multiplied by a random sign per forward pass (one
  draw per column for the whole batch, as GraphGPS does, from torch's global RNG); not in eval.
- "none": no encoding.

Both are computed once per topology and device for tasks whose batches share one
(`batch.topology_key`), otherwise on every batch.

Attention sees every node of a graph, so unlike the message-passing baselines the output does
not stay within L hops (tests/helpers.py GLOBAL_MODELS).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch_geometric.nn import GINConv, GPSConv
from torch_geometric.utils import get_laplacian, to_dense_adj, to_undirected, unbatch_edge_index

from baselines.stack import ConvStack
from benchmarks.core.contract import check_divisible, check_model_options, check_probability
from benchmarks.core.errors import check_choice, check_positive_int

POSITIONAL_ENCODINGS = ("rwse", "lap", "none")


def laplacian_eigenvectors(edge_index: Tensor, num_nodes: int, k: int) -> Tensor:
    """[n, k] Laplacian eigenvector encoding of one graph (`edge_index` [2, E], local indices).

    The eigenvectors of the k smallest eigenvalues after the first of L = I - D^-1/2 A D^-1/2 (A
    made undirected), the encoding of PyG's `AddLaplacianEigenvectorPE`: L from PyG's
    `get_laplacian` ("sym"), its eigenvectors from `torch.linalg.eigh` on the dense n x n matrix
    in float64 (torch's own solver: it also runs inside torch.func transforms, where numpy's and
    scipy's cannot read tensors). min(k, n - 1) vectors, zero columns after them; each column's
    sign fixed (its entry of largest magnitude positive), so that equal graphs get equal
    encodings.
    """
    pe = torch.zeros(num_nodes, k)
    found = min(k, num_nodes - 1)  # the first eigenvector (eigenvalue 0) is left out
    if found < 1:
        return pe
    edge_index = to_undirected(edge_index.cpu(), num_nodes=num_nodes)
    index, weight = get_laplacian(edge_index, normalization="sym", num_nodes=num_nodes)
    laplacian = torch.zeros(num_nodes, num_nodes, dtype=torch.float64)
    laplacian.index_put_((index[0], index[1]), weight.double(), accumulate=True)
    vectors = torch.linalg.eigh(laplacian).eigenvectors[:, 1 : found + 1].float()  # ascending
    largest = vectors.abs().argmax(0)  # [found]
    pe[:, :found] = vectors * vectors[largest, torch.arange(found)].sign()
    return pe


def random_walk_returns(edge_index: Tensor, graph: Tensor, walk_length: int) -> Tensor:
    """[N, k] RWSE of each node in its own graph: RW_t(u) = (P^t)_uu for t = 1..k, P = D^-1 A
    (row u: 1 / out-degree of u on each out-edge), the encoding of PyG's `AddRandomWalkPE` on
    each graph (equal on simple graphs; PyG counts a repeated edge once in A, twice in D).

    Dense per graph, batched: one [B, n, n] walk matrix per graph from PyG's `to_dense_adj` (n the
    largest graph), O(B n^2) memory and O(k B n^3) time. (`AddRandomWalkPE` on a whole batch of
    more than 2000 nodes takes products of sparse CSR matrices instead, whose memory this torch
    does not give back: about 1 GB per call on 4000 nodes.)

    Args:
        edge_index: [2, E], the batch's edges (row 0 the walk's current node).
        graph: [N], each node's graph, sorted (each graph's nodes one block).
        walk_length: k.
    """
    adj = to_dense_adj(edge_index, graph)  # [B, n, n]
    walk = adj / adj.sum(-1, keepdim=True).clamp(min=1)
    power, returns = walk, [walk.diagonal(dim1=1, dim2=2)]
    for _ in range(walk_length - 1):
        power = power @ walk
        returns.append(power.diagonal(dim1=1, dim2=2))  # [B, n]
    real = torch.arange(adj.shape[1], device=graph.device) < torch.bincount(graph)[:, None]
    return torch.stack(returns, -1)[real]  # [B, n, k] -> [N, k], graph by graph


def graph_of_each_node(batch, num_nodes: int) -> Tensor:
    """[N] each node's graph, sorted (each graph's nodes one block); all 0 without `batch.batch`."""
    graph = getattr(batch, "batch", None)
    return batch.edge_index.new_zeros(num_nodes) if graph is None else graph


def first_copy(edge_index: Tensor, graph: Tensor) -> Tensor:
    """Graph 0's edges in a batch whose graphs are copies of one topology (it has a
    `topology_key`): GraphSet.batch (benchmarks/tasks/graphs.py) sets the key and tiles the
    topology's edges (`_structure`), a rewired topology has its own key, and VirtualNode adds one
    node per copy and re-keys. An encoding of graph 0, tiled, is the batch's."""
    return edge_index[:, graph[edge_index[0]] == 0]


class GPS(ConvStack):
    """A `ConvStack` of `GPSConv(d, GINConv(MLP), heads=H)` after the positional encoding.

    Args (besides `ConvStack`'s; keep its residual false, norm none and act none: GPSConv has
    its own):
        heads (int): H, attention heads; d must divide by it. (default: 4)
        attn_dropout (float): dropout on the attention weights, in [0, 1). (default: 0)
        pe (str): rwse | lap | none. (default: rwse)
        walk_length (int): k of the RWSE, the random-walk lengths. (default: 16)
        lap_dim (int): k of the Laplacian encoding, the eigenvectors per graph. (default: 8)

    Shapes:
        - **input:** x ``[N, d]``; batch with ``edge_index`` ``[2, E]`` and ``batch`` ``[N]``
          (``hop_index`` with ``khop``; ``readout_index`` with ``last_layer_fa``).
        - **output:** ``[N, d]``; the encoding P ``[N, k]``.
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
        lap_dim: int = 8,
        **kwargs,
    ):
        check_model_options(dim=dim, heads=heads)
        check_divisible("dim", dim, "heads", heads)
        check_probability("attn_dropout", attn_dropout)
        check_choice("pe", pe, POSITIONAL_ENCODINGS)
        check_positive_int("walk_length", walk_length)
        check_positive_int("lap_dim", lap_dim)
        self.heads, self.attn_dropout = heads, attn_dropout
        super().__init__(dim, num_layers, **kwargs)
        self.pe, self.walk_length, self.lap_dim = pe, walk_length, lap_dim
        pe_dim = {"rwse": walk_length, "lap": lap_dim}.get(pe)
        self.pe_lin = nn.Linear(pe_dim, dim) if pe_dim is not None else None
        self._pe_cache: dict = {}

    def make_conv(self, dim: int) -> GPSConv:
        mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        return GPSConv(
            dim, GINConv(mlp), heads=self.heads, attn_kwargs={"dropout": self.attn_dropout}
        )

    def apply_conv(self, conv, x: Tensor, edges: Tensor, batch, x_0: Tensor) -> Tensor:
        return conv(x, edges, batch=batch.batch)

    def cached(self, kind: str, batch, compute: Callable[[], Tensor]) -> Tensor:
        """`compute()`, kept per (kind, topology, device) when the batch has a topology."""
        key = getattr(batch, "topology_key", None)
        key = None if key is None else (kind, key, batch.edge_index.device)
        if key is not None and key in self._pe_cache:
            return self._pe_cache[key]
        pe = compute()
        if key is not None:
            self._pe_cache = {key: pe}  # one topology at a time: a task's batch size
        return pe

    def random_walk_pe(self, batch, num_nodes: int | None = None) -> Tensor:
        """[N, k] RWSE of each graph of the batch (`random_walk_returns`; N: `num_nodes`, default
        the batch's), cached per topology and device when it has one."""
        num_nodes = batch.num_nodes if num_nodes is None else num_nodes
        return self.cached("rwse", batch, lambda: self._random_walk_pe(batch, num_nodes))

    def _random_walk_pe(self, batch, num_nodes: int) -> Tensor:
        graph = graph_of_each_node(batch, num_nodes)
        if getattr(batch, "topology_key", None) is None:
            return random_walk_returns(batch.edge_index, graph, self.walk_length)
        size = int((graph == 0).sum())
        first = random_walk_returns(
            first_copy(batch.edge_index, graph), graph.new_zeros(size), self.walk_length
        )
        return first.repeat(num_nodes // size, 1)

    def laplacian_pe(self, batch, num_nodes: int | None = None) -> Tensor:
        """[N, k] Laplacian eigenvector encoding of each graph of the batch, in the fixed signs
        of `laplacian_eigenvectors` (no random flip), cached per topology and device when it has
        one."""
        num_nodes = batch.num_nodes if num_nodes is None else num_nodes
        return self.cached("lap", batch, lambda: self._laplacian_pe(batch, num_nodes))

    def _laplacian_pe(self, batch, num_nodes: int) -> Tensor:
        edge_index = batch.edge_index.cpu()
        graph = graph_of_each_node(batch, num_nodes).cpu()
        sizes = torch.bincount(graph).tolist()  # [B]
        if getattr(batch, "topology_key", None) is not None:
            first = first_copy(edge_index, graph)
            pe = laplacian_eigenvectors(first, sizes[0], self.lap_dim).repeat(len(sizes), 1)
        else:
            # unbatch_edge_index wants edges grouped by graph (the virtual node appends its own)
            order = torch.argsort(graph[edge_index[0]], stable=True)
            parts = unbatch_edge_index(edge_index[:, order], graph, len(sizes))
            pe = torch.cat(
                [
                    laplacian_eigenvectors(e, n, self.lap_dim)
                    for e, n in zip(parts, sizes, strict=True)
                ]
            )
        return pe.to(batch.edge_index.device)

    def positional_encoding(self, batch, num_nodes: int) -> Tensor:
        """[N, k] the encoding `pe` adds (through `pe_lin`), its signs flipped in training."""
        if self.pe == "rwse":
            return self.random_walk_pe(batch, num_nodes)
        pe = self.laplacian_pe(batch, num_nodes)
        if self.training:
            flip = torch.randint(0, 2, (self.lap_dim,), device=pe.device)  # [k], global RNG
            pe = pe * (1 - 2 * flip)
        return pe

    def forward(self, x: Tensor, batch) -> Tensor:
        if self.pe_lin is not None:
            x = x + self.pe_lin(self.positional_encoding(batch, x.shape[0]).to(x.dtype))
        if self.training or not torch.is_grad_enabled():
            return super().forward(x, batch)
        # the measurements differentiate the eval-mode network (the mixing one twice): attention
        # written out in differentiable ops, as torch's fused kernels have no second derivative
        with sdpa_kernel(SDPBackend.MATH):
            return super().forward(x, batch)
