"""A store as a table: one row per finished run, with its variant label.

A store is a results folder (``<root>/runs/<experiment>/<hash>/result.json``), a reference file
(``<experiment>.jsonl``, one result per line) or a reference folder holding one such file per
experiment (``results/reference/``, written by ``python -m benchmarks.export``); every reader
takes any of them as its ``--results-dir`` through :func:`read_store`.

:func:`load_runs` reads a store through :func:`read_store` and flattens each
:class:`~benchmarks.engine.results.RunResult` with pandas' ``json_normalize``: the result's flat
keys (``score``, ``metric``, ``higher_is_better``, ``size/<key>``, ``test/acc``, ``sens/...``),
the identity config as ``config.<path>`` columns and the recorded sweep as ``sweep.experiment``,
``sweep.choices.<group>`` and ``sweep.overrides``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.engine.results import RunResult, read_results

SEED_KEYS = ("config.seed", "config.data_seed", "config.model_seed")
# Short names for config keys in variant labels; keys not listed use their last path component.
SHORT = {
    "memory_dim": "d_k",
    "value_dim": "d_v",
    "dim": "d",
    "hidden_dim": "D",
    "heads": "H",
    "num_layers": "L",
}
LABEL_ORDER = ("memory_dim", "value_dim", "hidden_dim", "heads", "dim", "num_layers", "khop")
# Top-level options that change the graph a model sees, not the model: each labels its runs' rows.
REMEDY_COLUMNS = ("config.virtual_node", "config.rewiring")


REFERENCE = ".jsonl"


def reference_file(results_dir: str | Path, experiment: str) -> Path | None:
    """``<results_dir>/<experiment>.jsonl`` when `results_dir` is a reference folder holding
    it (and no ``runs/<experiment>/`` store beside it), else None."""
    path = Path(results_dir) / f"{experiment}{REFERENCE}"
    stored = Path(results_dir) / "runs" / experiment
    return path if path.is_file() and not stored.is_dir() else None


def read_store(results_dir: str | Path, experiment: str | None = None) -> list[RunResult]:
    """Every finished run of `experiment` (every experiment when None) in the store at
    `results_dir`: a results folder, a reference ``.jsonl`` file, or a reference folder of
    ``<experiment>.jsonl`` files (see the module docstring)."""
    root = Path(results_dir)
    if root.suffix == REFERENCE or not root.is_dir():
        return read_results(root, experiment)
    if experiment is not None:
        return read_results(reference_file(root, experiment) or root, experiment)
    files = sorted(root.glob(f"*{REFERENCE}"))
    return read_results(root) + [r for path in files for r in read_results(path)]


def store_names(results_dir: str | Path) -> list[str]:
    """The experiments the store at `results_dir` holds: its ``runs/<name>/`` folders and its
    ``<name>.jsonl`` reference files (a reference file's own experiments), sorted."""
    root = Path(results_dir)
    if root.suffix == REFERENCE:
        return sorted({r.experiment for r in read_results(root)})
    names = {p.name for p in (root / "runs").glob("*") if p.is_dir()}
    return sorted(names | {p.stem for p in root.glob(f"*{REFERENCE}") if p.is_file()})


def has_runs(results_dir: str | Path | None, experiment: str) -> bool:
    """Whether the store at `results_dir` has a folder or a reference file for `experiment`."""
    if results_dir is None:
        return False
    return experiment in store_names(results_dir)


def load_runs(results_dir: str | Path, experiment: str | None = None) -> pd.DataFrame:
    """One row per finished run of `experiment` (every experiment when None) in the store at
    `results_dir` (a results folder, a reference ``.jsonl`` file or a reference folder, see
    :func:`read_store`): see :func:`flatten_results` and :func:`add_variants`. Empty when there
    is none."""
    results = read_store(results_dir, experiment)
    if not results:
        return pd.DataFrame()
    return add_variants(flatten_results([r.to_dict() for r in results]))


def flatten_results(results: list[dict]) -> pd.DataFrame:
    """Results (``RunResult.to_dict()`` objects) as one row each, nested keys as dotted columns
    (pandas ``json_normalize``), with the graph remedies as one column each:
    ``config.virtual_node`` (True or missing) and ``config.rewiring``, the rewiring transform's
    class name ("FoSR", "SDRF") or missing (NaN, so that a run without a remedy gets no label
    word for it)."""
    runs = pd.json_normalize(results, sep=".")
    rewiring = runs.get("config.rewiring._target_")
    if rewiring is not None:
        runs["config.rewiring"] = rewiring.str.rsplit(".", n=1).str[-1]
    for column in REMEDY_COLUMNS:
        if column in runs:
            runs[column] = runs[column].where(runs[column].notna(), np.nan)
    return runs


def size_column(runs: pd.DataFrame) -> str | None:
    """The problem-size column (``size/num_keys``, ``size/depth``, ``size/distance``, ...)."""
    sizes = [c for c in runs if c.startswith("size/")]
    return sizes[0] if sizes else None


def config_columns(runs: pd.DataFrame) -> list[str]:
    """Config columns that may define a variant: model, task and train settings and the graph
    remedies, minus the seeds, the problem size itself and class paths."""
    sizes = {f"config.task.{c.removeprefix('size/')}" for c in runs if c.startswith("size/")}
    return [
        c
        for c in runs
        if (c.startswith(("config.model.", "config.task.", "config.train.")) or c in REMEDY_COLUMNS)
        and c not in sizes
        and c not in SEED_KEYS
        and not c.endswith("._target_")
    ]


def _label_key(column: str) -> tuple[int, str]:
    name = column.rsplit(".", 1)[-1]
    return (LABEL_ORDER.index(name) if name in LABEL_ORDER else len(LABEL_ORDER), column)


def format_value(name: str, value) -> str:
    """``key=value`` with the short name of `name` (:data:`SHORT`); booleans as on/off."""
    if isinstance(value, bool | np.bool_):
        return f"{name}={'on' if value else 'off'}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{SHORT.get(name, name)}={value}"


def varying_columns(group: pd.DataFrame, columns: list[str]) -> set[str]:
    """The columns with more than one value in `group` (lists and None compare as text)."""
    return {c for c in columns if group[c].astype(str).nunique(dropna=False) > 1}


def label_words(row: pd.Series, columns: list[str]) -> list[str]:
    """``key=value`` (short names, :data:`SHORT`) per column of `row` that has a value."""
    return [
        format_value(c.rsplit(".", 1)[-1], row[c])
        for c in columns
        if not (np.isscalar(row[c]) and pd.isna(row[c]))
    ]


def varied_settings(runs: pd.DataFrame) -> list[str]:
    """The config columns that vary between runs of one (task, model) at one problem size,
    in label order: the settings that make the variants."""
    columns = config_columns(runs)
    size = size_column(runs)
    varying = set()
    for _, group in runs.groupby(["task", "model"] + ([size] if size else []), sort=False):
        varying |= varying_columns(group, columns)
    return sorted(varying, key=_label_key)


def add_variants(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``variant``: the values of the config keys that vary between runs of one
    (task, model) at one problem size, e.g. "d_k=8 d=16 khop=off" for one gLSTM setting; and
    ``setting``: its task keys alone (e.g. "topology=ring"), which figures draw in panels of
    their own. A key that only changes with the size (Tree-NeighborsMatch's batch size per
    depth) is no variant. A key that varies for one model labels every model that has it (so a
    single GCN width still shows "d=256"); empty when nothing varies. ``runs.attrs["varied"]``
    lists the varying columns."""
    runs = runs.copy()
    varying = varied_settings(runs)

    def label(row, columns) -> str:
        return " ".join(label_words(row, columns))

    task_keys = [c for c in varying if c.startswith("config.task.")]
    runs["variant"] = runs.apply(label, axis=1, columns=varying) if varying else ""
    runs["setting"] = runs.apply(label, axis=1, columns=task_keys) if task_keys else ""
    runs.attrs["varied"] = varying
    return runs


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def natural_key(text) -> tuple:
    """Sort key that orders numbers by value inside text: "d_k=8" before "d_k=16",
    "lr=0.001" before "lr=0.003" before "lr=0.01", "lr=1e-4" before "lr=0.001"."""
    parts = []
    for token in re.split(r"((?:(?<==)-)?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)", str(text)):
        if not token:
            continue
        number = _number(token)
        parts.append((0, number, "") if number is not None else (1, 0.0, token))
    return tuple(parts)
