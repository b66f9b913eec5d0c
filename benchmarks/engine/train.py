"""Fit, evaluate and select: the two published protocols, chosen by the `train` config.

- gLSTM paper (`select: best_val`): AdamW, cosine schedule with optional linear warm-up, gradient
  clipping, early stopping on the validation metric; the reported number is the test metric at
  the last epoch with the best validation metric.
- Alon & Yahav (`select: best_train`): Adam, LR halved on a plateau of the training accuracy,
  stop at 100% training accuracy or after `patience` stale rounds; reported: the best training
  accuracy. Their deepest trees accumulate gradients over several batches (`accumulate`).

An epoch is one evaluation round: `passes_per_epoch` passes over the training set, then one
evaluation of every split. Training-split metrics are running averages over the round's batches
(in train mode), as in Alon & Yahav's code; validation and test metrics come from a separate pass
in eval mode. The weights of the selected epoch are kept (`FitResult.selected_state`).

`fit` reads top to bottom: setup (one :class:`TrainingState` holding the model, optimiser,
schedule, meter, selection, RNG states and position), the epoch loop (:func:`train_epoch`),
evaluate and select (:meth:`TrainingState.end_epoch`), checkpoint (the state's `state_dict`).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau
from tqdm.auto import tqdm

from benchmarks.engine.network import Network
from benchmarks.engine.precision import autocast
from benchmarks.engine.provenance import now
from benchmarks.engine.schedule import make_optimizer, make_scheduler
from benchmarks.engine.selection import Selection, Staleness
from benchmarks.tasks import GraphSet, Task
from benchmarks.tasks.base import Meter


@torch.no_grad()
def evaluate(
    net: Network,
    task: Task,
    graphs: GraphSet,
    split: str,
    batch_size: int,
    device,
    amp: str | None = None,
) -> dict:
    net.eval()
    meter = Meter(task, split)
    for batch in graphs.batches(batch_size):
        batch = batch.to(device)
        with autocast(device, amp):
            pred = net(batch)
        pred = pred.float()  # the loss and the metrics in float32
        meter.update(pred, batch, task.loss(pred, batch))
    return meter.compute()


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive groups of `size` items, the last one possibly shorter: (a b c d e), 2 ->
    [a b] [c d] [e]."""
    items = iter(items)
    while chunk := list(itertools.islice(items, size)):
        yield chunk


class Interrupted(Exception):
    """`fit` stopped between two optimizer steps because `interrupted()` said so; its
    checkpoint holds the state at that step."""


@dataclass
class FitResult:
    history: list[dict]
    selection: Selection
    selected_state: dict[str, Tensor]  # net.state_dict() of the selected epoch, on the CPU
    epochs: int
    stopped: str  # why training ended
    wall_time_s: float  # seconds spent in fit, over every attempt of a resumed run
    started: str  # when the first attempt began (ISO 8601, UTC)


