"""(slow) A tiny sweep on the local parallel launcher is killed midway and run again with the same
command: finished runs are skipped, killed runs resume from their checkpoint, and the report then
holds every run of the sweep exactly once."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from benchmarks import report as rep
from benchmarks.engine.store import load_results
from tests.helpers import ROOT

EPOCHS = 30
# 4 runs of gcn_depth_quick on tiny data; the command line overrides its sweep points.
OVERRIDES = [
    "task.num_keys=4,8",
    "model.num_layers=2,3",
    "model.dim=32",
    "task.num_train=256",
    "task.num_val=64",
    "task.num_test=64",
    f"train.max_epochs={EPOCHS}",
    f"train.patience={EPOCHS}",
    "train.stop_loss=null",
]


def sweep(results_dir) -> subprocess.Popen:
    command = [
        sys.executable,
        "run.py",
        "-m",
        "experiment=gcn_depth_quick",
        "hydra/launcher=local",
        "logger=none",
        "progress=false",
        f"results_dir={results_dir}",
        *OVERRIDES,
    ]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the kill reaches the joblib workers
    )


@pytest.mark.slow
def test_killed_sweep_resumes_and_reports_every_run_once(tmp_path):
    runs = tmp_path / "runs" / "gcn_depth_quick"
    proc = sweep(tmp_path)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill once a run is done and another is halfway
        done = list(runs.glob("*/result.json"))
        halfway = [
            p
            for p in runs.glob("*/history.csv")
            if not (p.parent / "result.json").exists() and len(p.read_text().splitlines()) > 5
        ]
        if done and halfway:
            break
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.05)
    else:
        pytest.fail("the sweep did not get halfway in time")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before = {p.parent.name for p in runs.glob("*/result.json")}
    interrupted = {p.parent.name for p in runs.glob("*/checkpoint.pt")} - finished_before
    assert 0 < len(finished_before) < 4 and interrupted

    proc = sweep(tmp_path)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert out.count("skip:") == len(finished_before)

    results = load_results(tmp_path, "gcn_depth_quick")
    assert len(results) == 4 and len({r["config_hash"] for r in results}) == 4
    for name in interrupted:  # resumed, not restarted: every epoch once, in order
        history = pd.read_csv(runs / name / "history.csv")
        assert history["epoch"].tolist() == list(range(1, len(history) + 1))
        assert not (runs / name / "checkpoint.pt").exists()

    out = rep.report("gcn_depth_quick", tmp_path, OVERRIDES)
    assert "sweep: 4 of 4 runs done" in out["notes"]
    assert len(out["runs"]) == 4
    assert out["summary"]["n"].tolist() == [1, 1, 1, 1]
    assert (tmp_path / "out" / "figures" / "gcn_depth_quick.png").exists()
