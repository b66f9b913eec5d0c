"""The selected model is the measured model: `model.pt` holds the selected epoch's weights, the
measurements are taken on them, and `python -m benchmarks.measure` repeats them from the store."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.engine.runner import generate_data, prepare, run
from benchmarks.engine.train import evaluate
from benchmarks.measure import remeasure
from tests.helpers import ROOT, compose_config

# A large constant learning rate: the last epoch is worse than the best (asserted below).
DIVERGING = ["train.max_epochs=6", "train.stop_loss=null", "train.lr=0.1", "train.scheduler=none"]


@pytest.fixture
def finished_run(tmp_path):
    sizes = ["task.num_keys=4", "task.num_train=128", "task.num_val=64", "task.num_test=64"]
    cfg = compose_config(["task=nar", *sizes, *DIVERGING, "sensitivity.num_graphs=4"], tmp_path)
    return cfg, run(cfg)


def stored_path(cfg, result) -> Path:
    return Path(cfg.results_dir) / "runs" / cfg.experiment_name / result["config_hash"]


def test_stored_weights_are_the_selected_epochs(finished_run):
    cfg, result = finished_run
    assert result["selected_epoch"] < result["epochs"]  # the last epoch is not the selected one
    task, net, num_layers, device = prepare(cfg)
    net.load_state_dict(torch.load(stored_path(cfg, result) / "model.pt"))
    data = generate_data(task, cfg.data_seed, num_layers)
    val = evaluate(net, task, data["val"], "val", cfg.train.batch_size, device)
    test = evaluate(net, task, data["test"], "test", cfg.train.batch_size, device)
    assert val["val/acc"] == pytest.approx(result["val/acc"])
    assert test["test/acc"] == pytest.approx(result["score"])


def test_measurements_are_the_stored_weights_and_repeatable(finished_run):
    """Measuring model.pt again gives the stored measurements; more graphs rewrite them."""
    cfg, result = finished_run
    path = stored_path(cfg, result)
    again = remeasure(path)
    sens = {k: v for k, v in result.items() if k.startswith("sens/") and "time" not in k}
    assert sens and all(again[k] == pytest.approx(v) for k, v in sens.items())
    more = remeasure(path, ["sensitivity.num_graphs=16"])
    stored = json.loads((path / "result.json").read_text())
    assert stored["config"]["sensitivity"]["num_graphs"] == 16
    assert stored["score"] == result["score"]  # training results untouched
    assert more["sens/hop_1"] == pytest.approx(stored["sens/hop_1"])


def test_measure_cli_refuses_other_keys(finished_run):
    cfg, result = finished_run
    path = stored_path(cfg, result)
    before = (path / "result.json").read_text()
    args = [sys.executable, "-m", "benchmarks.measure", str(path), "train.lr=0.5"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("error: train.lr: only sensitivity.* and device can change")
    assert (path / "result.json").read_text() == before
