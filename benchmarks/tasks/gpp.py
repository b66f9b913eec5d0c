"""Graph property prediction, GPP (Gravina et al., A-DGN, ICLR 2023; used by the gLSTM paper),
generated locally like the PNA multitask benchmark's generator (Corso et al. 2020).

**Graphs.** Each graph draws a type from the PNA mixture (Erdos-Renyi 0.2, Barabasi-Albert 0.2,
grid 0.05, caveman 0.05, power-law tree 0.15, ladder 0.05, line 0.05, star 0.05, caterpillar 0.1,
lobster 0.1), is built on n nodes, relabelled by a random permutation and then randomised by
edge toggling: with e edges and r = n(n - 1)/2 - e non-edges, an edge stays when s_uv < p_stay and
a non-edge appears when s_uv < p_new, where

    p_stay = 0.9, p_new = 0.1 e / r                      if e <= r,
    p_stay = 0.9 + 0.1 (e - r) / e, p_new = 0.1          otherwise,

and s_uv = a_uv + a_vu with a ~ U[0, 0.5) per ordered pair (so s is triangular on [0, 1), as in
the PNA code; the intended "keep the expected edge count" rates are not what it draws, and we
draw what it draws). A graph left with an isolated node is redrawn whole (same type and size).
Graphs are undirected and may be disconnected.

**Sizes.** The PNA script makes each split of equal blocks, block b holding graphs of n = 25 + b
nodes: train 10 blocks (n = 25..34), val and test 5 blocks (n = 25..29), the published 5120 / 640
/ 1280 graphs being 10 x 512 / 5 x 128 / 5 x 256.

**Type details** (PNA): Erdos-Renyi p ~ U[0, 1); Barabasi-Albert m ~ U{1..n-1} (networkx's
generator); grid m x n/m and caveman m cliques of n/m nodes with m the largest divisor of n up to
sqrt(n); networkx's power-law tree (gamma 3: a degree sequence of rounded Pareto draws, entries
redrawn until it sums to 2n - 2, made into a caterpillar); ladder of n // 2 rungs (odd n: one
more node on node 0); star; caterpillar with backbone b ~ U{1..n-1}, the other nodes hung on
uniform backbone nodes; lobster with backbone b, nodes b..f-1 (f ~ U{b+1..n}) hung on the
backbone and nodes f..n-1 on those.

**Features** [N, 2]: [one-hot of the SSSP source s ~ U{0..n-1}, node value ~ U[0, 1)], for every
target. **Targets**, from the unweighted shortest-path lengths d(u, v), not normalised:
diameter = max d over connected pairs (graph-level); eccentricity(u) = max_v d(u, v) over the
nodes v that u reaches; sssp(u) = d(s, u), 0 where s does not reach u (PNA's placeholder).
A fourth target: laplacian(u) = deg(u) x_u - sum_{v ~ u} x_v (PNA's "graph Laplacian
features" of the node values).

**Which column the published numbers trained on.** PNA's generator (lukecavabarrett/pna
@0c630c2, `multitask_dataset.py`) stores the node labels
as [SSSP, eccentricity, Laplacian feature] and the graph labels as [is_connected, diameter,
spectral radius]. Every public GPP loader reads them the same way: A-DGN (gravins/
Anti-SymmetricDGN @5a7f7e7, `pna_dataset.py` L64-69) takes "dist" from
node column 2, "ecc" from node column 0 and "diam" from graph column 1, and SWAN's, PH-DGN's and
the gLSTM port's loaders copy that mapping. So, as run, the published "SSSP" column is the
Laplacian feature (our `laplacian`), the published "eccentricity" column is the SSSP distance
(our `sssp`), and diameter is diameter; `benchmarks.verify gpp` compares them that way.
(A-DGN's own data file, of 25-35 nodes, is not what PNA's script makes, so its layout is
inferred from the loaders, not read from the file.)

**Label normalisation** (`normalize_labels`). Off: the raw targets, as A-DGN's code runs (its
`pre_transform` is set after `super().__init__`, so the normalisation never runs) and as the
gLSTM port keeps it on purpose; the A-DGN and gLSTM tables were made this way. On: every split's
target divided by the training split's maximum, as SWAN's and SONAR's loaders always do; their
numbers are on that scale and not comparable with the others.

**Loss and metric.** A-DGN's: the squared error averaged over each graph's nodes, then over
graphs (node targets), or over graphs (diameter); reported as log10 MSE.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path
from torch import Tensor, nn

from benchmarks.core.errors import check_choice, require
from benchmarks.tasks.base import Task, check_positive, per_graph_mean, split_sizes
from benchmarks.tasks.graph_list import GraphList
from benchmarks.tasks.graphs import split_generator
from benchmarks.tasks.nar import FeatureEncoder
from benchmarks.tasks.readouts import PerNodeReadout, PooledReadout

TARGETS = ("diameter", "eccentricity", "sssp", "laplacian")
GRAPH_TYPES = (
    "erdos_renyi",
    "barabasi_albert",
    "grid",
    "caveman",
    "tree",
    "ladder",
    "line",
    "star",
    "caterpillar",
    "lobster",
)
MIXTURE = np.array([0.2, 0.2, 0.05, 0.05, 0.15, 0.05, 0.05, 0.05, 0.1, 0.1])
MIN_NODES = 25
SIZE_BLOCKS = {"train": 10, "val": 5, "test": 5}  # block b: graphs of MIN_NODES + b nodes
POWERLAW_GAMMA = 3.0
POWERLAW_TRIES = 5000  # replacements before a degree sequence is redrawn (networkx: tries / 2)
CHUNK_NODES = 512  # nodes per block-diagonal shortest-path call (its output is dense)


@dataclass(frozen=True)
class GPPGraphs:
    """One split's graphs with every target, graph after graph (node order within each).

    x [N, 2]; edge_index [2, E] local; node_ptr, edge_ptr [G + 1]; types [G] (GRAPH_TYPES
    index); distances (values [sum n_g^2] int16, -1 unreachable; pointer [G + 1]), GraphList's
    layout; diameter [G]; eccentricity, sssp, laplacian [N].
    """

    x: Tensor
    edge_index: Tensor
    node_ptr: Tensor
    edge_ptr: Tensor
    types: Tensor
    distances: tuple[Tensor, Tensor]
    diameter: Tensor
    eccentricity: Tensor
    sssp: Tensor
    laplacian: Tensor


# ------------------------------------------------------------------------------------------------
# Graph types: each builds k graphs of n nodes as a dense boolean adjacency [k, n, n].


def _dense(graph: nx.Graph) -> np.ndarray:
    """[n, n] boolean adjacency of a graph on nodes 0..n-1 (any hashable labels: relabelled)."""
    graph = nx.convert_node_labels_to_integers(graph)
    adj = np.zeros((len(graph), len(graph)), dtype=bool)
    u, v = np.array(graph.edges, dtype=np.int64).reshape(-1, 2).T
    adj[u, v] = adj[v, u] = True
    return adj


def _largest_divisor_to_sqrt(n: int) -> int:
    return max(i for i in range(1, math.isqrt(n) + 1) if n % i == 0)


@functools.cache
def _template(kind: str, n: int) -> np.ndarray:
    """The deterministic types' one adjacency [n, n]."""
    if kind == "grid":
        m = _largest_divisor_to_sqrt(n)
        return _dense(nx.grid_2d_graph(m, n // m))
    if kind == "caveman":
        m = _largest_divisor_to_sqrt(n)
        return _dense(nx.caveman_graph(m, n // m))
    if kind == "ladder":
        graph = nx.ladder_graph(n // 2)
        if n % 2:
            graph.add_edge(0, n - 1)
        return _dense(graph)
    if kind == "line":
        return _dense(nx.path_graph(n))
    return _dense(nx.star_graph(n - 1))


def _from_parents(parents: np.ndarray) -> np.ndarray:
    """[k, n, n] trees from parent indices [k, n - 1] of nodes 1..n-1."""
    k, n = parents.shape[0], parents.shape[1] + 1
    adj = np.zeros((k, n, n), dtype=bool)
    rows = np.repeat(np.arange(k), n - 1)
    child = np.tile(np.arange(1, n), k)
    adj[rows, child, parents.reshape(-1)] = adj[rows, parents.reshape(-1), child] = True
    return adj


def _hung_on(rng: np.random.Generator, low: np.ndarray, high: np.ndarray, n: int) -> np.ndarray:
    """[k, n - 1] a uniform integer in [low, high) per graph and node (low < high broadcast)."""
    u = rng.random((len(low), n - 1))
    return low[:, None] + np.floor(u * (high - low)[:, None]).astype(np.int64)


def _caterpillar(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    backbone = rng.integers(1, n, size=k)  # b in 1..n-1
    node = np.arange(1, n)[None, :]
    parents = np.where(node < backbone[:, None], node - 1, _hung_on(rng, 0 * backbone, backbone, n))
    return _from_parents(parents)


def _lobster(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    backbone = rng.integers(1, n, size=k)  # b in 1..n-1
    first_leaf = backbone + 1 + np.floor(rng.random(k) * (n - backbone)).astype(np.int64)
    node = np.arange(1, n)[None, :]
    on_backbone = _hung_on(rng, 0 * backbone, backbone, n)
    on_pendant = _hung_on(rng, backbone, first_leaf, n)
    parents = np.where(
        node < backbone[:, None],
        node - 1,
        np.where(node < first_leaf[:, None], on_backbone, on_pendant),
    )
    return _from_parents(parents)


def _erdos_renyi(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    p = rng.random(k)
    upper = np.triu(rng.random((k, n, n)) < p[:, None, None], 1)
    return upper | upper.transpose(0, 2, 1)


def _barabasi_albert(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    m = (rng.random(k) * (n - 1)).astype(np.int64) + 1  # 1..n-1
    seeds = rng.integers(2**32, size=k)
    return np.stack(
        [
            _dense(nx.barabasi_albert_graph(n, int(a), seed=int(s)))
            for a, s in zip(m, seeds, strict=True)
        ]
    )


def _powerlaw_degrees(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """[k, n] tree degree sequences as networkx's `random_powerlaw_tree_sequence` draws them:
    round(Pareto(gamma - 1)) clipped to n, one random entry redrawn at a time until the sum is
    2n - 2 (all graphs at once; a sequence that takes too long starts over)."""

    def draw(shape):
        return np.minimum(np.round(rng.pareto(POWERLAW_GAMMA - 1, shape) + 1), n).astype(np.int64)

    degrees = draw((k, n))
    pending = np.flatnonzero(degrees.sum(1) != 2 * n - 2)
    steps = 0
    while len(pending):
        if steps == POWERLAW_TRIES:
            degrees[pending] = draw((len(pending), n))
            steps = 0
        else:
            degrees[pending, rng.integers(0, n, len(pending))] = draw(len(pending))
            steps += 1
        pending = pending[degrees[pending].sum(1) != 2 * n - 2]
    return degrees


def _powerlaw_tree(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """networkx's `degree_sequence_tree`: the inner degrees ascending along a path 1..j (with end
    nodes 0 and j + 1), node i carrying degree_i - 2 leaves."""
    parents = np.empty((k, n - 1), dtype=np.int64)
    for g, degrees in enumerate(_powerlaw_degrees(rng, k, n)):
        inner = np.sort(degrees[degrees > 1])
        path = np.arange(len(inner) + 1)  # parents of path nodes 1..j+1
        parents[g] = np.concatenate([path, np.repeat(np.arange(1, len(inner) + 1), inner - 2)])
    return _from_parents(parents)


RANDOM_TYPES = {
    "erdos_renyi": _erdos_renyi,
    "barabasi_albert": _barabasi_albert,
    "tree": _powerlaw_tree,
    "caterpillar": _caterpillar,
    "lobster": _lobster,
}


def _build(rng: np.random.Generator, types: np.ndarray, n: int) -> np.ndarray:
    """[k, n, n] adjacency of graphs of these types, before permutation and toggling."""
    adj = np.zeros((len(types), n, n), dtype=bool)
    for t in np.unique(types):
        where = np.flatnonzero(types == t)
        kind = GRAPH_TYPES[t]
        if kind in RANDOM_TYPES:
            adj[where] = RANDOM_TYPES[kind](rng, len(where), n)
        else:
            adj[where] = _template(kind, n)
    return adj


def _permute_and_toggle(rng: np.random.Generator, adj: np.ndarray) -> np.ndarray:
    """Relabel each graph's nodes at random, then toggle edges (module docstring)."""
    k, n, _ = adj.shape
    order = np.argsort(rng.random((k, n)), axis=1)
    adj = adj[np.arange(k)[:, None, None], order[:, :, None], order[:, None, :]]
    edges = adj.sum((1, 2)) / 2
    non_edges = n * (n - 1) / 2 - edges
    sparse = edges <= non_edges
    with np.errstate(divide="ignore", invalid="ignore"):
        stay = np.where(sparse, 0.9, 0.9 + 0.1 * (edges - non_edges) / edges)
        new = np.where(sparse, 0.1 * edges / non_edges, 0.1)
    a = rng.uniform(0.0, 0.5, size=(k, n, n))
    s = a + a.transpose(0, 2, 1)
    off_diagonal = ~np.eye(n, dtype=bool)
    return (adj & (s < stay[:, None, None])) | (~adj & (s < new[:, None, None]) & off_diagonal)


def random_graphs(rng: np.random.Generator, types: np.ndarray, n: int) -> np.ndarray:
    """[k, n, n] finished graphs (no isolated node) of the given types, all of n nodes."""
    adj = np.empty((len(types), n, n), dtype=bool)
    pending = np.arange(len(types))
    while len(pending):
        adj[pending] = _permute_and_toggle(rng, _build(rng, types[pending], n))
        pending = pending[~adj[pending].any(-1).all(-1)]
    return adj


def shortest_paths(adj: np.ndarray) -> np.ndarray:
    """[k, n, n] int16 hop distances of k graphs (-1: unreachable), from BFS on block-diagonal
    adjacencies of CHUNK_NODES nodes at a time (scipy.sparse.csgraph)."""
    k, n, _ = adj.shape
    out = np.empty((k, n, n), dtype=np.int16)
    per_chunk = max(1, CHUNK_NODES // n)
    for start in range(0, k, per_chunk):
        block = adj[start : start + per_chunk]
        c = len(block)
        g, u, v = np.nonzero(block)
        rows, cols = g * n + u, g * n + v
        matrix = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(c * n, c * n))
        dist = shortest_path(matrix, directed=False, unweighted=True).reshape(c, n, c, n)
        dist = dist[np.arange(c), :, np.arange(c), :]  # [c, n, n] the diagonal blocks
        out[start : start + c] = np.where(np.isinf(dist), -1, dist)
    return out


def block_targets(adj: np.ndarray, sources: np.ndarray, values: np.ndarray) -> dict:
    """Edges, distances and targets of k graphs of n nodes (adj [k, n, n], sources [k],
    values [k, n]), flattened graph after graph: edge_index [2, E] local, edge_counts [k],
    distances [k n n], diameter [k], eccentricity / sssp / laplacian [k n]."""
    k = len(adj)
    g, u, v = np.nonzero(adj)
    dist = shortest_paths(adj)  # [k, n, n], -1 unreachable
    degree = adj.sum(2)
    return {
        "edge_index": np.stack([u, v]),
        "edge_counts": np.bincount(g, minlength=k),
        "distances": dist.reshape(-1),
        "diameter": dist.max((1, 2)),
        "eccentricity": dist.max(2).reshape(-1),  # -1 (unreachable) never wins over 0 (self)
        "sssp": np.maximum(dist[np.arange(k), sources], 0).reshape(-1),
        "laplacian": (degree * values - np.einsum("kuv,kv->ku", adj, values)).reshape(-1),
    }


@functools.lru_cache(maxsize=8)
def generate_split(seed: int, split: str, count: int) -> GPPGraphs:
    """One split's graphs and all their targets; cached, so the targets share one
    generation per (seed, split, count) in a process. Everything random comes from a numpy
    generator seeded by the split's torch generator (networkx from integers it draws)."""
    rng = np.random.default_rng(
        int(torch.randint(2**62, (1,), generator=split_generator(seed, split)))
    )
    sizes = MIN_NODES + np.arange(count) * SIZE_BLOCKS[split] // count  # [G], ascending
    types = rng.choice(len(GRAPH_TYPES), size=count, p=MIXTURE)
    sources = np.floor(rng.random(count) * sizes).astype(np.int64)
    values = rng.random(int(sizes.sum()))

    blocks = []  # graphs of one size, in graph order
    for n in np.unique(sizes):
        index = np.flatnonzero(sizes == n)
        first = int(sizes[: index[0]].sum())  # the block's first node
        own_values = values[first : first + len(index) * int(n)].reshape(len(index), int(n))
        adj = random_graphs(rng, types[index], int(n))
        blocks.append(block_targets(adj, sources[index], own_values))

    def pointer(counts) -> Tensor:
        return torch.from_numpy(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))

    node_ptr = pointer(sizes)
    x = torch.zeros(int(sizes.sum()), 2)
    x[node_ptr[:-1] + torch.from_numpy(sources), 0] = 1.0
    x[:, 1] = torch.from_numpy(values).float()

    def joined(key: str, axis: int = 0) -> np.ndarray:
        return np.concatenate([block[key] for block in blocks], axis)

    return GPPGraphs(
        x=x,
        edge_index=torch.from_numpy(joined("edge_index", 1).astype(np.int64)),
        node_ptr=node_ptr,
        edge_ptr=pointer(joined("edge_counts")),
        types=torch.from_numpy(types),
        distances=(torch.from_numpy(joined("distances")), pointer(sizes**2)),
        **{t: torch.from_numpy(joined(t).astype(np.float32)) for t in TARGETS},
    )


class GPP(Task):
    """Graph property prediction: regress one target of the PNA-style graphs (module docstring).

    Args:
        target: "diameter" (graph-level) | "eccentricity" | "sssp" | "laplacian" (node-level;
            the module docstring says which published column trained on which).
        num_train, num_val, num_test: 5120 / 640 / 1280 graphs.
        num_layers: default 10, the gLSTM paper's GPP config (A-DGN searches 1 / 5 / 10 / 20).
        readout: "adgn": A-DGN's, node targets MLP d -> d/2 -> 1, diameter concat(sum, max,
            mean pooling) -> MLP 3d -> 3d/2 -> 1, LeakyReLU after every Linear, the output's
            too; "linear": the gLSTM code's (one Linear per node, or mean pooling -> Linear for
            the diameter: layers_post_mp 1).
        normalize_labels: False (A-DGN's and the gLSTM code's raw targets) | True (SWAN's and
            SONAR's: every split divided by the training split's maximum target).
    """

    name = "gpp"
    kind = "regression"
    readout_node = False

    def __init__(
        self,
        target: str = "eccentricity",
        num_train: int = 5120,
        num_val: int = 640,
        num_test: int = 1280,
        num_layers: int = 10,
        readout: str = "adgn",
        normalize_labels: bool = False,
    ):
        self.target = check_choice("task.target", target, TARGETS)
        require(
            isinstance(normalize_labels, bool),
            "task.normalize_labels",
            f"must be true or false, got {normalize_labels!r}",
        )
        self.normalize_labels = normalize_labels
        self.readout = check_choice("task.readout", readout, ("adgn", "linear"))
        self.node_level = target != "diameter"
        self.sizes = split_sizes(num_train, num_val, num_test)
        self.num_layers = check_positive("task.num_layers", num_layers)
        self.size = {}

    def label_scale(self, seed: int) -> float:
        """What the targets are divided by: the training split's maximum target with
        `normalize_labels`, else 1."""
        if not self.normalize_labels:
            return 1.0
        train = getattr(generate_split(seed, "train", self.sizes["train"]), self.target)
        return float(train.max())

    def generate(self, seed: int) -> dict[str, GraphList]:
        out = {}
        scale = self.label_scale(seed)
        for split, count in self.sizes.items():
            graphs = generate_split(seed, split, count)
            out[split] = GraphList(
                x=graphs.x,
                edge_index=graphs.edge_index,
                node_ptr=graphs.node_ptr,
                edge_ptr=graphs.edge_ptr,
                y=getattr(graphs, self.target)[:, None] / scale,
                node_level=self.node_level,
                pair_distances=graphs.distances,
            )
        return out

    def loss(self, pred: Tensor, batch) -> Tensor:
        """Mean over graphs of each graph's mean squared error (A-DGN's loss)."""
        return per_graph_mean((pred - batch.y) ** 2, batch, self.node_level).mean()

    def make_encoder(self, dim: int) -> nn.Module:
        return FeatureEncoder(2, dim)

    @property
    def score_metric(self) -> str:
        return "log10_mse"  # as A-DGN and gLSTM report it

    def make_readout(self, dim: int) -> nn.Module:
        if self.readout == "linear":
            return PerNodeReadout(dim, 1) if self.node_level else PooledReadout(dim, 1)
        if self.node_level:
            return PerNodeReadout(dim, 1, (dim // 2,), act="leaky_relu", act_last=True)
        return PooledReadout(
            dim, 1, ("sum", "max", "mean"), (3 * dim // 2,), act="leaky_relu", act_last=True
        )
