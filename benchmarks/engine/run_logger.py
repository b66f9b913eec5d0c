"""Mirror of a run in Weights & Biases (or nowhere). The local store is the source of truth.

`logger=wandb` defaults to `mode: offline`: files land under results/wandb and can be uploaded
later with `wandb sync`; `online` needs an account, `disabled` does nothing (tests).

One W&B run per stored run: its id is derived from the experiment name and the config hash
(:func:`wandb_run_id`) and W&B is told to resume it, so a killed run that resumes from its
checkpoint continues the same W&B run (offline, each attempt is its own directory
``offline-run-<time>-<id>``; `wandb sync` uploads them into that one run). A run that raises is
finished with exit code 1, which W&B shows as failed.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from omegaconf import DictConfig

MAX_ID_LENGTH = 64  # W&B's limit for run ids (and tags)


def wandb_run_id(experiment: str, config_hash: str, attempt: str = "") -> str:
    """`<experiment>-<config hash>[-<attempt>]` in the characters W&B allows in a run id,
    at most 64 long (a long experiment name is cut and keeps a digest of its full name)."""
    suffix = "-".join(part for part in (config_hash, attempt) if part)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", experiment).strip("-") or "run"
    room = MAX_ID_LENGTH - len(suffix) - 1
    if len(name) > room:
        digest = hashlib.sha1(experiment.encode()).hexdigest()[:8]
        name = f"{name[: room - len(digest) - 1]}-{digest}"
    return f"{name}-{suffix}"


def stored_run_id(run_path: Path, experiment: str, config_hash: str, replaced: bool) -> str:
    """The W&B run id of the stored run at `run_path`, kept in `<run_path>/wandb_id` from its
    first attempt on, so that a resumed attempt continues it. A run that `overwrite=true` just
    replaced gets a new id (the time appended): W&B cannot take back the old run's steps."""
    file = run_path / "wandb_id"
    if file.exists():
        return file.read_text().strip()
    attempt = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") if replaced else ""
    run_id = wandb_run_id(experiment, config_hash, attempt)
    file.write_text(run_id + "\n")
    return run_id


class NullLogger:
    def log(self, row: dict, step: int) -> None: ...

    def summary(self, values: dict) -> None: ...

    def table(self, key: str, dataframe) -> None: ...

    def line_plot(self, key: str, dataframe, x: str, y: str, title: str) -> None: ...

    def finish(self, exit_code: int = 0) -> None: ...


class WandbLogger(NullLogger):
    def __init__(self, cfg: DictConfig, name: str, config: dict, run_id: str, tags: list[str]):
        import wandb

        self.wandb = wandb
        os.makedirs(cfg.dir, exist_ok=True)
        self.run = wandb.init(
            project=cfg.project,
            entity=cfg.entity,
            group=cfg.group,
            name=name,
            id=run_id,
            resume="allow",
            tags=[tag[:MAX_ID_LENGTH] for tag in tags],
            mode=cfg.mode,
            dir=cfg.dir,
            config=config,
            reinit="finish_previous",
            settings=wandb.Settings(silent=True, console="off"),
        )

    def log(self, row: dict, step: int) -> None:
        self.run.log(row, step=step)

    def summary(self, values: dict) -> None:
        self.run.summary.update(values)

    def table(self, key: str, dataframe) -> None:
        self.run.log({key: self.wandb.Table(dataframe=dataframe)})

    def line_plot(self, key: str, dataframe, x: str, y: str, title: str) -> None:
        table = self.wandb.Table(dataframe=dataframe[[x, y]])
        self.run.log({key: self.wandb.plot.line(table, x, y, title=title)})

    def finish(self, exit_code: int = 0) -> None:
        """End the W&B run; a non-zero `exit_code` marks it failed."""
        self.run.finish(exit_code=exit_code)


def make_logger(
    cfg: DictConfig, name: str, config: dict, run_id: str, tags: list[str] = ()
) -> NullLogger:
    """The logger `cfg` (the `logger` config group, checked by benchmarks/config.py) asks for;
    `run_id` from :func:`wandb_run_id`."""
    if cfg.name == "none" or cfg.mode == "disabled":
        return NullLogger()
    return WandbLogger(cfg, name, config, run_id, list(dict.fromkeys(tags)))
