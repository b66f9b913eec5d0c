"""One writer per run directory: a second process skips or waits for a run that is training, and
a lock left by a killed process is recovered."""

import json
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from filelock import FileLock, Timeout

from benchmarks.engine.runner import run
from benchmarks.engine.store import RunDir
from tests.helpers import ROOT, TINY_TASKS

EPOCHS = 3
OVERRIDES = [
    "model=gcn",
    f"train.max_epochs={EPOCHS}",
    f"train.patience={EPOCHS}",
    "train.stop_loss=null",
    "train.stop_acc=null",
    "sensitivity.enabled=false",
]
LONGER = 12
TINY_NAR = ["task=nar", *TINY_TASKS["nar"], "train.passes_per_epoch=1", "train.batch_size=32"]


def run_dir_of(cfg) -> RunDir:
    return RunDir(cfg.results_dir, cfg.experiment_name, cfg)


def test_two_processes_on_one_run_write_it_once(tmp_path):
    """`python run.py` twice at once on the same config and store: both exit 0, one result,
    every epoch once in history.csv. Whichever comes second finds the run running (and skips
    it) or done (and skips it)."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "run.py",
                *TINY_NAR,
                *OVERRIDES,
                f"train.max_epochs={LONGER}",  # long enough for the runs to overlap, mostly
                f"train.patience={LONGER}",
                "logger=none",
                "progress=false",
                f"results_dir={tmp_path}",
                f"hydra.run.dir={tmp_path}/hydra/{i}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out
    assert sum("skip:" in out for out in outputs) == 1, outputs

    results = list(tmp_path.glob("runs/default/*/result.json"))
    assert len(results) == 1
    history = pd.read_csv(results[0].parent / "history.csv")
    assert history["epoch"].tolist() == list(range(1, LONGER + 1))
    result = json.loads(results[0].read_text())
    assert result["model_config"] == "gcn"
    assert result["provenance"]["hydra_choices"]["task"] == "nar"
    assert "model=gcn" in result["provenance"]["overrides"]


def test_run_held_by_another_process_is_skipped(tiny, capsys):
    """With the lock held elsewhere (another file handle: flock locks conflict even within one
    process), `run` says so on one line and writes nothing."""
    cfg = tiny("nar", *OVERRIDES)
    run_dir = run_dir_of(cfg)
    run_dir.lock_file.parent.mkdir(parents=True)
    with FileLock(run_dir.lock_file):
        assert run(cfg) is None
    assert capsys.readouterr().out.strip() == f"skip: {run_dir.path} is running in another process"
    assert not run_dir.path.exists()


def test_waiting_process_reads_the_finished_result(tiny, capsys):
    """`wait_for_running=true`: the second process waits for the lock, finds the run finished by
    the holder, and returns that result without writing."""
    cfg = tiny("nar", *OVERRIDES, "wait_for_running=true")
    run_dir = run_dir_of(cfg)
    finished = run(cfg)
    stored = run_dir.path.rename(run_dir.path.with_name("finished"))  # as if still training
    stamp = (stored / "result.json").stat().st_mtime_ns
    capsys.readouterr()

    holder = FileLock(run_dir.lock_file)
    holder.acquire()
    returned = []
    waiter = threading.Thread(target=lambda: returned.append(run(cfg)))
    waiter.start()
    out = ""
    deadline = time.monotonic() + 60
    while "wait:" not in out and time.monotonic() < deadline and waiter.is_alive():
        time.sleep(0.05)
        out += capsys.readouterr().out
    assert out.strip() == f"wait: {run_dir.path} is running in another process"
    stored.rename(run_dir.path)  # the holder finishes the run ...
    holder.release()  # ... and lets go
    waiter.join(timeout=60)

    assert returned == [finished]
    assert "was finished by another process" in capsys.readouterr().out
    assert (run_dir.result_file).stat().st_mtime_ns == stamp


HOLD = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_lock_of_a_killed_process_is_recovered(tiny):
    """A process holding a run's lock is SIGKILLed: the kernel drops its flock, and the run
    can be taken and trained."""
    cfg = tiny("nar", *OVERRIDES)
    run_dir = run_dir_of(cfg)
    run_dir.lock_file.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir.lock_file)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(Timeout):
        FileLock(run_dir.lock_file).acquire(timeout=0)
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    result = run(cfg)
    assert result is not None and run_dir.done()
    assert result["epochs"] == EPOCHS
