"""Re-measure a stored run without retraining it:

    python -m benchmarks.measure RUN_DIR [sensitivity.KEY=VALUE ...] [device=cuda]

RUN_DIR is a finished run's directory (`results/runs/<experiment>/<hash>/`). The network is
rebuilt from the run's `config.yaml`, loaded with the selected epoch's weights (`model.pt`), and
measured again (benchmarks/metrics) on the same data, e.g. with mixing on or more graphs:

    python -m benchmarks.measure results/runs/nar_capacity/3df6b6ebd0cd sensitivity.mixing=true

Only the measurement's settings (`sensitivity.*`) and `device` may change; anything else would
describe another run. The run's `sens/*` and `cap/*` entries are replaced and result.json is
rewritten atomically, holding the run's lock.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import yaml
from omegaconf import DictConfig, OmegaConf

from benchmarks.core.errors import ConfigError, require
from benchmarks.engine.config import CONF_DIR as CONF
from benchmarks.engine.measurements import measure
from benchmarks.engine.results import RunResult
from benchmarks.engine.runner import generate_data, prepare
from benchmarks.engine.store import RunDir

MEASURED_PREFIXES = ("sens/", "cap/")


def options_added_since(stored: DictConfig) -> dict:
    """The top-level options that are off (null) by default in conf/config.yaml and that a
    stored run's config lacks: options added after the run was stored (e.g. `budget`), off for
    it. The store's hash leaves null top-level keys out, so the run keeps its hash with them."""
    defaults = OmegaConf.load(CONF / "config.yaml")
    return {k: None for k, v in defaults.items() if v is None and k not in stored}


def remeasure(run_path: Path, overrides: list[str] = ()) -> dict:
    """Measure the stored run at `run_path` again with `overrides`; returns the new result."""
    require((run_path / "result.json").is_file(), "RUN_DIR", f"{run_path} has no result.json")
    require((run_path / "model.pt").is_file(), "RUN_DIR", f"{run_path} has no model.pt")
    stored = OmegaConf.load(run_path / "config.yaml")
    cfg = OmegaConf.merge(options_added_since(stored), stored)
    for override in overrides:
        key, sep, value = override.partition("=")
        require(
            bool(sep) and (key.startswith("sensitivity.") or key == "device"),
            key or override,
            "only sensitivity.* and device can change when re-measuring (KEY=VALUE)",
        )
        OmegaConf.update(cfg, key, yaml.safe_load(value), force_add=False)
    cfg.results_dir = str(run_path.parents[2])
    task, net, num_layers, device = prepare(cfg)
    run_dir = RunDir(cfg.results_dir, run_path.parent.name, cfg)
    require(
        run_dir.path.resolve() == run_path.resolve(),
        "RUN_DIR",
        f"its config.yaml hashes to {run_dir.hash}, not {run_path.name}",
    )
    net.load_state_dict(torch.load(run_path / "model.pt", map_location=device))
    data = generate_data(task, cfg.data_seed, num_layers)
    with run_dir.claim(wait=True):
        result = RunResult.from_dict(run_dir.result())
        measured = measure(net, task, data, result.score, cfg.sensitivity, device)
        for line in measured.lines:
            print(line)
        measured.write_tables(run_path)
        result.measurements = measured.values
        result.config["sensitivity"] = OmegaConf.to_container(cfg.sensitivity)
        run_dir.finish(result)
    return result.to_dict()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a finished run: results/runs/<exp>/<hash>")
    parser.add_argument("overrides", nargs="*", help="sensitivity.KEY=VALUE or device=...")
    args = parser.parse_args(argv)
    try:
        result = remeasure(args.run_dir, args.overrides)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    measured = {k: v for k, v in result.items() if k.startswith(MEASURED_PREFIXES)}
    print(f"re-measured {args.run_dir}: {len(measured)} values written to result.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
