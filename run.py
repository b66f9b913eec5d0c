"""Run one benchmark job (or a sweep with -m). Examples:

python run.py                                          # the default: gLSTM on NAR, small, on CPU
python run.py task=tree_neighbors_match task.depth=4 model=alon_yahav/gcn
python run.py -m experiment=nar_capacity               # a sweep
"""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from benchmarks.engine.command_line import check_command_line
from benchmarks.engine.provenance import sweep_of  # the first torch import: after OMP settings
from benchmarks.engine.runner import interrupted_line, main


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def app(cfg: DictConfig) -> float:
    """One run; returns the selected epoch's validation metric (the training metric for tasks
    without a validation split), the objective a hyperparameter search optimises."""
    hydra = HydraConfig.get()
    try:
        result = main(
            cfg,
            parallel_jobs=hydra.launcher.get("n_jobs", 1) or 1,
            sweep=sweep_of(cfg.experiment_name, hydra),
        )
    except KeyboardInterrupt:  # Ctrl-C: one line saying what was kept, exit status 130
        print(f"interrupted: {interrupted_line(cfg)}", file=sys.stderr)
        raise SystemExit(130) from None
    if result is None:  # another process is training this run
        return float("nan")
    return result.get(f"val/{result['metric']}", result["score"])


if __name__ == "__main__":
    check_command_line(sys.argv[1:])
    app()