def rng_states() -> dict:
    """torch's CPU generator state and, once CUDA is initialised, every CUDA device's."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {"cpu": torch.get_rng_state(), "cuda": cuda}


def set_rng_states(states: dict) -> None:
    """Restore :func:`rng_states`; the CUDA states of the devices this machine has (none on a
    CPU node resuming a run checkpointed on a GPU)."""
    torch.set_rng_state(states["cpu"])
    if states["cuda"] and torch.cuda.is_available():
        for index, state in enumerate(states["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(state, index)


def to_device(value, device: torch.device):
    """`value` with every tensor in it (inside dicts and lists too) moved to `device`."""
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, list):
        return [to_device(v, device) for v in value]
    return value


@dataclass
class TrainingState:
    """Everything a fit holds between two optimizer steps; a checkpoint is its `state_dict()`
    (tensors and plain Python values only) and a resumed fit continues from `load_state_dict`.

    Where the run is: `epoch` (the epoch in progress, one past the history) and `steps`, the
    optimizer steps of that epoch already taken; `epoch_shuffle` is the shuffle generator's
    state at the start of that epoch, so a resumed epoch replays its batch order, and `meter`
    holds that epoch's training sums so far. `elapsed`: training seconds (the history's
    time_s) and `wall_time_s`: seconds spent in fit, both over every attempt; `started`: when
    the first attempt began; `stopped`: why training ended (None while it goes on).
    """

    net: Network
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR | ReduceLROnPlateau | None
    meter: Meter
    selection: Selection
    staleness: Staleness
    shuffle: torch.Generator
    device: torch.device
    selected_state: dict[str, Tensor] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    elapsed: float = 0.0
    stopped: str | None = None
    started: str = field(default_factory=now)
    epoch_shuffle: Tensor | None = None
    earlier_wall_time: float = 0.0  # fit's seconds in the attempts before this one
    attempt_start: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(
        cls, net: Network, task: Task, cfg, steps_per_epoch: int, seed: int, device: torch.device
    ) -> TrainingState:
        """The state before the first step: a fresh optimizer and schedule for `cfg` (the run's
        ``train`` group), empty meter and selection, the shuffle seeded with `seed`."""
        optimizer = make_optimizer(net, cfg)
        return cls(
            net=net,
            optimizer=optimizer,
            scheduler=make_scheduler(optimizer, cfg, task.higher_is_better, steps_per_epoch),
            meter=Meter(task, "train"),
            selection=Selection(task.higher_is_better),
            staleness=Staleness(task.higher_is_better, cfg.min_delta),
            shuffle=torch.Generator().manual_seed(seed),
            device=device,
        )

    def __post_init__(self):
        if self.epoch_shuffle is None:
            self.epoch_shuffle = self.shuffle.get_state()

    @property
    def epoch(self) -> int:
        return len(self.history) + 1

    @property
    def wall_time_s(self) -> float:
        return self.earlier_wall_time + time.perf_counter() - self.attempt_start

    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "meter": self.meter.state_dict(),
            "selection": dataclasses.asdict(self.selection),
            "staleness": dataclasses.asdict(self.staleness),
            "selected_state": self.selected_state,
            "history": self.history,
            "shuffle": self.epoch_shuffle,
            "steps": self.steps,
            "elapsed": self.elapsed,
            "wall_time_s": self.wall_time_s,
            "started": self.started,
            "stopped": self.stopped,
            "rng": rng_states(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state` (loaded with map_location="cpu"; the tensors that live on the
        device are moved there: the network's and optimizer's by their own loaders)."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.meter.load_state_dict(to_device(state["meter"], self.device))
        self.selection = Selection(**state["selection"])
        self.staleness = Staleness(**state["staleness"])
        self.selected_state, self.history = state["selected_state"], state["history"]
        self.epoch_shuffle = state["shuffle"]
        self.shuffle.set_state(self.epoch_shuffle)
        self.steps, self.elapsed = state["steps"], state["elapsed"]
        self.earlier_wall_time, self.attempt_start = state["wall_time_s"], time.perf_counter()
        self.started, self.stopped = state["started"], state["stopped"]
        set_rng_states(state["rng"])

    def save(self, path: Path) -> None:
        """Write `state_dict()` to `path` atomically (temp file, then rename)."""
        torch.save(self.state_dict(), path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)

    def load(self, path: Path) -> None:
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

    def end_epoch(self, row: dict, monitor: str) -> None:
        """Record a finished epoch's history row (selection with its weights, stale rounds,
        the plateau schedule), then stand at the start of the next epoch."""
        if self.selection.update(row[monitor], row):
            weights = self.net.state_dict()
            self.selected_state = {k: v.detach().to("cpu", copy=True) for k, v in weights.items()}
        self.staleness.update(row[monitor])
        if isinstance(self.scheduler, ReduceLROnPlateau):
            on_loss = getattr(self.scheduler, "monitors_loss", False)
            self.scheduler.step(row[monitor.split("/")[0] + "/loss" if on_loss else monitor])
        self.history.append(row)
        self.meter.reset()
        self.steps, self.epoch_shuffle = 0, self.shuffle.get_state()


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
    interrupted: Callable[[], bool] = lambda: False,
    progress: bool | None = None,
    amp: str | None = None,
) -> FitResult:
    """Train `net` on data["train"] with the protocol `cfg` (the `train` config group).

    Each forward pass takes `batch_size` graphs; each optimizer step takes `accumulate` such
    micro-batches (effective batch: batch_size x accumulate graphs). A micro-batch of B_i graphs
    in a group of N graphs adds grad(B_i / N * loss_i) (loss_i: its mean over its graphs), so the
    step's gradient is the mean over the group's graphs (with equal micro-batches: loss_i /
    accumulate). Gradient clipping and the step happen once per group. Groups do not cross
    passes: the last group of a pass may hold fewer micro-batches, and it still steps.

    Resumes from `checkpoint` when that file exists and saves it after every epoch, so an
    interrupted run continues where it stopped; `on_resume` then gets the checkpoint's history
    (rows logged after the last checkpoint are trained again). `interrupted()` is asked before
    every optimizer step; when it says so, fit saves a mid-epoch checkpoint and raises
    :class:`Interrupted`. A mid-epoch checkpoint holds the shuffle state at the start of its
    epoch and the steps already taken, so the resumed epoch replays the same batch order from
    the next step: the result equals that of an uninterrupted run. `progress=None` shows bars
    only on a terminal.

    The data moves to `device` once (its batches are then built there), and no step waits for the
    device: the meter's sums are read once, at the end of the epoch. `amp`: see :func:`autocast`.
    """
    split = "val" if cfg.select == "best_val" else "train"
    monitor = f"{split}/{task.metric}"
    data = {name: graphs.to(device) for name, graphs in data.items()}
    steps_per_pass = -(-data["train"].num_batches(cfg.batch_size) // cfg.accumulate)
    steps_per_epoch = cfg.passes_per_epoch * steps_per_pass  # optimizer steps
    state = TrainingState.start(net, task, cfg, steps_per_epoch, seed, device)
    if checkpoint is not None and checkpoint.exists():
        state.load(checkpoint)
        on_resume(state.history)

    epochs = tqdm(
        total=cfg.max_epochs,
        initial=len(state.history),
        desc=f"{task.name} epochs",
        disable=None if progress is None else not progress,
        dynamic_ncols=True,
    )
    quiet = epochs.disable or steps_per_epoch < 200
    while state.stopped is None and state.epoch <= cfg.max_epochs:
        t0 = time.perf_counter()
        try:
            lr = train_epoch(
                state, task, data["train"], cfg, steps_per_epoch, amp, interrupted, quiet
            )
        except Interrupted:
            state.elapsed += time.perf_counter() - t0
            if checkpoint is not None:
                state.save(checkpoint)
            raise

        row = {"epoch": state.epoch, "lr": lr} | state.meter.compute()
        for name in task.splits[1:]:
            row |= evaluate(net, task, data[name], name, cfg.batch_size, device, amp)
        state.elapsed += time.perf_counter() - t0
        row["time_s"] = state.elapsed
        state.end_epoch(row, monitor)
        on_epoch(row)
        epochs.update()
        epochs.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k.endswith(task.metric)})

        state.stopped = stop_reason(row, cfg, task, split, state.staleness)
        if checkpoint is not None:
            state.save(checkpoint)
    epochs.close()
    return FitResult(
        history=state.history,
        selection=state.selection,
        selected_state=state.selected_state,
        epochs=len(state.history),
        stopped=state.stopped or "max_epochs",
        wall_time_s=state.wall_time_s,
        started=state.started,
    )


def train_epoch(
    state: TrainingState,
    task: Task,
    train: GraphSet,
    cfg,
    steps_per_epoch: int,
    amp: str | None,
    interrupted: Callable[[], bool],
    quiet: bool,
) -> float:
    """The optimizer steps of the epoch in progress from step `state.steps` on: its batch order
    is drawn from `state.epoch_shuffle`, so a resumed epoch draws the same order and skips the
    steps already taken. Returns the learning rate of its last step; raises
    :class:`Interrupted` before a step if `interrupted()` says so."""
    net, optimizer, device = state.net, state.optimizer, state.device
    net.train()
    state.shuffle.set_state(state.epoch_shuffle)
    groups = (  # the batch order is drawn lazily, pass by pass
        group
        for _ in range(cfg.passes_per_epoch)
        for group in chunks(train.batches(cfg.batch_size, True, state.shuffle), cfg.accumulate)
    )
    groups = itertools.islice(groups, state.steps, None)
    bar = tqdm(
        groups, desc="steps", total=steps_per_epoch, initial=state.steps, leave=False, disable=quiet
    )
    for group in bar:
        if interrupted():
            raise Interrupted(
                f"stopped in epoch {state.epoch} after step {state.steps}/{steps_per_epoch}"
            )
        group_size = sum(batch.num_graphs for batch in group)  # N, the effective batch
        optimizer.zero_grad(set_to_none=True)
        for batch in group:
            batch = batch.to(device)
            with autocast(device, amp):
                pred = net(batch)  # [B_i, out]
            pred = pred.float()  # the loss and the metrics in float32
            loss = task.loss(pred, batch)  # mean over the B_i graphs (or their nodes)
            (loss * batch.num_graphs / group_size).backward()  # grads sum to the group mean
            state.meter.update(pred, batch, loss)
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        if isinstance(state.scheduler, LambdaLR):
            state.scheduler.step()
        state.steps += 1
    return lr


def stop_reason(row: dict, cfg, task: Task, split: str, staleness: Staleness) -> str | None:
    """Why training stops after the epoch of `row`, or None if it goes on."""
    if cfg.stop_loss is not None and row[f"{split}/loss"] < cfg.stop_loss:
        return f"{split}/loss < {cfg.stop_loss}"
    if (
        cfg.stop_acc is not None
        and task.kind == "classification"
        and row[f"{split}/acc"] >= cfg.stop_acc
    ):
        return f"{split}/acc >= {cfg.stop_acc}"
    if staleness.rounds >= cfg.patience:
        return f"no {split}/{task.metric} improvement in {cfg.patience} epochs"
    return None
