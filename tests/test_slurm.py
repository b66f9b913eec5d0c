"""(slow) Sweeps through `hydra/launcher=slurm` on a real single-node Slurm cluster, the one
`scripts/local_slurm.sh` starts (it installs Debian's Slurm, munge and MariaDB when missing and
run as root; without them these tests are skipped):

    pytest -m slow tests/test_slurm.py

- every job of a sweep finishes and is stored once, and the report reads them;
- a job that reaches its time limit gets Slurm's warning signal, saves a checkpoint, is requeued
  (`max_num_timeout`) and resumes from that checkpoint instead of starting over;
- a job cancelled with `scancel` leaves no result, and running the sweep again completes it.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.engine.store import load_results
from tests.helpers import ROOT

pytestmark = pytest.mark.slow

SCRIPT = ROOT / "scripts" / "local_slurm.sh"
SLURM_DIR = Path(os.environ.get("LOCAL_SLURM_DIR", "/tmp/local-slurm"))
EXPERIMENT = "gcn_depth_quick"  # GCN of width 128 on NAR; each test names its sweep points
SMALL = ["task.num_val=50", "task.num_test=50", "train.stop_loss=null"]
COMMON = [
    f"experiment={EXPERIMENT}",
    *SMALL,
    "sensitivity.enabled=false",
    "logger=none",
    "progress=false",
    "hydra/launcher=slurm",
    "hydra.launcher.partition=debug",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
]


@pytest.fixture(scope="module")
def slurm():
    """The environment for Slurm's commands (SLURM_CONF) with the local cluster up; started here
    unless it already runs, and then stopped at the end."""

    def script(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=900
        )

    if shutil.which("bash") is None:
        pytest.skip("no local Slurm cluster: bash is missing")
    was_up = script("status").returncode == 0
    if not was_up:
        started = script("start")
        if started.returncode != 0:
            reason = (started.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"no local Slurm cluster: {reason}")
    yield os.environ | {"SLURM_CONF": str(SLURM_DIR / "etc" / "slurm.conf")}
    if not was_up:
        script("stop")


def sweep(env: dict, results_dir: Path, *overrides: str) -> subprocess.Popen:
    command = [sys.executable, "run.py", "-m", *COMMON, f"results_dir={results_dir}", *overrides]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    return out


def slurm_command(env: dict, *args: str) -> str:
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout


def job_logs(results_dir: Path) -> dict[str, str]:
    """The stdout of every Slurm job of the sweeps, by job id (submitit's `<id>_0_log.out`)."""
    logs = sorted((results_dir / "hydra" / "multirun").glob("*/.submitit/*/*_0_log.out"))
    return {log.parent.name: log.read_text() for log in logs}


def epochs(run_dir: Path) -> list[int]:
    return pd.read_csv(run_dir / "history.csv")["epoch"].tolist()


def test_sweep_stores_every_run_once_and_the_report_reads_them(slurm, tmp_path):
    points = ["task.num_keys=4", "model.num_layers=2,3", "seed=0,1"]
    sizes = ["task.num_train=200", "train.max_epochs=3"]
    out = finish(sweep(slurm, tmp_path, *points, *sizes))
    assert "Submitit 'slurm'" in out and "Traceback" not in out, out

    results = load_results(tmp_path, EXPERIMENT)
    assert len(results) == 4 and len({r["config_hash"] for r in results}) == 4
    for result in results:
        assert epochs(tmp_path / "runs" / EXPERIMENT / result["config_hash"]) == [1, 2, 3]
    assert len(job_logs(tmp_path)) == 4  # one Slurm job per run

    report = subprocess.run(
        [sys.executable, "-m", "benchmarks.report", EXPERIMENT, "--results-dir", str(tmp_path)]
        + [f"--override={o}" for o in SMALL + points + sizes],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0, report.stdout + report.stderr
    assert "sweep: 4 of 4 runs done" in report.stdout
    assert (tmp_path / "tables" / f"{EXPERIMENT}.csv").exists()


def test_job_at_its_time_limit_is_requeued_and_resumes_from_its_checkpoint(slurm, tmp_path):
    # About 80 s of training (80 epochs of 250 steps) under a one-minute limit. Slurm sends
    # SIGUSR2 signal_delay_s before the limit, at one of its checks every 30 s: 25-55 s into the
    # job, so each attempt trains for 20-45 s after its start-up.
    long_run = ["task.num_keys=8", "model.num_layers=2", "seed=0", "task.num_train=4000"]
    long_run += ["train.batch_size=16", "train.max_epochs=80", "train.patience=1000"]
    limits = ["timeout_min=1", "signal_delay_s=5", "max_num_timeout=5"]
    out = finish(sweep(slurm, tmp_path, *long_run, *[f"hydra.launcher.{k}" for k in limits]), 600)
    assert "Traceback" not in out, out

    (result,) = load_results(tmp_path, EXPERIMENT)
    assert epochs(tmp_path / "runs" / EXPERIMENT / result["config_hash"]) == list(range(1, 81))
    ((job_id, log),) = job_logs(tmp_path).items()
    states = slurm_command(slurm, "sacct", "-D", "-X", "-n", "-P", "-o", "State", "-j", job_id)
    requeues = states.split().count("REQUEUED")
    assert requeues >= 1, f"the run finished before its time limit: make it longer\n{log}"

    # The signal stops training between two steps of some epoch e (after the checkpoint of epoch
    # e - 1, which the mid-epoch checkpoint replaces); every requeued attempt resumes from the
    # checkpoint, not from the start.
    stopped = [int(e) for e in re.findall(r"SIGUSR2: stopped in epoch (\d+) after step", log)]
    pattern = r"resume: \S+ from its checkpoint after epoch (\d+)"
    resumed = [int(e) for e in re.findall(pattern, log)]
    assert len(resumed) == requeues and resumed == sorted(resumed) and resumed[0] > 0, log
    assert stopped and {e - 1 for e in stopped} <= set(resumed), log
    print(f"time limit: {requeues} requeues, stopped in epochs {stopped}, resumed after {resumed}")


def test_cancelled_job_leaves_no_result_and_the_rerun_completes_it(slurm, tmp_path):
    points = ["task.num_keys=4", "model.num_layers=2,3", "seed=0"]
    sizes = ["task.num_train=2000", "train.batch_size=16", "train.max_epochs=20"]
    proc = sweep(slurm, tmp_path, *points, *sizes)
    runs = tmp_path / "runs" / EXPERIMENT
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # cancel the last job once both are a few epochs in
        histories = list(runs.glob("*/history.csv"))
        if len(histories) == 2 and all(len(p.read_text().splitlines()) > 2 for p in histories):
            break
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    else:
        pytest.fail("the sweep's jobs did not get going in time")
    jobs = slurm_command(slurm, "squeue", "-h", "-o", "%i").split()
    last = max(jobs, key=lambda job: int(job.split("_")[1]))  # <array id>_<task id>
    subprocess.run(["scancel", last], env=slurm, check=True)

    out = finish(proc)
    assert proc.returncode != 0 and "CANCELLED" in out, out
    for _ in range(60):  # the other job is done; wait for the cancelled one to leave the queue
        if not slurm_command(slurm, "squeue", "-h"):
            break
        time.sleep(0.5)
    (done,) = load_results(tmp_path, EXPERIMENT)
    (cancelled,) = [p for p in runs.iterdir() if p.is_dir() and p.name != done["config_hash"]]
    assert not (cancelled / "result.json").exists() and (cancelled / "checkpoint.pt").exists()

    out = finish(sweep(slurm, tmp_path, *points, *sizes))
    assert "Traceback" not in out, out
    results = load_results(tmp_path, EXPERIMENT)
    assert len(results) == 2 and len({r["config_hash"] for r in results}) == 2
    assert epochs(cancelled) == list(range(1, 21))
    first_array = last.split("_")[0]
    rerun = [log for job, log in job_logs(tmp_path).items() if job.split("_")[0] != first_array]
    assert sum("skip:" in log for log in rerun) == 1
    assert sum(f"resume: {cancelled}" in log for log in rerun) == 1
