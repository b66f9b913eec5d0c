"""Tree-NeighborsMatch (Alon & Yahav, "On the Bottleneck of Graph Neural Networks", ICLR 2021).

A complete binary tree of depth r, numbered in depth-first pre-order (root 0) as in the public
code. Edges point child -> parent, plus a self-loop on every node. Leaf j (in left-to-right order)
holds (key j+1, value p(j)) for a random permutation p of 1..2^r; the root holds (selected key, 0);
inner nodes (0, 0). The label is the value of the leaf with the selected key, so the root must
receive all 2^r leaves through a bottleneck of r levels.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from benchmarks.core.errors import require
from benchmarks.tasks.base import Task
from benchmarks.tasks.graphs import GraphSet, Topology, split_generator, undirected
from benchmarks.tasks.readouts import NodeReadout

ROOT, INNER, LEAF = 0, 1, 2  # node roles


def binary_tree(depth: int, directed: bool = True) -> tuple[Topology, torch.Tensor]:
    """The tree in pre-order and its leaves in left-to-right order ([2^depth] node ids)."""
    parent, level = [], []

    def visit(up: int, d: int) -> None:  # one topology per task, at most 2047 nodes
        node = len(parent)
        parent.append(up)
        level.append(d)
        if d < depth:
            visit(node, d + 1)
            visit(node, d + 1)

    visit(-1, 0)
    parent_t, level_t = torch.tensor(parent), torch.tensor(level)
    children = torch.arange(1, len(parent))
    edges = torch.stack([children, parent_t[1:]])
    if not directed:
        edges = undirected(edges)
    loops = torch.arange(len(parent)).repeat(2, 1)
    roles = torch.where(level_t == depth, LEAF, INNER)
    roles[0] = ROOT
    topology = Topology(torch.cat([edges, loops], 1), len(parent), readout=0, roles=roles)
    return topology, (level_t == depth).nonzero().squeeze(1)  # pre-order keeps leaves in order


class TreeNeighborsMatch(Task):
    """Args:
    depth: r in 2..10 (the paper: 2..8).
    directed: edges child -> parent only (the original); false makes them undirected.
    train_fraction: stratified train share (0.8); the rest is the test set.
    num_layers: default r + 1.
    """

    name = "tree_neighbors_match"
    splits = ("train", "test")

    def __init__(
        self,
        depth: int = 3,
        directed: bool = True,
        train_fraction: float = 0.8,
        num_layers: int | None = None,
    ):
        require(
            isinstance(depth, int) and 2 <= depth <= 10,
            "task.depth",
            f"must be an integer in 2..10, got {depth!r}",
        )
        require(
            0 < train_fraction < 1,
            "task.train_fraction",
            f"must be in (0, 1), got {train_fraction}",
        )
        self.depth, self.train_fraction = depth, train_fraction
        self.num_leaves = 2**depth
        self.num_layers = depth + 1 if num_layers is None else num_layers
        require(self.num_layers > 0, "task.num_layers", f"must be positive, got {self.num_layers}")
        self.size = {"depth": depth}
        self.topology, self.leaves = binary_tree(depth, directed)

    @property
    def num_permutations(self) -> int:
        """r <= 3: min(1000, (2^r)!) distinct; r > 3: min(1000, 32000 // 2^r) random."""
        if self.depth <= 3:
            return min(1000, math.factorial(self.num_leaves))
        return min(1000, 32000 // self.num_leaves)

    def _permutations(self, gen: torch.Generator) -> torch.Tensor:
        """[P, 2^r] permutations of 1..2^r."""
        K, P = self.num_leaves, self.num_permutations
        if self.depth <= 3:  # at most 8! = 40320 rows: enumerate, then sample without replacement
            every = torch.tensor(list(itertools.permutations(range(1, K + 1))))
            return every[torch.randperm(len(every), generator=gen)[:P]]
        return torch.rand(P, K, generator=gen).argsort(dim=1) + 1

    def generate(self, seed: int) -> dict[str, GraphSet]:
        gen = split_generator(seed, "train")
        K, n = self.num_leaves, self.topology.num_nodes
        perms = self._permutations(gen)  # [P, K]
        P = len(perms)
        # example (p, k): permutation p, selected key k + 1; label p[k] (classes 0..K-1)
        x = torch.zeros(P, K, n, 2, dtype=torch.long)
        x[:, :, self.leaves, 0] = torch.arange(1, K + 1)
        x[:, :, self.leaves, 1] = perms[:, None, :]
        x[:, :, 0, 0] = torch.arange(1, K + 1)
        x = x.reshape(P * K, n, 2)
        y = (perms - 1).reshape(-1)
        train = self._stratified_train_mask(y, gen)
        return {
            "train": GraphSet(self.topology, x[train], y[train]),
            "test": GraphSet(self.topology, x[~train], y[~train]),
        }

    def _stratified_train_mask(self, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """[G] bool: a random `train_fraction` of the examples of every label."""
        order = torch.randperm(len(y), generator=gen)
        order = order[y[order].argsort(stable=True)]  # grouped by label, random within a group
        counts = torch.bincount(y, minlength=self.num_leaves)
        starts = counts.cumsum(0) - counts
        rank = torch.arange(len(y)) - starts.repeat_interleave(counts)
        mask = torch.zeros(len(y), dtype=torch.bool)
        mask[order] = rank < (counts * self.train_fraction).round().long().repeat_interleave(counts)
        return mask

    def make_encoder(self, dim: int) -> nn.Module:
        return SummedKeyValueEncoder(self.num_leaves, dim)

    def make_readout(self, dim: int) -> nn.Module:
        return NodeReadout(dim, self.num_leaves, bias=False)


class SummedKeyValueEncoder(nn.Module):
    """x = E_key(key) + E_value(value): [N, 2] long -> [N, dim] (token 0 is "empty")."""

    def __init__(self, num_tokens: int, dim: int):
        super().__init__()
        self.key = nn.Embedding(num_tokens + 1, dim)
        self.value = nn.Embedding(num_tokens + 1, dim)

    def forward(self, batch) -> torch.Tensor:
        return self.key(batch.x[:, 0]) + self.value(batch.x[:, 1])
