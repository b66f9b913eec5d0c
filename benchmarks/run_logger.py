"""Mirror of a run in Weights & Biases (or nowhere). The local store is the source of truth.

`logger=wandb` defaults to `mode: offline`: files land under results/wandb and can be uploaded
later with `wandb sync`; `online` needs an account, `disabled` does nothing (tests).
"""

from __future__ import annotations

import os

from omegaconf import DictConfig

from benchmarks.errors import require


class NullLogger:
    def log(self, row: dict, step: int) -> None: ...

    def summary(self, values: dict) -> None: ...

    def table(self, key: str, dataframe) -> None: ...

    def line_plot(self, key: str, dataframe, x: str, y: str, title: str) -> None: ...

    def finish(self) -> None: ...


class WandbLogger(NullLogger):
    def __init__(self, cfg: DictConfig, name: str, config: dict):
        import wandb

        self.wandb = wandb
        os.makedirs(cfg.dir, exist_ok=True)
        self.run = wandb.init(
            project=cfg.project,
            entity=cfg.entity,
            group=cfg.group,
            name=name,
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

    def finish(self) -> None:
        self.run.finish()


MODES = ("offline", "online", "disabled")


def check_logger(cfg: DictConfig) -> None:
    require(
        cfg.name in ("wandb", "none"), "logger.name", f"must be wandb or none, got {cfg.name!r}"
    )
    if cfg.name == "wandb":
        require(cfg.mode in MODES, "logger.mode", f"must be one of {MODES}, got {cfg.mode!r}")


def make_logger(cfg: DictConfig, name: str, config: dict) -> NullLogger:
    check_logger(cfg)
    if cfg.name == "none" or cfg.mode == "disabled":
        return NullLogger()
    return WandbLogger(cfg, name, config)
