r"""FoSR, first-order spectral rewiring (Karhadkar, Banerjee & Montúfar, "FoSR: First-order
spectral rewiring for addressing oversquashing in GNNs", ICLR 2023, Algorithm 1).

With self-loops, degrees :math:`\hat d_i = 1 + d_i` and the normalised adjacency
:math:`\hat A = \hat D^{-1/2} (A + I) \hat D^{-1/2}`, the top eigenvector of :math:`\hat A` is
:math:`v_1 \propto \hat D^{1/2} \mathbf 1` and the spectral gap is :math:`1 - \lambda_2(\hat A)`.
Adding the undirected edge :math:`(i, j)` changes :math:`\lambda_2` to first order by
:math:`2 x_i x_j / \sqrt{\hat d_i \hat d_j}` (:math:`x` the unit eigenvector of :math:`\lambda_2`),
so each step adds the non-edge

.. math::
    (i, j) = \operatorname{arg\,min}_{(i, j) \notin E,\ i \ne j}
        \frac{x_i x_j}{\sqrt{(1 + d_i)(1 + d_j)}}

and then refreshes :math:`x` by one power-iteration step on the new graph.

The power iteration is the authors' code's (kedar2/FoSR @1a7360c, ``preprocessing/fosr.py``): on
:math:`I + D^{-1/2} A D^{-1/2}` **without self-loops** (its top eigenvector is
:math:`\sqrt d`), each step projecting out :math:`\sqrt d` first, then multiplying and
normalising:

.. math::
    x \leftarrow x - \frac{x \cdot \sqrt d}{\sum_i d_i} \sqrt d, \quad
    x \leftarrow \frac{x + D^{-1/2} A D^{-1/2} x}{\| x + D^{-1/2} A D^{-1/2} x \|}

from :math:`x \sim U[-1, 1)^n`, 5 steps before the first edge (``edge_rewire``'s default) and one
after each added edge; the score above still divides by :math:`\sqrt{1 + d}`, as the code's
``choose_edge_to_add``. Every added edge has relation type 1 and the input's edges type 0 (the
code's ``edge_type``, read by its R-GCN / R-GIN): :meth:`FoSR.forward` sets ``data.edge_type``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from baselines.rewiring.transform import EdgeRewiring


class FoSR(EdgeRewiring):
    r"""Adds ``num_iterations`` undirected edges chosen by first-order spectral-gap increase.

    The input graph is treated as undirected (``edge_index`` is symmetrised, self-loops and
    duplicates dropped); the output ``edge_index`` ``[2, E + 2k]`` holds both directions of every
    edge, coalesced. Graphs with ``edge_attr`` are refused (added edges would have no attribute).

    Args:
        num_iterations: k, edges to add (fewer if the graph becomes complete).
        initial_power_iterations: power-iteration steps on the input graph before the first edge
            (the authors' code: 5).
        seed: seed of the random start vector of the power iteration (``None``: torch's global
            generator).
    """

    def __init__(self, num_iterations: int, initial_power_iterations: int = 5, seed=None):
        if num_iterations < 0 or initial_power_iterations < 0:
            raise ValueError("FoSR: num_iterations and initial_power_iterations must be >= 0")
        self.num_iterations = num_iterations
        self.initial_power_iterations = initial_power_iterations
        self.seed = seed

    def rewire(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        """[2, E] edges of an n-node graph -> [2, E'] undirected, coalesced, rewired edges."""
        edges = _simple_undirected(edge_index, num_nodes)
        src, dst = edges
        degree = torch.bincount(src, minlength=num_nodes).double()
        generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        x = 2 * torch.rand(num_nodes, generator=generator, dtype=torch.float64) - 1
        x = _power_step(x, src, dst, degree, steps=self.initial_power_iterations)
        edge_keys = _EdgeKeys(src * num_nodes + dst)
        for _ in range(self.num_iterations):
            pair = _best_non_edge(x / (1 + degree).sqrt(), edge_keys, num_nodes)
            if pair is None:
                break
            i, j = pair
            src = torch.cat([src, torch.tensor([i, j])])
            dst = torch.cat([dst, torch.tensor([j, i])])
            edge_keys.add(torch.tensor([i * num_nodes + j, j * num_nodes + i]))
            degree[i] += 1
            degree[j] += 1
            x = _power_step(x, src, dst, degree, steps=1)
        return coalesce(torch.stack([src, dst]), num_nodes=num_nodes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_iterations={self.num_iterations}, seed={self.seed})"


def _simple_undirected(edge_index: Tensor, num_nodes: int) -> Tensor:
    edge_index, _ = remove_self_loops(edge_index.long())
    return to_undirected(edge_index, num_nodes=num_nodes)


def _power_step(x: Tensor, src: Tensor, dst: Tensor, degree: Tensor, steps: int) -> Tensor:
    r"""``steps`` of the code's iteration: project out :math:`\sqrt d`, apply
    :math:`I + D^{-1/2} A D^{-1/2}` (no self-loops), normalise. ``x`` ``[n]``, edges ``[E]``
    both directions, ``degree`` ``[n]`` (a degree-0 node is left as it is)."""
    root = degree.sqrt()
    inv_root = torch.where(degree > 0, 1 / root, torch.zeros_like(root))
    for _ in range(steps):
        x = x - (x @ root) * root / degree.sum().clamp_min(1e-300)
        y = x * inv_root
        x = x + torch.zeros_like(x).index_add_(0, dst, y[src]) * inv_root
        x = x / x.norm().clamp_min(1e-300)
    return x


def _best_non_edge(y: Tensor, edges: _EdgeKeys, num_nodes: int):
    r"""The non-edge :math:`(i, j)`, :math:`i \ne j`, minimising :math:`y_i y_j`, or ``None``.

    Only the k smallest and k largest entries of ``y`` are paired (k doubling until exact): a pair
    with a node outside them has a product bounded below by the corners of
    :math:`[y_{(k)}, y_{(n-k-1)}] \times [y_{\min}, y_{\max}]`, so a best in-block non-edge at or
    below that bound is the global minimum.
    """
    k = 8
    while True:
        if 2 * k + 2 >= num_nodes:
            block = torch.arange(num_nodes)
        else:
            low_values, low = torch.topk(y, k + 1, largest=False)
            high_values, high = torch.topk(y, k + 1)
            block = torch.cat([low[:k], high[:k]])
        products = y[block, None] * y[None, block]
        invalid = edges.contains(block[:, None] * num_nodes + block[None, :])
        invalid |= block[:, None] == block[None, :]
        products = products.masked_fill(invalid, float("inf"))
        best = int(torch.argmin(products))
        value = products.view(-1)[best]
        i, j = int(block[best // len(block)]), int(block[best % len(block)])
        if 2 * k + 2 >= num_nodes:
            return None if torch.isinf(value) else (i, j)
        middle = torch.stack([low_values[k], high_values[k]])
        ends = torch.stack([low_values[0], high_values[0]])
        bound = (middle[:, None] * ends[None, :]).min()
        if not torch.isinf(value) and value <= bound:
            return i, j
        k *= 2


class _EdgeKeys:
    """Membership of keys ``i * n + j``: the input edges sorted once, the few added ones apart."""

    def __init__(self, keys: Tensor):
        self.sorted = torch.sort(keys).values
        self.added = torch.empty(0, dtype=torch.long)

    def add(self, keys: Tensor) -> None:
        self.added = torch.cat([self.added, keys])

    def contains(self, keys: Tensor) -> Tensor:
        if len(self.sorted) == 0:
            found = torch.zeros_like(keys, dtype=torch.bool)
        else:
            position = torch.searchsorted(self.sorted, keys).clamp_max(len(self.sorted) - 1)
            found = self.sorted[position] == keys
        return found | torch.isin(keys, self.added)
