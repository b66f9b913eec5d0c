"""The training loop (benchmarks/train.py): gradient accumulation, the per-step warm-up and cosine
schedule, Alon & Yahav's stale-round rule, the selected epoch's weights, and resuming (also from
the mid-epoch checkpoint saved on Slurm's signal)."""

import io
import math
import os
import signal
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import count, pairwise

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch_geometric.nn import GCNConv

from benchmarks.engine.network import Network
from benchmarks.engine.preemption import DeferredSignal
from benchmarks.engine.schedule import make_scheduler
from benchmarks.engine.selection import Selection, Staleness
from benchmarks.engine.train import Interrupted, TrainingState, evaluate, fit, train_epoch
from benchmarks.tasks import NAR
from tests.helpers import CONF

CPU = torch.device("cpu")


class TinyGCN(nn.Module):
    """Two GCN layers, no normalisation, dropout `dropout` after each: [N, dim] -> [N, dim]."""

    def __init__(self, dim: int, dropout: float = 0.0):
        super().__init__()
        self.convs = nn.ModuleList(GCNConv(dim, dim) for _ in range(2))
        self.dropout = dropout

    def forward(self, x, batch):
        for conv in self.convs:
            x = torch.relu(conv(x, batch.edge_index))
            if self.dropout:
                x = F.dropout(x, self.dropout, self.training)
        return x


def protocol(**overrides):
    """The gLSTM paper's protocol (conf/train/paper.yaml) with `overrides`."""
    return OmegaConf.merge(OmegaConf.load(CONF / "train" / "paper.yaml"), overrides)


def setup(num_train: int = 64, dim: int = 16, dropout: float = 0.0, init_seed: int = 0):
    """A small NAR task, its data and a freshly initialised network (the same on every call)."""
    task = NAR(num_keys=4, num_train=num_train, num_val=32, num_test=32)
    torch.manual_seed(init_seed)
    net = Network(task.make_encoder(dim), TinyGCN(dim, dropout), task.make_readout(dim))
    return task, net, task.generate(0)


def train(cfg, num_train: int = 64, dropout: float = 0.0, **kwargs):
    task, net, data = setup(num_train, dropout=dropout)
    return task, net, data, fit(net, task, data, cfg, CPU, seed=0, progress=False, **kwargs)


@contextmanager
def optimizer_steps():
    """Records every optimizer step: the learning rate and the gradients it applies."""
    steps = []

    def record(optimizer, args, kwargs):
        params = [p for group in optimizer.param_groups for p in group["params"]]
        grads = [None if p.grad is None else p.grad.clone() for p in params]
        steps.append({"lr": optimizer.param_groups[0]["lr"], "grads": grads})

    handle = register_optimizer_step_pre_hook(record)
    try:
        yield steps
    finally:
        handle.remove()


def without_time(history):
    return [{k: v for k, v in row.items() if k != "time_s"} for row in history]


# -- gradient accumulation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_train, batch, micro_batch, accumulate, steps_per_pass",
    [
        (8, 8, 4, 2, 1),  # 2b graphs at once = two micro-batches of b
        (5, 5, 3, 2, 1),  # unequal micro-batches (3 + 2): weighted by their graph counts
        (5, 4, 2, 2, 2),  # groups [2 2] [1]: the trailing partial group steps too
    ],
)
def test_accumulated_micro_batches_step_like_one_batch(
    num_train, batch, micro_batch, accumulate, steps_per_pass
):
    common = dict(max_epochs=2, passes_per_epoch=2, stop_loss=None)
    with optimizer_steps() as whole:
        *_, net_whole, _, out_whole = train(protocol(batch_size=batch, **common), num_train)
    with optimizer_steps() as accumulated:
        cfg = protocol(batch_size=micro_batch, accumulate=accumulate, **common)
        *_, net_acc, _, out_acc = train(cfg, num_train)

    assert len(whole) == len(accumulated) == 2 * 2 * steps_per_pass
    for step_whole, step_acc in zip(whole, accumulated, strict=True):
        assert step_acc["lr"] == step_whole["lr"]
        for g_whole, g_acc in zip(step_whole["grads"], step_acc["grads"], strict=True):
            torch.testing.assert_close(g_acc, g_whole, atol=1e-6, rtol=1e-5)
    for p_whole, p_acc in zip(net_whole.parameters(), net_acc.parameters(), strict=True):
        torch.testing.assert_close(p_acc, p_whole, atol=1e-6, rtol=0)
    for row_acc, row_whole in zip(out_acc.history, out_whole.history, strict=True):
        assert row_acc == pytest.approx(row_whole | {"time_s": row_acc["time_s"]})


