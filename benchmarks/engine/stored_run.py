"""A stored run, back in Python: its config, its network with the selected weights, its data,
its history and its result, e.g. in a notebook::

    from benchmarks.engine.stored_run import load_run

    run = load_run("results/runs/nar_capacity_quick/92dcc66bd79b")
    run.result.score, run.history["val/acc"].max()
    metrics = run.evaluate("test")          # the stored test metrics, recomputed
    y = run.network(run.data["test"].batch(torch.arange(8)))   # predictions of 8 test graphs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from benchmarks.engine.network import Network
from benchmarks.engine.results import RunResult, read_result
from benchmarks.engine.runner import generate_data, prepare
from benchmarks.engine.train import evaluate
from benchmarks.tasks import GraphSet, Task


@dataclass
class StoredRun:
    """One run of the store. `network` holds the selected epoch's weights (model.pt) in eval
    mode on `device`; `data` is the task's splits regenerated from the run's data seed."""

    path: Path
    config: DictConfig
    result: RunResult
    history: pd.DataFrame
    task: Task
    network: Network
    data: dict[str, GraphSet]
    device: torch.device

    def evaluate(self, split: str = "test") -> dict:
        """The split's loss and metrics under the stored weights ({split}/loss, {split}/acc...)."""
        batch_size = self.config.train.batch_size
        return evaluate(self.network, self.task, self.data[split], split, batch_size, self.device)


def load_run(path: str | Path, device: str = "cpu") -> StoredRun:
    """Rebuild the run stored at `path` (results/runs/<experiment>/<hash>/) on `device`."""
    path = Path(path)
    config = OmegaConf.load(path / "config.yaml")
    config.device = device
    task, network, num_layers, device = prepare(config)
    network.load_state_dict(torch.load(path / "model.pt", map_location=device, weights_only=True))
    network.eval()
    data = generate_data(task, config.data_seed, num_layers)
    history = pd.read_csv(path / "history.csv")
    return StoredRun(
        path, config, read_result(path / "result.json"), history, task, network, data, device
    )
