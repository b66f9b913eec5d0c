"""Synthetic result.json files: a complete RunResult from the few keys a test cares about."""

import json

from benchmarks.engine.results import RunResult

DEFAULTS = {
    "experiment": "synthetic",
    "metric": "acc",
    "select": "best_val",
    "score_key": "test/acc",
    "selected_epoch": 1,
    "epochs": 10,
    "stopped": "patience",
    "params": 1000,
    "width": None,
    "num_layers": 2,
    "wall_time_s": 1.0,
    "train_time_s": 1.0,
    "device": "cpu",
    "seed": 0,
    "data_seed": 0,
    "model_seed": 0,
    "config": {},
}


def complete(result: dict, experiment: str | None = None) -> dict:
    """`result` with every declared field a stored result.json has, read back through
    RunResult (so that readers see what they would see on a real store)."""
    flat = DEFAULTS | {"experiment": experiment or DEFAULTS["experiment"]} | result
    return RunResult.from_dict(flat).to_dict()


def write_store(root, experiment: str, results: list[dict]):
    """Write `results` as `<root>/runs/<experiment>/<config_hash>/result.json`."""
    for r in results:
        r = complete(r, experiment)
        path = root / "runs" / experiment / r["config_hash"]
        path.mkdir(parents=True)
        (path / "result.json").write_text(json.dumps(r))
    return root


def tree_run(model: str, depth: int, seed: int, score: float, **fields) -> dict:
    """A Tree-NeighborsMatch run of `model` (``alon_yahav/<model>``, ``baselines.<MODEL>``) at
    `depth` with data, model and run seed `seed`, `score` its best training accuracy; `fields`
    added or replacing."""
    return {
        "config_hash": f"{model}-{depth}-{seed}",
        "task": "tree_neighbors_match",
        "model": model,
        "model_config": f"alon_yahav/{model}",
        "size/depth": depth,
        "select": "best_train",
        "score_key": "train/acc",
        "score": score,
        "train/acc": score,
        "seed": seed,
        "data_seed": seed,
        "model_seed": seed,
        "config": {
            "task": {"depth": depth},
            "model": {"_target_": f"baselines.{model.upper()}", "last_layer_fa": False},
            "seed": seed,
        },
    } | fields
