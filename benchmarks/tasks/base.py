"""The task interface: data from a seed, an input encoder, a readout, a loss and a metric."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks.errors import require
from benchmarks.tasks.graphs import GraphSet


class NodeReadout(nn.Module):
    """prediction = Linear(h[readout node of each graph]): [N, dim] -> [B, out]."""

    def __init__(self, dim: int, out: int, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(dim, out, bias=bias)

    def forward(self, h: Tensor, batch) -> Tensor:
        return self.linear(h[batch.readout_index])


class Task:
    """Base class. Subclasses set the class attributes and implement `generate`,
    `make_encoder` and `make_readout`.

    Attributes:
        name: short name used in the results store and reports.
        kind: "classification" (cross-entropy, accuracy) or "regression" (MSE).
        num_layers: default number of message-passing layers.
        size: the problem-size parameter, e.g. {"num_keys": 8}.
        splits: the splits `generate` returns.
    """

    name: str
    kind: str = "classification"
    splits: tuple[str, ...] = ("train", "val", "test")
    num_layers: int
    size: dict

    def generate(self, seed: int) -> dict[str, GraphSet]:
        raise NotImplementedError

    def make_encoder(self, dim: int) -> nn.Module:
        """Module mapping a batch to encoded node states [N, dim]."""
        raise NotImplementedError

    def make_readout(self, dim: int) -> nn.Module:
        """Module mapping (h [N, dim], batch) to predictions [B, out]."""
        raise NotImplementedError

    @property
    def metric(self) -> str:
        return "acc" if self.kind == "classification" else "mse"

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "classification"

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        if self.kind == "classification":
            return F.cross_entropy(pred, y)
        return F.mse_loss(pred, y)

    def score(self, pred: Tensor, y: Tensor) -> Tensor:
        """Per-graph metric summed over the batch: correct count or squared error / D."""
        if self.kind == "classification":
            return (pred.argmax(-1) == y).sum()
        return ((pred - y) ** 2).mean(-1).sum()


def check_positive(key: str, value: int) -> int:
    require(isinstance(value, int) and value > 0, key, f"must be a positive integer, got {value!r}")
    return value


def split_sizes(num_train: int, num_val: int, num_test: int) -> dict[str, int]:
    """Graphs per split, each checked positive (keys task.num_train / num_val / num_test)."""
    return {
        "train": check_positive("task.num_train", num_train),
        "val": check_positive("task.num_val", num_val),
        "test": check_positive("task.num_test", num_test),
    }


def check_even_dim(task: str, dim: int) -> None:
    require(
        dim % 2 == 0,
        "model.dim",
        f"must be even for task {task} (keys and values each take half), got {dim}",
    )


def uniform_labels(count: int, classes: int, generator: torch.Generator) -> Tensor:
    """[count] labels with every class equally often (up to one), in random order."""
    return (torch.arange(count) % classes)[torch.randperm(count, generator=generator)]
