"""Speed of the report's sweep check: listing a sweep's jobs and matching stored runs to them.

    python -m benchmarks.speed.report                     # nar_capacity (504 jobs), 3 repetitions
    python -m benchmarks.speed.report --sweep gcn_depth --repeats 5

The report compares the store with the experiment's sweep (benchmarks.analysis.sweeps): one
compose of ``experiment=SWEEP`` for the sweeper's params, their cartesian product, then each
stored run's recorded overrides matched to the jobs as sets. Timed (medians over repetitions):

- listing the jobs (``sweep_jobs``);
- matching a store that holds every job once (``membership`` over a table of runs);
- the whole command as a user runs it, ``python -m benchmarks.report SWEEP`` in a fresh process
  (imports included), on an empty temporary store and on a store holding one run from elsewhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import MISSING
from pathlib import Path

import pandas as pd

from benchmarks.analysis.sweeps import OVERRIDES, membership, sweep_jobs
from benchmarks.engine.results import RunResult, Sweep


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    out = function()
    return time.perf_counter() - start, out


def command_time(sweep: str, results_dir: Path) -> float:
    """Wall time of `python -m benchmarks.report SWEEP` in a new process (exit status 1: the
    store has no run of the sweep, as here)."""
    command = [sys.executable, "-m", "benchmarks.report", sweep, "--results-dir", str(results_dir)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1) or "runs done" not in done.stdout:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def foreign_run(experiment: str) -> dict:
    """A finished run of `experiment` made with overrides no job of its sweep has."""
    values = dict.fromkeys(
        f.name
        for f in dataclasses.fields(RunResult)
        if f.default is MISSING and f.default_factory is MISSING
    )
    values |= {"experiment": experiment, "config_hash": "0123456789ab", "metric": "acc"}
    values |= {"task": "x", "model": "y", "score": 0.5, "params": 1, "epochs": 1, "config": {}}
    values["sweep"] = Sweep(experiment, {}, ["model=elsewhere"])
    return RunResult(**values).to_dict()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sweep", default="nar_capacity", help="experiment (default nar_capacity)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions (median; default 3)")
    args = parser.parse_args(argv)

    listing, matching = [], []
    for _ in range(args.repeats):
        seconds, jobs = timed(lambda: sweep_jobs(args.sweep))
        if isinstance(jobs, str):
            print(f"error: {jobs}", file=sys.stderr)
            return 2
        listing.append(seconds)
        store = pd.DataFrame({OVERRIDES: [[f"experiment={args.sweep}", *job] for job in jobs]})
        seconds, (member, missing) = timed(lambda store=store, jobs=jobs: membership(store, jobs))
        assert member.all() and not missing, "every stored job must match its own job"
        matching.append(seconds)

    with tempfile.TemporaryDirectory() as tmp:
        empty = [command_time(args.sweep, Path(tmp)) for _ in range(args.repeats)]
        other = Path(tmp) / "runs" / args.sweep / "0123456789ab" / "result.json"
        other.parent.mkdir(parents=True)
        other.write_text(json.dumps(foreign_run(args.sweep)))
        one_run = [command_time(args.sweep, Path(tmp)) for _ in range(args.repeats)]

    print(f"sweep {args.sweep}: {len(jobs)} jobs")
    print(f"median of {args.repeats} repetitions")
    print()
    print("| what | seconds |")
    print("| --- | --- |")
    print(f"| list the jobs (one compose, cartesian product) | {statistics.median(listing):.2f} |")
    print(f"| match a store of every job | {statistics.median(matching):.2f} |")
    print(f"| `report {args.sweep}`, empty store | {statistics.median(empty):.2f} |")
    print(
        f"| `report {args.sweep}`, store with 1 run from elsewhere | "
        f"{statistics.median(one_run):.2f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
