"""What a result records about where it came from (provenance, this run's peak memory) and how
it is mirrored in W&B (one W&B run per stored run, resumed with it, failed when it crashes)."""

import re
from datetime import datetime

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from benchmarks.engine import provenance
from benchmarks.engine.results import Sweep
from benchmarks.engine.run_logger import WandbLogger, wandb_run_id
from benchmarks.engine.runner import run
from benchmarks.engine.store import RunDir, config_hash
from tests.helpers import CONF

FAST = ["model=gcn", "sensitivity.enabled=false"]


def test_result_records_provenance(tiny):
    result = run(tiny("nar", *FAST))
    prov = result["provenance"]
    assert set(prov) >= {
        "git_commit",
        "git_dirty",
        "package_version",
        "versions",
        "host",
        "cpu",
        "cpu_cores",
        "device",
        "gpu",
        "started",
        "finished",
        "hydra_choices",
        "overrides",
    }
    assert set(prov["versions"]) == {"python", "torch", "torch_geometric", "hydra-core", "wandb"}
    assert all(prov["versions"].values())
    assert prov["package_version"] or re.fullmatch(r"[0-9a-f]{40}", prov["git_commit"] or "")
    assert prov["host"] and prov["cpu"] and prov["cpu_cores"] >= 1
    assert datetime.fromisoformat(prov["started"]) <= datetime.fromisoformat(prov["finished"])
    assert datetime.fromisoformat(prov["finished"]).utcoffset().total_seconds() == 0
    # runner.run called from Python without a command: none to record
    assert prov["hydra_choices"] is None and prov["overrides"] is None
    assert result["model_config"] is None
    assert result["sweep"] == {"experiment": "default", "choices": None, "overrides": None}


def test_provenance_is_not_part_of_the_config_hash(tiny):
    cfg = tiny("nar", *FAST)
    result = run(cfg)
    assert result["config_hash"] == config_hash(cfg)
    assert "provenance" not in result["config"] and "model_config" not in result["config"]


@pytest.fixture
def hydra_job():
    """A config composed with Hydra's runtime config, as `python run.py` would see it."""
    overrides = ["task=nar", "model=gcn", "seed=3"]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    return cfg, overrides


def test_hydra_choices_and_overrides(hydra_job):
    cfg, expected = hydra_job
    choices, overrides = provenance.hydra_command(cfg.hydra)
    assert choices["task"] == "nar" and choices["model"] == "gcn"
    assert not any(group.startswith("hydra/") for group in choices)
    assert overrides == expected
    sweep = provenance.sweep_of("default", cfg.hydra)
    assert sweep == Sweep("default", choices, expected)
    assert provenance.model_choice(sweep) == "gcn"
    assert provenance.model_choice(Sweep("default")) is None


def test_the_passed_command_is_recorded_and_no_global_is_read(tiny):
    """`run` records the command it is given, whatever Hydra's global state holds."""
    sweep = Sweep("default", {"task": "nar", "model": "gcn"}, ["task=nar", "model=gcn"])
    result = run(tiny("nar", *FAST), sweep=sweep)
    assert result["sweep"] == {
        "experiment": "default",
        "choices": {"task": "nar", "model": "gcn"},
        "overrides": ["task=nar", "model=gcn"],
    }
    assert result["model_config"] == "gcn" and result["higher_is_better"] is True
    assert result["provenance"]["hydra_choices"] == sweep.choices
    assert result["provenance"]["overrides"] == sweep.overrides
    assert not HydraConfig.initialized()


def test_peak_memory_is_this_runs(tiny):
    """Two runs in one process; between them a large allocation, freed. The second run reports
    its own peak, below that allocation (the process's lifetime maximum is above it)."""
    first = run(tiny("nar", *FAST, "experiment_name=first"))
    if first["memory_measure"] == "process_lifetime_max_rss":
        pytest.skip("no resettable high-water mark here (not Linux, or /proc not writable)")
    assert first["peak_memory_mb"] > 0
    big_mb = 1536
    big = torch.ones(big_mb * 2**20 // 4)  # float32: touched, so resident
    del big
    second = run(tiny("nar", *FAST, "experiment_name=second"))
    assert second["memory_measure"] == "vm_hwm"
    assert second["peak_memory_mb"] < big_mb


def test_wandb_id_is_sanitised_and_short():
    assert wandb_run_id("nar_capacity", "0123456789ab") == "nar_capacity-0123456789ab"
    assert wandb_run_id("my exp/v2:x", "0123456789ab") == "my-exp-v2-x-0123456789ab"
    long_a, long_b = (
        wandb_run_id("a" * 100 + "1", "h" * 12),
        wandb_run_id("a" * 100 + "2", "h" * 12),
    )
    assert len(long_a) <= 64 and len(long_b) <= 64 and long_a != long_b
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", long_a)


def test_crashed_run_resumes_the_same_wandb_run(tiny, tmp_path, monkeypatch):
    """Offline W&B: a run that crashes in its second epoch is finished as failed; running it
    again resumes from its checkpoint into the same W&B run id."""
    cfg = tiny("nar", *FAST, "logger=wandb", "logger.mode=offline", "train.max_epochs=3")
    run_dir = RunDir(cfg.results_dir, cfg.experiment_name, cfg)
    exit_codes = []
    finish = WandbLogger.finish

    def record_exit_code(self, exit_code=0):
        exit_codes.append(exit_code)
        finish(self, exit_code)

    monkeypatch.setattr(WandbLogger, "finish", record_exit_code)
    append = RunDir.append_history

    def crash_in_epoch_2(self, row):
        append(self, row)
        if row["epoch"] == 2:  # after epoch 1's checkpoint, before epoch 2's
            raise RuntimeError("killed")

    monkeypatch.setattr(RunDir, "append_history", crash_in_epoch_2)
    with pytest.raises(RuntimeError, match="killed"):
        run(cfg)
    monkeypatch.setattr(RunDir, "append_history", append)
    assert exit_codes == [1] and run_dir.checkpoint.exists()
    result = run(cfg)
    assert exit_codes == [1, 0] and result["epochs"] == 3

    attempts = sorted((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    ids = {re.fullmatch(r"run-(.+)\.wandb", path.name).group(1) for path in attempts}
    assert len(attempts) == 2
    assert ids == {wandb_run_id("default", run_dir.hash)}
    assert (run_dir.path / "wandb_id").read_text().strip() in ids
