"""The results store: one directory per run, keyed by a hash of its resolved config.

    results/runs/<experiment>/<hash>/
        config.yaml      the resolved config (written when the run starts)
        history.csv      one row per epoch (appended as the run goes)
        checkpoint.pt    training state, so an interrupted run resumes (removed when done)
        result.json      the outcome, written last and atomically: it exists iff the run finished

A run whose result.json exists is skipped unless `overwrite=true`, so an interrupted sweep
resumes by running the same command again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

# Keys that change how a run is shown or where it is written, not what it computes.
COSMETIC_KEYS = (
    "logger",
    "overwrite",
    "results_dir",
    "progress",
    "experiment_name",
    "device",
    "hydra",
)


def identity(cfg: DictConfig) -> dict:
    """The resolved config without cosmetic keys: what a run's result depends on."""
    container = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in container.items() if k not in COSMETIC_KEYS}


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

    def done(self) -> bool:
        return self.result_file.exists()

    def result(self) -> dict:
        return json.loads(self.result_file.read_text())

    def start(self, overwrite: bool = False) -> None:
        """Create the directory and write config.yaml. `overwrite` clears a previous run;
        otherwise the history and checkpoint of an interrupted run are kept to resume from."""
        if overwrite and self.path.exists():
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

    def finish(self, result: dict) -> None:
        """Write result.json atomically (temp file, then rename) and drop the checkpoint."""
        tmp = self.path / "result.json.tmp"
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True, default=str))
        os.replace(tmp, self.result_file)
        self.checkpoint.unlink(missing_ok=True)


def load_results(results_dir: str | Path, experiment: str) -> list[dict]:
    """Every finished run's result.json of one experiment."""
    root = Path(results_dir) / "runs" / experiment
    return [json.loads(p.read_text()) for p in sorted(root.glob("*/result.json"))]
