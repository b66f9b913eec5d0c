"""The results store: identity hashing, skip-if-done, overwrite, atomic results, resumption."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pandas as pd
import pytest

from benchmarks.engine.runner import run
from benchmarks.engine.store import RunDir, config_hash, load_results
from tests.helpers import ROOT


def test_hash_ignores_cosmetic_keys_only(tiny):
    base = config_hash(tiny("nar"))
    for cosmetic in [
        "progress=true",
        "overwrite=true",
        "experiment_name=other",
        "device=cpu",
        "results_dir=/x",
    ]:
        assert config_hash(tiny("nar", cosmetic)) == base, cosmetic
    for real in ["seed=1", "task.num_keys=5", "model=gin", "train.lr=0.01", "model.khop=true"]:
        assert config_hash(tiny("nar", real)) != base, real


def test_data_seed_follows_seed(tiny):
    assert config_hash(tiny("nar", "seed=3")) == config_hash(
        tiny("nar", "seed=3", "data_seed=3", "model_seed=3")
    )
    assert config_hash(tiny("nar", "seed=3")) != config_hash(tiny("nar", "seed=3", "data_seed=4"))


def test_skip_if_done_and_overwrite(tiny, capsys):
    cfg = tiny("nar")
    first = run(cfg)
    run_dir = RunDir(cfg.results_dir, cfg.experiment_name, cfg)
    stamp = run_dir.result_file.stat().st_mtime_ns
    assert run(cfg) == first
    assert "skip:" in capsys.readouterr().out
    assert run_dir.result_file.stat().st_mtime_ns == stamp
    cfg.overwrite = True
    run(cfg)
    assert run_dir.result_file.stat().st_mtime_ns != stamp
    assert len(pd.read_csv(run_dir.path / "history.csv")) == first["epochs"]
    assert not run_dir.checkpoint.exists()


def test_result_holds_what_a_user_needs(tiny):
    result = run(tiny("nar", "train.max_epochs=3"))
    for key in [
        "score",
        "test/acc",
        "val/acc",
        "train/acc",
        "params",
        "epochs",
        "wall_time_s",
        "peak_memory_mb",
        "seed",
        "data_seed",
        "model_seed",
        "size/num_keys",
        "config_hash",
    ]:
        assert key in result, key
    assert result["score"] == result["test/acc"] and result["score_key"] == "test/acc"
    assert result["epochs"] == 3 and result["params"] > 0


def test_same_seed_same_history(tiny, tmp_path):
    histories = []
    for name in ["a", "b"]:
        cfg = tiny("nar", f"experiment_name={name}", "train.max_epochs=3")
        run(cfg)
        histories.append(
            pd.read_csv(RunDir(cfg.results_dir, name, cfg).path / "history.csv").drop(
                columns="time_s"
            )
        )
    pd.testing.assert_frame_equal(*histories)


def _history_rows(path):
    try:
        return len(pd.read_csv(path))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


@pytest.mark.parametrize("kill_after_rows", [2])
def test_killed_run_leaves_no_result_and_resumes(tmp_path, kill_after_rows):
    """SIGKILL mid-run: no result.json; the same command resumes from the checkpoint and the
    history ends with every epoch exactly once."""
    args = [
        sys.executable,
        "run.py",
        "logger=none",
        "progress=false",
        f"results_dir={tmp_path}",
        "task.num_keys=4",
        "task.num_train=1000",
        "task.num_val=100",
        "task.num_test=100",
        "train.max_epochs=8",
        "train.patience=100",
        "train.stop_loss=null",
        "hydra.run.dir=" + str(tmp_path / "h"),
    ]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    history = None
    while time.time() < deadline:
        found = list(tmp_path.glob("runs/default/*/history.csv"))
        if found and _history_rows(found[0]) >= kill_after_rows:
            history = found[0]
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert history is not None, "the run produced no history in time"
    assert not (history.parent / "result.json").exists()
    assert (history.parent / "checkpoint.pt").exists()
    done_before = _history_rows(history)
    assert done_before < 8

    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    rows = pd.read_csv(history)
    assert rows["epoch"].tolist() == list(range(1, 9))
    result = json.loads((history.parent / "result.json").read_text())
    assert result["epochs"] == 8
    assert load_results(tmp_path, "default") == [result]


def test_resume_matches_an_uninterrupted_run(tiny, monkeypatch):
    """A crash after epoch 3's history row but before its checkpoint: the re-run trains epoch 3
    again from the epoch-2 checkpoint, keeps each epoch once, and ends exactly where an
    uninterrupted run ends (model, optimiser, shuffling and RNG state are all restored)."""
    overrides = ["train.max_epochs=4", "train.stop_loss=null", "sensitivity.enabled=false"]
    reference = tiny("nar", *overrides, "experiment_name=reference")
    run(reference)
    cfg = tiny("nar", *overrides)
    append = RunDir.append_history

    def crash_after_epoch_3(self, row):
        append(self, row)
        if row["epoch"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "append_history", crash_after_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    monkeypatch.undo()
    run(cfg)

    def history(c):
        frame = pd.read_csv(RunDir(c.results_dir, c.experiment_name, c).path / "history.csv")
        return frame.drop(columns="time_s")

    assert history(cfg)["epoch"].tolist() == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(history(cfg), history(reference))


def test_resumed_run_times_cover_every_attempt(tiny, monkeypatch):
    """wall_time_s adds up the attempts of a resumed run; provenance.started is the first's."""
    cfg = tiny("nar", "train.max_epochs=3", "train.stop_loss=null", "sensitivity.enabled=false")
    append = RunDir.append_history

    def slow_epoch_1_crash_in_2(self, row):
        append(self, row)
        if row["epoch"] == 1:
            time.sleep(1.0)  # before epoch 1's checkpoint: the first attempt's time
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    first_attempt = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(RunDir, "append_history", slow_epoch_1_crash_in_2)
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    monkeypatch.undo()
    time.sleep(1.0)
    second_attempt = datetime.now(UTC).replace(microsecond=0)
    result = run(cfg)
    assert result["epochs"] == 3 and result["wall_time_s"] >= 1.0
    started = datetime.fromisoformat(result["provenance"]["started"])
    assert first_attempt <= started < second_attempt
