"""Where a result came from: code version, packages, machine, time, and the Hydra command.

Stored as ``result["provenance"]`` (not part of the config hash), so that a number in a table can
be traced to the code and command that produced it:

- ``git_commit``, ``git_dirty``: the commit of the checkout the suite runs from and whether its
  files differ from it (None when the package is not run from its own git checkout);
  ``package_version``: the installed ``oversquash-bench`` version;
- ``versions``: python, torch, torch_geometric, hydra-core, wandb;
- ``host``, ``cpu``, ``cpu_cores``, ``device``, ``gpu`` (the CUDA device's name, else None);
- ``started``, ``finished``: ISO 8601 times in UTC (``started``: of the first attempt, for a
  resumed run);
- ``hydra_choices``: the config-group choices (``{"task": "nar", "model": "alon_yahav/gcn",
  ...}``, without Hydra's own ``hydra/*`` groups) and ``overrides``: the command line's
  overrides, as the caller passes them (:func:`hydra_command` reads them from a Hydra runtime
  config: run.py's, or a composed config's ``hydra`` node); both None for a run without a
  Hydra command (e.g. :func:`benchmarks.engine.runner.run` called from Python).
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from omegaconf import DictConfig

from benchmarks.engine.config import SOURCE_ROOT
from benchmarks.engine.results import Sweep

PACKAGE = "oversquash-bench"
PACKAGES = ("torch", "torch_geometric", "hydra-core", "wandb")


def now() -> str:
    """The current time in UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def collect(device: torch.device, started: str, sweep: Sweep) -> dict:
    """The provenance of a run on `device` that began at `started` (from :func:`now`), ends
    now, and was made by the command `sweep` (its choices and overrides)."""
    commit, dirty = git_state(SOURCE_ROOT)
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "package_version": package_version(PACKAGE),
        "versions": {"python": platform.python_version()}
        | {name: package_version(name) for name in PACKAGES},
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "started": started,
        "finished": now(),
        "hydra_choices": sweep.choices,
        "overrides": sweep.overrides,
    }


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout whose top level is `root`; (None, None) when `root`
    is not one (an installed package) or git is missing."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return None, None  # inside someone else's repository
        return git("rev-parse", "HEAD"), bool(git("status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return None, None


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hydra_command(hydra: DictConfig) -> tuple[dict, list[str]]:
    """(config-group choices without hydra/*, command-line overrides) of a Hydra runtime
    config: `HydraConfig.get()` in a Hydra app, or the `hydra` node of a config composed with
    `return_hydra_config=True`."""
    choices = {
        group: choice
        for group, choice in hydra.runtime.choices.items()
        if not group.startswith("hydra/")
    }
    return choices, list(hydra.overrides.task)


def sweep_of(experiment: str, hydra: DictConfig) -> Sweep:
    """The :class:`Sweep` of a run of `experiment` made by the Hydra command `hydra`."""
    choices, overrides = hydra_command(hydra)
    return Sweep(experiment, choices, overrides)


def model_choice(sweep: Sweep) -> str | None:
    """The `model` config choice of the command (e.g. "alon_yahav/gcn"), else None."""
    return None if sweep.choices is None else sweep.choices.get("model")
