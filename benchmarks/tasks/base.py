"""The task interface: data from a seed, an input encoder, a readout, a loss and a metric."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import scatter

from benchmarks.core.errors import require
from benchmarks.tasks.graphs import GraphSet


class Task:
    """Base class. Subclasses set the class attributes and implement `generate`,
    `make_encoder` and `make_readout`.

    Attributes:
        name: short name used in the results store and reports.
        kind: "classification" (cross-entropy, accuracy) or "regression" (MSE).
        num_layers: default number of message-passing layers.
        size: the problem-size parameter, e.g. {"num_keys": 8}.
        splits: the splits `generate` returns.
        node_level: predictions and targets have one row per node (else one per graph).
        readout_node: every graph has one readout node (`batch.readout_index`) whose output the
            sensitivity metrics differentiate; tasks read out by pooling set it False.
        whole_split: the metric is no mean over graphs (e.g. average precision): it comes from
            `split_metric` on the whole split's predictions.
    """

    name: str
    kind: str = "classification"
    splits: tuple[str, ...] = ("train", "val", "test")
    num_layers: int
    size: dict
    node_level: bool = False
    readout_node: bool = True
    whole_split: bool = False

    def generate(self, seed: int) -> dict[str, GraphSet]:
        raise NotImplementedError

    def make_encoder(self, dim: int) -> nn.Module:
        """Module mapping a batch to encoded node states [N, dim]."""
        raise NotImplementedError

    def make_edge_encoder(self, dim: int) -> nn.Module | None:
        """Module mapping a batch to edge states [E, dim] (`batch.edge_embedding`), or None
        for tasks without edge features."""
        return None

    def make_readout(self, dim: int) -> nn.Module:
        """Module mapping (h [N, dim], batch) to predictions with the rows of `batch.y`."""
        raise NotImplementedError

    @property
    def metric(self) -> str:
        """The history column of the task metric: {split}/{metric}."""
        return "acc" if self.kind == "classification" else "mse"

    @property
    def score_metric(self) -> str:
        """The history column reported as the run's score: the metric, or a form of it that
        the literature reports (e.g. log10_mse)."""
        return self.metric

    @property
    def higher_is_better(self) -> bool:
        return self.metric in ("acc", "ap")

    def loss(self, pred: Tensor, batch) -> Tensor:
        """The training loss: mean over the rows of `pred` (graphs or nodes)."""
        if self.kind == "classification":
            return F.cross_entropy(pred, batch.y)
        return F.mse_loss(pred, batch.y)

    def scores(self, pred: Tensor, batch) -> Tensor:
        """[B] the metric of each graph: 1/0 correct, or its mean squared error over its
        prediction entries (every node's, for node-level predictions)."""
        if self.kind == "classification":
            return (pred.argmax(-1) == batch.y).float()
        return per_graph_mean((pred - batch.y) ** 2, batch, self.node_level)

    def split_metric(self, pred: Tensor, y: Tensor) -> float:
        """The metric of a whole split from its predictions and targets (tasks with
        `whole_split`), e.g. average precision."""
        raise NotImplementedError


def per_graph_mean(values: Tensor, batch, node_level: bool) -> Tensor:
    """[B] the mean of `values` over each graph's entries: values [B, ...] (graph rows) or, with
    `node_level`, [N, ...] (node rows, grouped by `batch.batch`)."""
    values = values.reshape(len(values), -1).mean(-1)  # [rows]
    if not node_level:
        return values
    return scatter(values, batch.batch, dim_size=batch.num_graphs, reduce="mean")


class Meter:
    """The mean loss and metric of one split, accumulated over its batches.

    `update(pred, batch, loss)` per batch; `compute()` gives the history columns
    {split}/loss (mean over graphs of the batch losses), {split}/{metric} (the mean of the
    per-graph metric, or the task's whole-split metric) and, for MSE, {split}/log10_mse. The sums
    stay on the batches' device (float64) until `compute`, so a step never waits for the device.
    """

    def __init__(self, task: Task, split: str):
        self.task, self.split = task, split
        self.reset()

    def reset(self) -> None:
        """Forget every batch."""
        self.loss_sum: Tensor | float = 0.0
        self.score_sum: Tensor | float = 0.0
        self.count = 0
        self.preds: list[Tensor] = []
        self.targets: list[Tensor] = []

    def state_dict(self) -> dict:
        """The sums so far (tensors where they are, on the batches' device)."""
        return {
            "loss_sum": self.loss_sum,
            "score_sum": self.score_sum,
            "count": self.count,
            "preds": list(self.preds),
            "targets": list(self.targets),
        }

    def load_state_dict(self, state: dict) -> None:
        self.loss_sum, self.score_sum = state["loss_sum"], state["score_sum"]
        self.count = state["count"]
        self.preds, self.targets = list(state["preds"]), list(state["targets"])

    def update(self, pred: Tensor, batch, loss: Tensor) -> None:
        pred = pred.detach()
        self.loss_sum = self.loss_sum + loss.detach().double() * batch.num_graphs
        self.count += batch.num_graphs
        if self.task.whole_split:
            self.preds.append(pred)
            self.targets.append(batch.y)
        else:
            self.score_sum = self.score_sum + self.task.scores(pred, batch).double().sum()

    def compute(self) -> dict[str, float]:
        if self.task.whole_split:
            preds, targets = torch.cat(self.preds).cpu(), torch.cat(self.targets).cpu()
            value = self.task.split_metric(preds.float(), targets)
        else:
            value = float(self.score_sum) / self.count
        out = {f"{self.split}/loss": float(self.loss_sum) / self.count}
        out[f"{self.split}/{self.task.metric}"] = value
        if self.task.metric == "mse":
            out[f"{self.split}/log10_mse"] = math.log10(max(value, 1e-30))
        return out


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
