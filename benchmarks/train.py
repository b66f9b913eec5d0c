"""Fit, evaluate and select: the two published protocols, chosen by the `train` config.

- gLSTM paper (`select: best_val`): AdamW, cosine schedule with optional warm-up, gradient
  clipping, early stopping on the validation metric; the reported number is the test metric at
  the last epoch with the best validation metric.
- Alon & Yahav (`select: best_train`): Adam, LR halved on a plateau of the training accuracy,
  stop at 100% training accuracy or when it stops improving; reported: the best training accuracy.

Training-split metrics are running averages over the epoch's batches (in train mode), as in
Alon & Yahav's code; validation and test metrics come from a separate pass in eval mode.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from benchmarks.tasks import GraphSet, Task


class Network(nn.Module):
    """encoder -> model -> readout: batch -> predictions [B, out].

    `forward(batch, x)` takes the encoded node states x [N, dim] directly when given, so that
    metrics can differentiate with respect to them.
    """

    def __init__(self, encoder: nn.Module, model: nn.Module, readout: nn.Module):
        super().__init__()
        self.encoder, self.model, self.readout = encoder, model, readout

    def forward(self, batch, x: Tensor | None = None) -> Tensor:
        x = self.encoder(batch) if x is None else x  # [N, dim]
        return self.readout(self.model(x, batch), batch)


def split_metrics(task: Task, loss_sum: float, score_sum: float, count: int, split: str) -> dict:
    """Mean loss and metric of a split as history columns, e.g. {"val/loss", "val/acc"}."""
    out = {f"{split}/loss": loss_sum / count, f"{split}/{task.metric}": score_sum / count}
    if task.kind == "regression":
        out[f"{split}/log10_mse"] = math.log10(max(score_sum / count, 1e-30))
    return out


@torch.no_grad()
def evaluate(
    net: Network, task: Task, graphs: GraphSet, split: str, batch_size: int, device
) -> dict:
    net.eval()
    loss_sum = score_sum = 0.0
    for batch in graphs.batches(batch_size):
        batch = batch.to(device)
        pred = net(batch)
        loss_sum += task.loss(pred, batch.y).item() * batch.num_graphs
        score_sum += task.score(pred, batch.y).item()
    return split_metrics(task, loss_sum, score_sum, len(graphs), split)


def make_optimizer(net: nn.Module, cfg) -> torch.optim.Optimizer:
    optimizers = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}
    return optimizers[cfg.optimizer](net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(optimizer, cfg, higher_is_better: bool):
    """Per-epoch schedule: cosine (linear warm-up, then cosine to 0 at max_epochs), plateau
    (multiply the LR by plateau_factor when the monitored metric stalls) or none."""
    if cfg.scheduler == "cosine":
        warmup, total = cfg.warmup_epochs, cfg.max_epochs

        def factor(epoch: int) -> float:
            if epoch < warmup:
                return (epoch + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / max(1, total - warmup)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="max" if higher_is_better else "min",
            factor=cfg.plateau_factor,
            patience=cfg.plateau_patience,
            threshold=cfg.min_delta,
            threshold_mode="abs",
        )
    return None


@dataclass
class Selection:
    """Tracks the selection metric: the last epoch with the best value is the selected one;
    `stale` counts epochs since it last improved by more than `min_delta`."""

    higher_is_better: bool
    min_delta: float
    best: float | None = None
    epoch: int = 0
    row: dict = field(default_factory=dict)
    stale: int = 0

    def update(self, value: float, row: dict) -> None:
        sign = 1.0 if self.higher_is_better else -1.0
        if self.best is None or sign * (value - self.best) > self.min_delta:
            self.stale = 0
        else:
            self.stale += 1
        if self.best is None or sign * (value - self.best) >= 0:
            self.best, self.epoch, self.row = value, row["epoch"], row


@dataclass
class FitResult:
    history: list[dict]
    selection: Selection
    epochs: int
    stopped: str  # why training ended


def fit(
    net: Network,
    task: Task,
    data: dict[str, GraphSet],
    cfg,
    device: torch.device,
    *,
    seed: int,
    on_epoch: Callable[[dict], None] = lambda row: None,
    on_resume: Callable[[list[dict]], None] = lambda rows: None,
    checkpoint: Path | None = None,
    progress: bool | None = None,
) -> FitResult:
    """Train `net` on data["train"] with the protocol `cfg` (the `train` config group).

    Resumes from `checkpoint` when that file exists and saves it after every epoch, so an
    interrupted run continues where it stopped; `on_resume` then gets the checkpoint's history
    (rows logged after the last checkpoint are trained again). `progress=None` shows bars only
    on a terminal.
    """
    split = "val" if cfg.select == "best_val" else "train"
    monitor = f"{split}/{task.metric}"
    optimizer = make_optimizer(net, cfg)
    scheduler = make_scheduler(optimizer, cfg, task.higher_is_better)
    selection = Selection(task.higher_is_better, cfg.min_delta)
    shuffle = torch.Generator().manual_seed(seed)
    history: list[dict] = []
    start_epoch, elapsed, state = 1, 0.0, {}
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        shuffle.set_state(state["shuffle"])
        torch.set_rng_state(state["rng"])
        history, selection, elapsed = state["history"], state["selection"], state["elapsed"]
        start_epoch = len(history) + 1 if state["stopped"] == "max_epochs" else cfg.max_epochs + 1
        on_resume(history)

    train = data["train"]
    steps = cfg.passes_per_epoch * train.num_batches(cfg.batch_size)
    epochs = tqdm(
        range(start_epoch, cfg.max_epochs + 1),
        initial=start_epoch - 1,
        total=cfg.max_epochs,
        desc=f"{task.name} epochs",
        disable=None if progress is None else not progress,
        dynamic_ncols=True,
    )
    stopped = state["stopped"] if start_epoch > cfg.max_epochs else "max_epochs"
    for epoch in epochs:
        t0 = time.perf_counter()
        net.train()
        loss_sum = score_sum = 0.0
        count = 0
        batches = (
            b
            for _ in range(cfg.passes_per_epoch)
            for b in train.batches(cfg.batch_size, True, shuffle)
        )
        for batch in tqdm(
            batches, total=steps, leave=False, desc="batches", disable=epochs.disable or steps < 200
        ):
            batch = batch.to(device)
            pred = net(batch)  # [B, out]
            loss = task.loss(pred, batch.y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            optimizer.step()
            loss_sum += loss.item() * batch.num_graphs
            score_sum += task.score(pred.detach(), batch.y).item()
            count += batch.num_graphs
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
        row |= split_metrics(task, loss_sum, score_sum, count, "train")
        for name in task.splits[1:]:
            row |= evaluate(net, task, data[name], name, cfg.batch_size, device)
        elapsed += time.perf_counter() - t0
        row["time_s"] = elapsed

        selection.update(row[monitor], row)
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(row[monitor])
        elif scheduler is not None:
            scheduler.step()
        history.append(row)
        on_epoch(row)
        epochs.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k.endswith(task.metric)})

        if cfg.stop_loss is not None and row[f"{split}/loss"] < cfg.stop_loss:
            stopped = f"{split}/loss < {cfg.stop_loss}"
        elif (
            cfg.stop_acc is not None
            and task.kind == "classification"
            and row[f"{split}/acc"] >= cfg.stop_acc
        ):
            stopped = f"{split}/acc >= {cfg.stop_acc}"
        elif selection.stale >= cfg.patience:
            stopped = f"no {monitor} improvement in {cfg.patience} epochs"
        else:
            stopped = "max_epochs"
        if checkpoint is not None:
            state = {
                "net": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "shuffle": shuffle.get_state(),
                "rng": torch.get_rng_state(),
                "history": history,
                "selection": selection,
                "elapsed": elapsed,
                "stopped": stopped,
            }
            torch.save(state, checkpoint.with_suffix(".tmp"))
            os.replace(checkpoint.with_suffix(".tmp"), checkpoint)
        if stopped != "max_epochs":
            break
    epochs.close()
    return FitResult(history, selection, len(history), stopped)
