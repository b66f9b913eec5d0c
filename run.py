"""Run one benchmark job (or a sweep with -m). Examples:

python run.py                                          # the default: NAR, small, on CPU
python run.py task=tree_neighbors_match task.depth=4 model=gcn
python run.py -m experiment=nar_capacity               # a sweep
"""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from benchmarks.runner import main  # first import of torch: after benchmarks' thread settings


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def app(cfg: DictConfig) -> float:
    """One run; returns the selected epoch's validation metric (the training metric for tasks
    without a validation split), the objective a hyperparameter sweeper optimises."""
    result = main(cfg, model_name=HydraConfig.get().runtime.choices.get("model"))
    return result.get(f"val/{result['metric']}", result["score"])


if __name__ == "__main__":
    app()
