"""Run one benchmark job (or a sweep with -m). Examples:

    python run.py                                          # the default: NAR, small, on CPU
    python run.py task=tree_neighbors_match task.depth=4 model=gcn
    python run.py -m experiment=nar_capacity               # a sweep
"""

import benchmarks  # noqa: F401  (sets thread settings before torch loads)
import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from benchmarks.runner import main


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def app(cfg: DictConfig) -> float:
    result = main(cfg, model_name=HydraConfig.get().runtime.choices.get("model"))
    return result["score"]


if __name__ == "__main__":
    app()
