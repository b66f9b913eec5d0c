r"""SDRF, stochastic discrete Ricci flow (Topping et al., "Understanding over-squashing and
bottlenecks on graphs via curvature", ICLR 2022, Definition 1 and Algorithm 1).

Balanced Forman curvature of an edge :math:`i \sim j` with degrees :math:`d_i, d_j`
(:math:`\mathrm{Ric}(i, j) = 0` when :math:`\min(d_i, d_j) = 1`):

.. math::
    \mathrm{Ric}(i, j) = \frac{2}{d_i} + \frac{2}{d_j} - 2
        + 2 \frac{|\sharp_\Delta|}{\max(d_i, d_j)} + \frac{|\sharp_\Delta|}{\min(d_i, d_j)}
        + \frac{|\sharp_\square^i| + |\sharp_\square^j|}{\gamma_{\max} \max(d_i, d_j)}

with :math:`\sharp_\Delta = S_1(i) \cap S_1(j)` the triangles on the edge,
:math:`\sharp_\square^i = \{k \in S_1(i) \setminus S_1(j), k \ne j : \exists w \in
(S_1(k) \cap S_1(j)) \setminus S_1(i), w \ne i\}` the neighbours of :math:`i` starting a 4-cycle
:math:`i \sim k \sim w \sim j \sim i` without diagonals, and :math:`\gamma_{\max}` the largest
number of such cycles through one :math:`k` (or, symmetrically, one neighbour of :math:`j`); the
last term is 0 without 4-cycles.

Each SDRF iteration takes the most negatively curved edge :math:`(i, j)`, scores every non-edge
:math:`(k, l) \in B_1(i) \times B_1(j)` by the curvature gain :math:`x_{kl}` of :math:`(i, j)` once
:math:`(k, l)` is added, adds one sampled with probability :math:`\mathrm{softmax}(\tau x)_{kl}`,
and, if ``c_plus`` is set, removes the most positively curved edge when its curvature exceeds
:math:`C^+`.

The authors' code (jctops/understanding-oversquashing @c14e91d, ``gdl/src/gdl/curvature/cuda.py``
38-57, the same formula in ``numba.py``) computes another curvature, :func:`code_curvature`
(``curvature="code"``): no zero for a degree-one end, and its 4-cycle term counts, for each
neighbour :math:`k` of :math:`j`, whether :math:`(A^2)_{ik} - A_{ik} > 0` (and symmetrically), with
:math:`k = i` itself and 2-paths through :math:`j` included, divided by the largest such value:

.. math::
    \mathrm{Ric}_{\text{code}}(i, j) = \frac{2}{d_{\max}} + \frac{2}{d_{\min}} - 2
        + \Big(\frac{2}{d_{\max}} + \frac{1}{d_{\min}}\Big) (A^2)_{ij}
        + \frac{\sharp}{d_{\max} \lambda}, \quad
    \sharp = |\{k : A_{kj} ((A^2)_{ik} - A_{ik}) > 0\}| + |\{k : A_{ik} ((A^2)_{kj} - A_{kj}) > 0\}|

(:math:`\lambda` the largest of those products; the last term 0 when :math:`\lambda = 0`). A
6-cycle edge gets 1.0 (Definition 1: 0) and the bridge of two K4 -0.5 (Definition 1: -1). The code
also takes the argmin and argmax over all :math:`N \times N` entries of the curvature matrix,
whose non-edges hold 0, and removes edges by default (``removal_bound`` 0.5, ``numba.py``
177-178); ``curvature="code"`` selects the same way. Ours in both modes: the gain of a candidate
is the curvature of :math:`(i, j)` recomputed after adding it (the code's ``post_delta`` kernel).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import remove_self_loops, to_dense_adj

from baselines.rewiring.transform import EdgeRewiring

CURVATURES = ("paper", "code")


def code_curvature(adjacency: Tensor, i: Tensor, j: Tensor) -> Tensor:
    r"""The authors' code's curvature (module docstring) of the pairs ``(i[b], j[b])``.

    Args:
        adjacency: ``[n, n]`` symmetric 0/1 matrix shared by every pair, or ``[B, n, n]``.
        i, j: ``[B]`` node indices.

    Returns:
        ``[B]`` float64 curvatures; 0 where ``i`` and ``j`` are not adjacent.
    """
    adjacency = adjacency.double()
    batched = adjacency.dim() == 3
    rows = torch.arange(len(i))
    row_i = adjacency[rows, i] if batched else adjacency[i]
    row_j = adjacency[rows, j] if batched else adjacency[j]
    if batched:
        paths_i = torch.bmm(row_i.unsqueeze(1), adjacency).squeeze(1)  # (A^2)_{i k}
        paths_j = torch.bmm(row_j.unsqueeze(1), adjacency).squeeze(1)
    else:
        paths_i, paths_j = row_i @ adjacency, row_j @ adjacency
    high = torch.maximum(row_i.sum(-1), row_j.sum(-1))
    low = torch.minimum(row_i.sum(-1), row_j.sum(-1))
    triangles = paths_i[rows, j]
    first = row_j * (paths_i - row_i)
    second = row_i * (paths_j - row_j)
    sharp = (first > 0).sum(-1) + (second > 0).sum(-1)
    lam = torch.maximum(first.max(-1).values, second.max(-1).values)
    square = torch.where(lam > 0, sharp / (high * lam).clamp_min(1e-300), 0.0)
    curvature = 2 / high + 2 / low - 2 + (2 / high + 1 / low) * triangles + square
    adjacent = row_i[rows, j] > 0
    return torch.where(adjacent & (high * low > 0), curvature, torch.zeros_like(curvature))


def balanced_forman_curvature(adjacency: Tensor, i: Tensor, j: Tensor) -> Tensor:
    r"""Balanced Forman curvature of the pairs ``(i[b], j[b])``.

    Args:
        adjacency: ``[n, n]`` symmetric 0/1 matrix shared by every pair, or ``[B, n, n]``, one
            graph per pair.
        i, j: ``[B]`` node indices of adjacent pairs.

    Returns:
        ``[B]`` float64 curvatures.
    """
    adjacency = adjacency.double()
    batched = adjacency.dim() == 3
    rows = torch.arange(len(i))
    row_i = adjacency[rows, i] if batched else adjacency[i]
    row_j = adjacency[rows, j] if batched else adjacency[j]
    degree_i, degree_j = row_i.sum(-1), row_j.sum(-1)
    triangles = (row_i * row_j).sum(-1)

    def squares(row_a, row_b, a, b):
        # w: neighbours of b not adjacent to a (a excluded); k: a's neighbours not adjacent to b
        ends = (row_b * (1 - row_a)).index_put((rows, a), torch.tensor(0.0, dtype=torch.float64))
        starts = (row_a * (1 - row_b)).index_put((rows, b), torch.tensor(0.0, dtype=torch.float64))
        if batched:
            through = torch.bmm(adjacency, ends.unsqueeze(-1)).squeeze(-1)
        else:
            through = ends @ adjacency
        through = through * starts
        return (through > 0).sum(-1).double(), through.max(-1).values

    squares_i, gamma_i = squares(row_i, row_j, i, j)
    squares_j, gamma_j = squares(row_j, row_i, j, i)
    gamma_max = torch.maximum(gamma_i, gamma_j)
    high, low = torch.maximum(degree_i, degree_j), torch.minimum(degree_i, degree_j)
    square_term = torch.where(
        gamma_max > 0, (squares_i + squares_j) / (gamma_max * high).clamp_min(1), 0.0
    )
    curvature = (
        2 / degree_i + 2 / degree_j - 2 + 2 * triangles / high + triangles / low + square_term
    )
    return torch.where(low > 1, curvature, torch.zeros_like(curvature))


class SDRF(EdgeRewiring):
    r"""Curvature-based rewiring: ``num_iterations`` steps of SDRF (Topping et al. 2022).

    The graph is treated as undirected (symmetrised, self-loops and duplicates dropped) and held as
    a dense ``[n, n]`` matrix, so it suits graphs of up to a few thousand nodes; the output
    ``edge_index`` holds both directions of every edge, sorted. Graphs with ``edge_attr`` are
    refused.

    Args:
        num_iterations: SDRF iterations (at most one edge added and one removed each).
        tau: softmax temperature of the candidate sampling (large: greedy).
        c_plus: remove the most positively curved edge when its curvature exceeds this
            (``None``: never remove; the authors' code: 0.5).
        seed: seed of the candidate sampling (``None``: torch's global generator).
        curvature: ``paper`` (Definition 1, the default) | ``code`` (the authors' code's
            curvature and its selection over all N x N entries; module docstring).
    """

    def __init__(
        self,
        num_iterations: int,
        tau: float,
        c_plus: float | None = None,
        seed=None,
        curvature: str = "paper",
    ):
        if num_iterations < 0 or tau <= 0:
            raise ValueError("SDRF: num_iterations must be >= 0 and tau > 0")
        if curvature not in CURVATURES:
            raise ValueError(f"SDRF: curvature must be one of {CURVATURES}, got {curvature!r}")
        self.curvature = curvature
        self.curve = code_curvature if curvature == "code" else balanced_forman_curvature
        self.num_iterations = num_iterations
        self.tau = tau
        self.c_plus = c_plus
        self.seed = seed

    def rewire(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        """[2, E] edges of an n-node graph -> [2, E'] undirected rewired edges."""
        edge_index, _ = remove_self_loops(edge_index.long())
        adjacency = to_dense_adj(edge_index, max_num_nodes=num_nodes)[0].bool()
        adjacency = (adjacency | adjacency.T).double()
        generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        for _ in range(self.num_iterations):
            src, dst, curvature = self._scores(adjacency)
            if len(src) == 0:
                break
            worst = int(torch.argmin(curvature))
            self._add_best_candidate(
                adjacency, int(src[worst]), int(dst[worst]), curvature[worst], generator
            )
            if self.c_plus is not None:
                if (
                    self.curvature != "code"
                ):  # the code reuses the curvature of the iteration's start
                    src, dst, curvature = self._scores(adjacency)
                best = int(torch.argmax(curvature))
                if curvature[best] > self.c_plus:
                    adjacency[src[best], dst[best]] = adjacency[dst[best], src[best]] = 0
        return adjacency.nonzero().T.contiguous()

    def _scores(self, adjacency: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The pairs scored and their curvature: the edges i < j (paper), or every (i, j) in
        row-major order with 0 at non-edges (code, so that argmin / argmax pick the entry the
        code's flat argmin / argmax picks)."""
        src, dst = torch.triu(adjacency, diagonal=1).nonzero().T
        curvature = self.curve(adjacency, src, dst)
        if self.curvature != "code":
            return src, dst, curvature
        n = adjacency.shape[0]
        matrix = torch.zeros(n, n, dtype=torch.float64)
        matrix[src, dst] = matrix[dst, src] = curvature
        every = torch.arange(n)
        return every.repeat_interleave(n), every.repeat(n), matrix.view(-1)

    def _add_best_candidate(self, adjacency, i: int, j: int, curvature, generator) -> None:
        """Adds one non-edge of B1(i) x B1(j), sampled by softmax(tau * gain of Ric(i, j))."""
        ball_i = torch.cat([torch.tensor([i]), adjacency[i].nonzero().view(-1)])
        ball_j = torch.cat([torch.tensor([j]), adjacency[j].nonzero().view(-1)])
        ends_i, ends_j = torch.cartesian_prod(ball_i, ball_j).T
        keep = (ends_i != ends_j) & (adjacency[ends_i, ends_j] == 0)
        ends_i, ends_j = ends_i[keep], ends_j[keep]
        if len(ends_i) == 0:
            return
        # Only B1(i) u B1(j) matters to Ric(i, j): score each candidate on that local subgraph.
        local = torch.unique(torch.cat([ball_i, ball_j]))
        position = torch.full((adjacency.shape[0],), -1, dtype=torch.long)
        position[local] = torch.arange(len(local))
        graphs = adjacency[local][:, local].expand(len(ends_i), -1, -1).clone()
        candidates = torch.arange(len(ends_i))
        graphs[candidates, position[ends_i], position[ends_j]] = 1
        graphs[candidates, position[ends_j], position[ends_i]] = 1
        pair = torch.full((len(ends_i),), position[i]), torch.full((len(ends_i),), position[j])
        gain = self.curve(graphs, *pair) - curvature
        choice = int(torch.multinomial(torch.softmax(self.tau * gain, 0), 1, generator=generator))
        k, m = int(ends_i[choice]), int(ends_j[choice])
        adjacency[k, m] = adjacency[m, k] = 1

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_iterations={self.num_iterations}, tau={self.tau}, "
            f"c_plus={self.c_plus}, seed={self.seed}, curvature={self.curvature!r})"
        )
