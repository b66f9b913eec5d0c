"""Speed of the report's sweep check: expanding a sweep into the config hashes of its jobs.

    python -m benchmarks.speed.report                     # nar_capacity (504 jobs), 3 repetitions
    python -m benchmarks.speed.report --sweep gcn_depth --repeats 5

The report compares the store with the experiment's sweep, which needs the config hash of every
job. Two expansions are timed side by side on the same sweep, alternating, so machine load
affects both alike (medians over repetitions):

- full composition: one Hydra compose per job (what the report did before);
- the fast expansion (`benchmarks.report.job_hashes`): one compose per distinct set of
  config-group overrides, the value overrides applied to it afterwards.

Both must give the same hashes (checked). Then the whole command is timed as a user runs it,
`python -m benchmarks.report SWEEP` in a fresh process (imports included), on an empty temporary
store (no job needs a hash) and on a store holding one run from elsewhere (every job is hashed
to find out that it is not in the sweep).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report as rep


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sweep", default="nar_capacity", help="experiment (default nar_capacity)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions (median; default 3)")
    args = parser.parse_args(argv)

    jobs = rep.sweep_jobs(args.sweep)
    if isinstance(jobs, str):
        print(f"error: {jobs}", file=sys.stderr)
        return 2
    full, fast = [], []
    for _ in range(args.repeats):
        seconds, reference = timed(lambda: rep.job_hashes(args.sweep, jobs, compose_each=True))
        full.append(seconds)
        seconds, hashes = timed(lambda: rep.job_hashes(args.sweep, jobs))
        fast.append(seconds)
        assert hashes == reference, "the fast expansion must give the hashes of full composition"

    with tempfile.TemporaryDirectory() as tmp:
        empty = [command_time(args.sweep, Path(tmp)) for _ in range(args.repeats)]
        other = Path(tmp) / "runs" / args.sweep / "0123456789ab" / "result.json"
        other.parent.mkdir(parents=True)
        other.write_text(json.dumps({"config_hash": "0123456789ab", "task": "x", "model": "y"}))
        one_run = [command_time(args.sweep, Path(tmp)) for _ in range(args.repeats)]

    full_s, fast_s = statistics.median(full), statistics.median(fast)
    print(f"sweep {args.sweep}: {len(jobs)} jobs")
    print(f"median of {args.repeats} repetitions (hashes identical: yes)")
    print()
    print("| what | seconds |")
    print("| --- | --- |")
    print(f"| expand + hash, full composition per job | {full_s:.2f} |")
    print(f"| expand + hash, fast expansion | {fast_s:.2f} |")
    print(f"| speed-up (full / fast) | {full_s / fast_s:.1f}x |")
    print(f"| `report {args.sweep}`, empty store | {statistics.median(empty):.2f} |")
    print(
        f"| `report {args.sweep}`, store with 1 run (all jobs hashed) | "
        f"{statistics.median(one_run):.2f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
