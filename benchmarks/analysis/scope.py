"""Which stores the leaderboard reads.

A store is a results folder or a reference folder of ``<name>.jsonl`` files
(:func:`benchmarks.analysis.runs.read_store`). By default the stores of experiments (with a
``conf/experiment/<name>.yaml``), not ``default`` (runs made without an experiment) nor the
stores of Optuna searches (``conf/search/<name>.yaml`` or ``<results>/search/<name>.db``);
named stores are read whatever they are. A run stored by several experiments (same config
hash) counts once.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.analysis.runs import flatten_results, read_store, store_names
from benchmarks.engine.config import CONF_DIR


def search_stores(results_dir: str | Path, conf_dir: str | Path = CONF_DIR) -> set[str]:
    """Store names of Optuna searches: the stems of ``conf/search/*.yaml`` and of the studies
    ``<results>/search/*.db`` (a study named with ``--study``)."""
    names = {p.stem for p in (Path(conf_dir) / "search").glob("*.yaml")}
    return names | {p.stem for p in (Path(results_dir) / "search").glob("*.db")}


def default_scope(
    results_dir: str | Path, conf_dir: str | Path = CONF_DIR
) -> tuple[list[str], list[str]]:
    """(experiment stores, the other stores): a store is an experiment's when
    ``conf/experiment/<name>.yaml`` exists and it is no search's."""
    stores = store_names(results_dir)
    searches = search_stores(results_dir, conf_dir)
    experiments = Path(conf_dir) / "experiment"
    chosen = [s for s in stores if (experiments / f"{s}.yaml").is_file() and s not in searches]
    return chosen, [s for s in stores if s not in chosen]


def load_store(results_dir: str | Path, experiments: list[str]) -> pd.DataFrame:
    """One row per finished run of the named stores (flattened :class:`RunResult`), each config
    hash once."""
    results = [r.to_dict() for name in experiments for r in read_store(results_dir, name)]
    if not results:
        return pd.DataFrame()
    runs = flatten_results(results).drop_duplicates("config_hash")
    return runs.reset_index(drop=True)
