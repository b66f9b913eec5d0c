"""Shared test helpers: compose configs the way `run.py` does, with a temporary results store."""

import os
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir

import benchmarks  # noqa: F401  (thread settings must precede the first torch import)
import benchmarks.engine.config  # noqa: F401  (the config resolvers)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
TASKS = sorted(p.stem for p in (CONF / "task").glob("*.yaml"))
# models whose output sees a whole graph (attention), not only the nodes within L hops
GLOBAL_MODELS = {"gps"}
LOCAL_MODELS = [m for m in MODELS if m not in GLOBAL_MODELS]

LRGB_FIXTURE = ROOT / "tests" / "data" / "lrgb"
LRGB_ROOT = Path(tempfile.gettempdir()) / f"overquash-lrgb-{os.getpid()}"

# Small versions of every task so that a model can be trained on each in a second or two.
TINY_TASKS = {
    "nar": ["task.num_keys=4", "task.num_train=64", "task.num_val=32", "task.num_test=32"],
    "narr": ["task.num_keys=4", "task.num_train=64", "task.num_val=32", "task.num_test=32"],
    "tree_neighbors_match": ["task.depth=2"],
    "ring_transfer": [
        "task.distance=3",
        "task.num_train=64",
        "task.num_val=16",
        "task.num_test=16",
    ],
    "graph_transfer": [
        "task.distance=3",
        "task.num_train=32",
        "task.num_val=16",
        "task.num_test=16",
    ],
    "gpp": ["task.num_train=20", "task.num_val=10", "task.num_test=10", "task.num_layers=3"],
    # the small real-format LRGB file, copied per test session (LRGBDataset writes beside it)
    "peptides": [f"task.root={LRGB_ROOT}", "task.num_layers=3"],
}


def compose_config(overrides: list[str], results_dir: Path | None = None):
    """The config run.py would see for these overrides, logging off, results in a temp dir."""
    extra = ["progress=false"]
    if not any(o.startswith("logger=") for o in overrides):
        extra.append("logger=none")
    if results_dir is not None:
        extra.append(f"results_dir={results_dir}")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=[*overrides, *extra])
