"""The results store: one directory per run, keyed by a hash of its resolved config.

    results/runs/<experiment>/<hash>/
        config.yaml      the resolved config (written when the run starts)
        history.csv      one row per epoch (appended as the run goes)
        checkpoint.pt    training state, so an interrupted run resumes (removed when done)
        wandb_id         the id of the W&B run that mirrors this run
        result.json      the outcome, written last and atomically: it exists iff the run finished
    results/runs/<experiment>/<hash>.lock
                         the run's lock: one writer per run directory

A run whose result.json exists is skipped unless `overwrite=true`, so an interrupted sweep
resumes by running the same command again.

One process at a time writes a run directory: the writer holds an exclusive `flock` on
`<hash>.lock` (beside the directory, so that `overwrite` cannot delete it while held) from
before the directory is created until result.json is written. Another process asking for the
same run skips it or waits for it (:meth:`RunDir.claim`). The kernel drops an flock when its
process dies, so a killed run leaves no stale lock, only its checkpoint to resume from.
(On a shared file system this needs working NFS locks, as most Slurm clusters have.)
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from filelock import FileLock, Timeout
from omegaconf import DictConfig, OmegaConf

from benchmarks.engine.results import RunResult

# Keys that change how a run is shown or where it is written, not what it computes.
COSMETIC_KEYS = (
    "logger",
    "overwrite",
    "wait_for_running",
    "threads",
    "results_dir",
    "progress",
    "experiment_name",
    "device",
    "hydra",
    "sensitivity",  # measured after training: repeat it with `python -m benchmarks.measure`
)


def identity(cfg: DictConfig) -> dict:
    """The resolved config without cosmetic keys: what a run's result depends on. Top-level
    keys that are null (an option that is off, e.g. `budget`) are left out too, so adding such
    an option keeps the hashes of runs stored before it."""
    container = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in container.items() if k not in COSMETIC_KEYS and v is not None}


def config_hash(cfg: DictConfig) -> str:
    """12 hex digits of the SHA-1 of the identity config as sorted JSON."""
    text = json.dumps(identity(cfg), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


class RunDir:
    """One run's directory in the store."""

    def __init__(self, results_dir: str | Path, experiment: str, cfg: DictConfig):
        self.hash = config_hash(cfg)
        self.path = Path(results_dir) / "runs" / experiment / self.hash
        self.cfg = cfg

    @property
    def result_file(self) -> Path:
        return self.path / "result.json"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def lock_file(self) -> Path:
        return self.path.with_name(f"{self.hash}.lock")

    @contextmanager
    def claim(
        self, wait: bool, on_wait: Callable[[], None] = lambda: None
    ) -> Iterator[Literal["free", "waited", "busy"]]:
        """Hold this run's lock for the `with` block, if it can be had.

        Yields "free" when the lock was taken at once; "busy" when another process holds it and
        `wait` is false (the lock is not taken: the caller must not write); "waited" when it was
        taken after `on_wait()` and waiting for the other process to let go (it finished, failed
        or was killed). Either way the run may have been finished meanwhile: check :meth:`done`.
        """
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_file)
        try:
            lock.acquire(timeout=0)
            state = "free"
        except Timeout:
            if not wait:
                yield "busy"
                return
            on_wait()
            lock.acquire()
            state = "waited"
        try:
            yield state
        finally:
            lock.release()

    def done(self) -> bool:
        return self.result_file.exists()

    def result(self) -> dict:
        return json.loads(self.result_file.read_text())

    def start(self, overwrite: bool = False) -> bool:
        """Create the directory and write config.yaml. `overwrite` clears a previous run;
        otherwise the history and checkpoint of an interrupted run are kept to resume from.
        Returns whether a previous run was cleared. Call it holding the lock (:meth:`claim`)."""
        replaced = overwrite and self.path.exists()
        if replaced:
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        cfg = OmegaConf.create(
            {
                k: v
                for k, v in OmegaConf.to_container(self.cfg, resolve=True).items()
                if k != "hydra"
            }
        )
        OmegaConf.save(cfg, self.path / "config.yaml")
        if not self.checkpoint.exists():
            (self.path / "history.csv").unlink(missing_ok=True)
        return replaced

    def write_history(self, rows: list[dict]) -> None:
        """Replace history.csv with `rows` (on resume: the checkpoint's epochs)."""
        (self.path / "history.csv").unlink(missing_ok=True)
        for row in rows:
            self.append_history(row)

    def append_history(self, row: dict) -> None:
        file = self.path / "history.csv"
        new = not file.exists()
        with file.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def finish(self, result: RunResult) -> None:
        """Write result.json atomically (temp file, then rename) and drop the checkpoint."""
        tmp = self.path / "result.json.tmp"
        result.write(tmp)
        os.replace(tmp, self.result_file)
        self.checkpoint.unlink(missing_ok=True)


def load_results(results_dir: str | Path, experiment: str) -> list[dict]:
    """Every finished run's result.json of one experiment."""
    root = Path(results_dir) / "runs" / experiment
    return [json.loads(p.read_text()) for p in sorted(root.glob("*/result.json"))]
