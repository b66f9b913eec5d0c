"""Shared test helpers: compose configs the way `run.py` does, with a temporary results store.

The generic tests (every model on every task, the tiny runs) cover every config in conf/task and
conf/model, and in the config directories named by OVERSQUASH_TEST_CONF (separated by the path
separator, each laid out like conf/, added to Hydra's search path): a new task or model is picked
up from its config alone, without editing a test."""

import os
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir

import benchmarks  # noqa: F401  (thread settings must precede the first torch import)
import benchmarks.engine.config  # noqa: F401  (the config resolvers)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
EXTRA_CONF = [
    Path(p).resolve() for p in os.environ.get("OVERSQUASH_TEST_CONF", "").split(os.pathsep) if p
]
CONF_DIRS = [CONF, *EXTRA_CONF]
MODELS = sorted({p.stem for d in CONF_DIRS for p in (d / "model").glob("*.yaml")})
TASKS = sorted({p.stem for d in CONF_DIRS for p in (d / "task").glob("*.yaml")})
# models whose output sees a whole graph (attention), not only the nodes within L hops
GLOBAL_MODELS = {"gps"}
LOCAL_MODELS = [m for m in MODELS if m not in GLOBAL_MODELS]

LRGB_FIXTURE = ROOT / "tests" / "data" / "lrgb"
LRGB_ROOT = Path(tempfile.gettempdir()) / f"overquash-lrgb-{os.getpid()}"


def config_note(path: Path, name: str) -> str | None:
    """The text of a config file's `# <name>: ...` line (up to two spaces and a parenthesis), the
    notes the generic tests read: a task's `tiny` overrides, an experiment's `jobs` count."""
    for line in path.read_text().splitlines():
        if line.startswith(f"# {name}:"):
            return line.split(":", 1)[1].split("  (")[0].strip()
    return None


def tiny_overrides(task: str) -> list[str]:
    """The overrides of a task's small version (its config's `# tiny:` line), with which a model
    trains on it in a second or two; Peptides reads the small real-format LRGB fixture."""
    path = next(
        d / "task" / f"{task}.yaml" for d in CONF_DIRS if (d / "task" / f"{task}.yaml").is_file()
    )
    overrides = (config_note(path, "tiny") or "").split()
    return overrides + ([f"task.root={LRGB_ROOT}"] if task == "peptides" else [])


TINY_TASKS = {task: tiny_overrides(task) for task in TASKS}


def compose_config(overrides: list[str], results_dir: Path | None = None):
    """The config run.py would see for these overrides, logging off, results in a temp dir, on
    the CPU unless the overrides name a device."""
    extra = ["progress=false"]
    if not any(o.startswith("device=") for o in overrides):
        extra.append("device=cpu")
    if not any(o.startswith("logger=") for o in overrides):
        extra.append("logger=none")
    if results_dir is not None:
        extra.append(f"results_dir={results_dir}")
    if EXTRA_CONF:
        extra.append("hydra.searchpath=[" + ",".join(f"file://{d}" for d in EXTRA_CONF) + "]")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=[*overrides, *extra])
