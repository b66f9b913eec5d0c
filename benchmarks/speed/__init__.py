"""Speed benchmarks: `python -m benchmarks.speed` (training steps) and its companions."""

from __future__ import annotations

from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from benchmarks.engine.config import CONF_DIR


def run_config(
    overrides: Sequence[str], device: str = "cpu", then: Sequence[str] = ()
) -> DictConfig:
    """The config run.py composes for `overrides`, without a logger, on `device`; `then` last."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[*overrides, "logger=none", f"device={device}", *then])