# -- learning-rate schedule ------------------------------------------------------------------------


def cosine_lrs(warmup_epochs: int, max_epochs: int, steps_per_epoch: int, lr: float = 0.1):
    """The learning rate of every optimizer step of a cosine schedule."""
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=lr)
    cfg = protocol(scheduler="cosine", warmup_epochs=warmup_epochs, max_epochs=max_epochs)
    scheduler = make_scheduler(optimizer, cfg, True, steps_per_epoch)
    lrs = []
    for _ in range(max_epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_cosine_warmup_starts_near_zero_and_reaches_base_after_warmup():
    lr, steps_per_epoch, warmup = 0.1, 10, 5 * 10
    lrs = cosine_lrs(warmup_epochs=5, max_epochs=20, steps_per_epoch=steps_per_epoch, lr=lr)
    assert lrs[0] == pytest.approx(lr / warmup)
    assert lrs[warmup - 1] == pytest.approx(lr) and max(lrs) == pytest.approx(lr)
    assert all(a < b for a, b in pairwise(lrs[:warmup]))  # rises during warm-up
    assert all(a > b for a, b in pairwise(lrs[warmup:]))  # then falls
    assert 0 < lrs[-1] < 1e-3 * lr


def test_cosine_without_warmup_matches_the_per_epoch_schedule():
    lr, max_epochs, steps_per_epoch = 0.1, 20, 10
    lrs = cosine_lrs(0, max_epochs, steps_per_epoch, lr)
    per_epoch = [lr * 0.5 * (1 + math.cos(math.pi * e / max_epochs)) for e in range(max_epochs)]
    for epoch, value in enumerate(per_epoch):
        steps = lrs[epoch * steps_per_epoch : (epoch + 1) * steps_per_epoch]
        assert steps[0] == pytest.approx(value)  # each epoch starts at the per-epoch value
        next_value = per_epoch[epoch + 1] if epoch + 1 < max_epochs else 0.0
        assert all(next_value < s <= value + 1e-12 for s in steps)


def test_fit_warms_up_over_optimizer_steps_not_batches():
    # 16 graphs, micro-batches of 4, 2 per step: 2 steps per epoch; warm-up: 2 epochs = 4 steps
    cfg = protocol(batch_size=4, accumulate=2, warmup_epochs=2, max_epochs=4, stop_loss=None)
    with optimizer_steps() as steps:
        *_, out = train(cfg, num_train=16)
    lrs = [s["lr"] for s in steps]
    assert len(lrs) == 8
    assert lrs[:4] == pytest.approx([cfg.lr * k / 4 for k in (1, 2, 3, 4)])
    assert lrs[4] == pytest.approx(cfg.lr) and lrs[-1] < 0.2 * cfg.lr
    assert [row["lr"] for row in out.history] == lrs[1::2]  # a row: its epoch's last step


# -- stopping and selection ------------------------------------------------------------------------


def test_stale_rounds_count_from_the_last_gain_above_min_delta():
    values = [1.0, 1.06, 1.12, 1.15, 1.2, 1.21, 0.9, 1.5, 1.5]
    staleness, selection = Staleness(True, min_delta=0.1), Selection(True)
    rounds, references, selected = [], [], []
    for epoch, value in enumerate(values, start=1):
        staleness.update(value)
        selection.update(value, {"epoch": epoch})
        rounds.append(staleness.rounds)
        references.append(staleness.reference)
        selected.append(selection.epoch)
    # 1.06 gains 0.06: stale, reference stays 1.0; 1.12 gains 0.12 on it: fresh (the old rule,
    # measuring from the best value 1.06, called it stale); 1.15 .. 1.21 are each a new best but
    # within 0.1 of 1.12: stale; 1.5: fresh; the tie 1.5 is stale but moves the selection.
    assert rounds == [0, 1, 0, 1, 2, 3, 4, 0, 1]
    assert references == [1.0, 1.0, 1.12, 1.12, 1.12, 1.12, 1.12, 1.5, 1.5]
    assert selected == [1, 2, 3, 4, 5, 6, 6, 8, 9]


def test_stale_rounds_lower_is_better():
    staleness = Staleness(False, min_delta=0.0)
    for value in [3.0, 2.0, 2.0, 2.5, 1.9]:
        staleness.update(value)
    assert staleness.reference == 1.9 and staleness.rounds == 0
    staleness.update(1.9)
    assert staleness.rounds == 1


def test_fit_stops_after_patience_stale_rounds():
    cfg = protocol(min_delta=10.0, patience=2, max_epochs=10, stop_loss=None)
    *_, out = train(cfg)
    assert out.epochs == 3 and out.stopped == "no val/acc improvement in 2 epochs"


# -- the selected epoch's weights ------------------------------------------------------------------

# A learning rate high enough that validation accuracy falls after its best epoch.
UNSTABLE = dict(lr=0.05, batch_size=16, max_epochs=8, stop_loss=None, grad_clip=None)


def test_selected_state_holds_the_best_epochs_weights():
    task, net, data, out = train(protocol(**UNSTABLE))
    selected, last = out.selection.row, out.history[-1]
    assert out.selection.epoch < out.epochs and selected["val/loss"] != last["val/loss"]
    assert all(v.device == CPU for v in out.selected_state.values())

    for split in ("val", "test"):  # the final weights give the last row ...
        metrics = evaluate(net, task, data[split], split, 32, CPU)
        assert metrics == pytest.approx({k: last[k] for k in metrics})
    net.load_state_dict(out.selected_state)  # ... the kept ones the selected row
    for split in ("val", "test"):
        metrics = evaluate(net, task, data[split], split, 32, CPU)
        assert metrics == pytest.approx({k: selected[k] for k in metrics})


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_resumed_run_equals_an_uninterrupted_one(tmp_path, dropout):
    """Also with dropout: the resumed run draws the same masks (torch's RNG state is restored)."""
    cfg = protocol(**UNSTABLE | dict(batch_size=8, accumulate=2, warmup_epochs=2))
    *_, net_whole, _, whole = train(cfg, dropout=dropout)

    def interrupt_at_epoch_5(row):
        if row["epoch"] == 5:
            torch.rand(3)  # the RNG moves on after the last checkpoint, as in a killed run
            raise Interrupt

    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(Interrupt):
        train(cfg, dropout=dropout, checkpoint=checkpoint, on_epoch=interrupt_at_epoch_5)
    resumed_rows = []
    *_, net_resumed, _, resumed = train(
        cfg, dropout=dropout, checkpoint=checkpoint, on_resume=resumed_rows.extend
    )

    assert [row["epoch"] for row in resumed_rows] == [1, 2, 3, 4]
    assert without_time(resumed.history) == without_time(whole.history)
    assert resumed.selection.epoch == whole.selection.epoch
    for name, value in whole.selected_state.items():
        torch.testing.assert_close(resumed.selected_state[name], value, atol=0, rtol=0)
    for p_whole, p_resumed in zip(net_whole.parameters(), net_resumed.parameters(), strict=True):
        torch.testing.assert_close(p_resumed, p_whole, atol=0, rtol=0)

    # A finished checkpoint: nothing is trained again, the selected weights come from the file.
    again = train(cfg, dropout=dropout, checkpoint=checkpoint)[-1]
    assert again.epochs == resumed.epochs and again.selection.epoch == whole.selection.epoch
    for name, value in whole.selected_state.items():
        torch.testing.assert_close(again.selected_state[name], value, atol=0, rtol=0)


def test_slurm_signal_mid_epoch_saves_a_checkpoint_that_resumes_to_the_same_weights(tmp_path):
    """As in a submitit job: SIGUSR2 arrives halfway through an optimizer step (sent by the 43rd
    training forward pass: epoch 3, step 6 of 8, in the epoch's second pass over the data).
    DeferredSignal holds it until the step is done; fit saves a checkpoint before the next step;
    submitit's handler then gets the signal and exits. The resumed run replays the epoch's batch
    order from step 7 and ends with the weights and history of an uninterrupted run."""
    cfg = protocol(**UNSTABLE | dict(batch_size=8, accumulate=2, passes_per_epoch=2))
    *_, net_whole, _, whole = train(cfg)  # 64 graphs: 8 micro-batches, 4 steps per pass

    handled = []

    def submitit_handler(signum, frame):  # submitit's requeues the job, then does this
        handled.append(signum)
        sys.exit(-1)

    forwards = count(1)

    def signal_on_43rd_training_forward(module, args):
        if module.training and next(forwards) == 2 * 16 + 5 * 2 + 1:
            os.kill(os.getpid(), signal.SIGUSR2)

    task, net, data = setup()
    net.register_forward_pre_hook(signal_on_43rd_training_forward)
    checkpoint = tmp_path / "checkpoint.pt"
    previous = signal.signal(signal.SIGUSR2, submitit_handler)
    try:
        with pytest.raises(SystemExit), DeferredSignal(signal.SIGUSR2) as preemption:
            fit(net, task, data, cfg, CPU, seed=0, checkpoint=checkpoint, progress=False,
                interrupted=preemption.received)  # fmt: skip
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert handled == [signal.SIGUSR2]
    saved = torch.load(checkpoint, weights_only=False)
    assert len(saved["history"]) == 2 and saved["steps"] == 6

    resumed_rows = []
    *_, net_resumed, _, resumed = train(cfg, checkpoint=checkpoint, on_resume=resumed_rows.extend)
    assert [row["epoch"] for row in resumed_rows] == [1, 2]
    assert without_time(resumed.history) == without_time(whole.history)
    for p_whole, p_resumed in zip(net_whole.parameters(), net_resumed.parameters(), strict=True):
        torch.testing.assert_close(p_resumed, p_whole, atol=0, rtol=0)
    for name, value in whole.selected_state.items():
        torch.testing.assert_close(resumed.selected_state[name], value, atol=0, rtol=0)


# -- the training state ----------------------------------------------------------------------------


def epoch(state, task, data, cfg, steps_per_epoch, interrupted=lambda: False) -> dict:
    """One epoch of `state`'s training (the rest of it, when resumed mid-epoch)."""
    lr = train_epoch(state, task, data["train"], cfg, steps_per_epoch, None, interrupted, True)
    row = {"epoch": state.epoch, "lr": lr} | state.meter.compute()
    row |= evaluate(state.net, task, data["val"], "val", cfg.batch_size, CPU)
    state.end_epoch(row, "val/acc")
    return row


@pytest.mark.parametrize("scheduler", ["cosine", "plateau"])
def test_training_state_round_trip_continues_identically(scheduler):
    """state_dict() in the middle of an epoch (a map of tensors and plain values: it loads with
    weights_only=True), loaded into a state over a differently initialised network: both go on
    with the same batches, dropout masks, meter sums, schedule and weights."""
    cfg = protocol(**UNSTABLE | dict(batch_size=8, scheduler=scheduler, plateau_patience=0))
    steps_per_epoch = 8
    task, net, data = setup(dropout=0.5)
    state = TrainingState.start(net, task, cfg, steps_per_epoch, 0, CPU)
    epoch(state, task, data, cfg, steps_per_epoch)
    taken = count()
    with pytest.raises(Interrupted):
        epoch(state, task, data, cfg, steps_per_epoch, lambda: next(taken) == 3)
    assert state.steps == 3 and state.epoch == 2

    buffer = io.BytesIO()
    torch.save(state.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, map_location="cpu", weights_only=True)
    _, other_net, _ = setup(dropout=0.5, init_seed=1)
    other = TrainingState.start(other_net, task, cfg, steps_per_epoch, 0, CPU)
    torch.manual_seed(123)  # the loaded RNG state, not this one, draws the next masks
    other.load_state_dict(saved)

    rows = []
    for s in (other, state):
        if s is state:
            torch.set_rng_state(saved["rng"]["cpu"])
        rows.append([epoch(s, task, data, cfg, steps_per_epoch) for _ in range(2)])
    assert rows[0] == rows[1]
    for p, q in zip(state.net.parameters(), other.net.parameters(), strict=True):
        torch.testing.assert_close(q, p, atol=0, rtol=0)
    assert other.optimizer.param_groups[0]["lr"] == state.optimizer.param_groups[0]["lr"]
    assert other.selection == state.selection and other.staleness == state.staleness
    assert other.history == state.history and other.started == state.started


def test_checkpoint_from_a_gpu_resumes_on_the_cpu(tmp_path, monkeypatch):
    """A checkpoint whose tensors were saved on cuda:0 (their storages tagged so) is loaded
    with map_location="cpu" and resumes here to the uninterrupted run's weights."""
    cfg = protocol(**UNSTABLE | dict(batch_size=8))
    *_, net_whole, _, whole = train(cfg)

    def interrupt_at_epoch_3(row):
        if row["epoch"] == 3:
            raise Interrupt

    checkpoint = tmp_path / "checkpoint.pt"
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        with pytest.raises(Interrupt):
            train(cfg, checkpoint=checkpoint, on_epoch=interrupt_at_epoch_3)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(checkpoint, weights_only=True)  # as saved: on a GPU
    *_, net_resumed, _, resumed = train(cfg, checkpoint=checkpoint)
    assert without_time(resumed.history) == without_time(whole.history)
    for p_whole, p_resumed in zip(net_whole.parameters(), net_resumed.parameters(), strict=True):
        torch.testing.assert_close(p_resumed, p_whole, atol=0, rtol=0)


def test_resumed_fit_counts_the_time_of_every_attempt(tmp_path):
    """wall_time_s adds the attempts up; `started` is the first attempt's."""
    cfg = protocol(**UNSTABLE | dict(max_epochs=3))

    def slow_epoch_1_interrupt_at_2(row):
        if row["epoch"] == 1:
            time.sleep(1.0)  # before epoch 1's checkpoint: part of the first attempt's time
        if row["epoch"] == 2:
            raise Interrupt

    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(Interrupt):
        train(cfg, checkpoint=checkpoint, on_epoch=slow_epoch_1_interrupt_at_2)
    started = torch.load(checkpoint, weights_only=True)["started"]
    time.sleep(1.0)
    second_attempt = datetime.now(UTC).replace(microsecond=0)
    *_, resumed = train(cfg, checkpoint=checkpoint)
    assert resumed.epochs == 3 and resumed.wall_time_s >= 1.0
    assert resumed.started == started
    assert datetime.fromisoformat(started) < second_attempt


def test_deferred_signal_changes_nothing_without_a_python_handler():
    with DeferredSignal(signal.SIGUSR2) as preemption:
        assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL
    assert preemption.handler is None and not preemption.received()


def test_mixed_precision_is_opt_in_and_trains():
    """amp="bf16": the matrix products run in bfloat16 (seen inside the model), the loss and the
    history stay float32 numbers, and training still lowers the loss; off by default."""
    seen = []

    def record(module, args, out):
        seen.append(out.dtype)

    cfg = protocol(max_epochs=3, patience=10, stop_loss=None)
    task, net, data = setup()
    net.model.convs[0].lin.register_forward_hook(record)
    out = fit(net, task, data, cfg, CPU, seed=0, progress=False, amp="bf16")
    assert set(seen) == {torch.bfloat16}
    losses = [row["train/loss"] for row in out.history]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    seen.clear()
    task, net, data = setup()
    net.model.convs[0].lin.register_forward_hook(record)
    fit(net, task, data, cfg, CPU, seed=0, progress=False)
    assert set(seen) == {torch.float32}


def test_graph_set_on_its_device_builds_equal_batches():
    """A GraphSet moved to a device builds its batches there; on the CPU it is the set itself."""
    task, _, data = setup()
    graphs = data["train"]
    assert graphs.to("cpu") is graphs
    moved = graphs.to(torch.device("cpu"))
    index = torch.tensor([3, 1, 2])
    a, b = graphs.batch(index), moved.batch(index)
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    assert a.topology_key == b.topology_key


def test_plateau_on_the_loss_with_a_relative_threshold_and_a_floor():
    """The gLSTM code's schedule (HughBlayney/gLSTM configs/GNN-xLSTM/): ReduceLROnPlateau on
    the validation loss, mode min, relative threshold 1e-4, factor 0.5, patience 1 here, floor
    0.3 x lr. Step by step from lr 1: losses 1.0 (best), 0.99995 (not < 1.0 * (1 - 1e-4): stale
    1), 0.99995 (stale 2 > 1: lr 0.5), 0.5 (best), 0.5, 0.5 (lr 0.25 -> floor 0.3), 0.5, 0.5
    (stays 0.3). The metric column (higher is better, rising) is ignored."""
    import dataclasses
    from types import SimpleNamespace

    from benchmarks.engine.config import TrainSchema

    defaults = {f.name: f.default for f in dataclasses.fields(TrainSchema)}
    assert defaults["plateau_monitor"] == "select" and defaults["plateau_threshold_mode"] == "abs"
    assert defaults["plateau_threshold"] is None and defaults["min_lr"] == 0.0
    cfg = protocol(
        scheduler="plateau",
        plateau_factor=0.5,
        plateau_patience=1,
        plateau_monitor="loss",
        plateau_threshold_mode="rel",
        plateau_threshold=1e-4,
        min_lr=0.3,
    )
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = make_scheduler(optimizer, cfg, True, steps_per_epoch=1)
    state = SimpleNamespace(scheduler=scheduler)
    lrs = []
    losses = [1.0, 0.99995, 0.99995, 0.5, 0.5, 0.5, 0.5, 0.5]
    for epoch, loss in enumerate(losses):
        row = {"val/loss": loss, "val/acc": float(epoch)}  # the metric keeps rising
        on_loss = getattr(state.scheduler, "monitors_loss", False)
        state.scheduler.step(row["val/loss" if on_loss else "val/acc"])
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3])


def test_plateau_defaults_are_the_schedule_as_before():
    """Without the new keys (absent from the train files): the selection metric, absolute
    min_delta, no floor."""
    cfg = protocol(scheduler="plateau", plateau_patience=0)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = make_scheduler(optimizer, cfg, True, steps_per_epoch=1)
    assert scheduler.mode == "max" and scheduler.threshold_mode == "abs"
    assert scheduler.min_lrs == [0.0] and not scheduler.monitors_loss
