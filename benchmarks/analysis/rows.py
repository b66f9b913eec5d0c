"""Labels of the leaderboard's rows and columns.

- **Columns: task instances** (task, the task settings that vary between its runs, problem
  size; the score key where a task reports several). ``root`` (a data path) is no setting.
- **Rows: models**: name, config choice, and every other setting that varies between a model's
  runs in one column (model, training, remedies, budget, ...); only the seeds (``seed``,
  ``data_seed``, ``model_seed``) are pooled. So a learning-rate sweep gives one row per
  learning rate. Numbers in labels are rounded to the fewest significant digits (at least 3)
  that keep distinct values distinct.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from benchmarks.analysis.runs import (
    REMEDY_COLUMNS,
    SEED_KEYS,
    SHORT,
    _label_key,
    varying_columns,
)

# Label words of task settings: short names, the settings shown by their value alone, and task
# keys that do not change the task (a data path).
SIZE_NAMES = {"num_keys": "N", "distance": "d"}
SETTING_NAMES = {"num_train": "train", "num_val": "val", "num_test": "test"}
BARE_SETTINGS = ("topology", "target", "name")
NOT_SETTINGS = ("root",)
SEEDS = tuple(k.removeprefix("config.") for k in SEED_KEYS)
MIN_LABEL_DIGITS = 3


def label_digits(values) -> int:
    """The fewest significant digits (at least 3) at which distinct floats stay distinct."""
    values = {v for v in values if isinstance(v, float) and math.isfinite(v)}
    for digits in range(MIN_LABEL_DIGITS, 18):
        if len({f"{v:.{digits}g}" for v in values}) == len(values):
            return digits
    return 17


def word(name: str, value, digits: int = MIN_LABEL_DIGITS, names: dict | None = None) -> str:
    """``key=value``: short key names, on/off for booleans, floats to `digits` significant
    digits."""
    key = (names or {}).get(name, SHORT.get(name, name))
    if isinstance(value, bool | np.bool_):
        return f"{key}={'on' if value else 'off'}"
    if isinstance(value, float | np.floating):
        value = f"{value:.{digits}g}"
    return f"{key}={value}"


def _missing(value) -> bool:
    return bool(np.isscalar(value) and pd.isna(value))


def _words(runs: pd.DataFrame, columns: list[str], names: dict | None = None) -> pd.Series:
    """Per run, the label words of `columns` that it has."""
    digits = {c: label_digits(runs[c]) for c in columns}
    bare = [c for c in columns if c.rsplit(".", 1)[-1] in BARE_SETTINGS]
    return pd.Series(
        [
            " ".join(
                str(row[c]) if c in bare else word(c.rsplit(".", 1)[-1], row[c], digits[c], names)
                for c in columns
                if not _missing(row[c])
            )
            for _, row in runs.iterrows()
        ],
        index=runs.index,
        dtype=object,
    )


def _setting_order(column: str) -> tuple[int, str]:
    name = column.rsplit(".", 1)[-1]
    order = [*BARE_SETTINGS, *SETTING_NAMES]
    return (order.index(name) if name in order else len(order), name)


def add_task_instances(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``column`` (the task instance's label, e.g. "graph_transfer ring d=5"),
    ``size_key`` and ``size`` (NaN for tasks without one) and ``setting`` (the varying task
    settings' words)."""
    runs = runs.copy()
    sizes = [c for c in runs if c.startswith("size/")]
    if sizes:
        runs["size_key"] = runs[sizes].notna().idxmax(axis=1).where(runs[sizes].notna().any(axis=1))
        runs["size"] = runs[sizes].max(axis=1)
    else:
        runs["size_key"], runs["size"] = np.nan, np.nan
    runs["setting"] = ""
    task_columns = [
        c
        for c in runs
        if c.startswith("config.task.") and c.rsplit(".", 1)[-1] not in ("_target_", *NOT_SETTINGS)
    ]
    for _, group in runs.groupby("task", sort=False):
        size_config = {f"config.task.{k.removeprefix('size/')}" for k in group["size_key"].dropna()}
        keys = sorted(varying_columns(group, task_columns) - size_config, key=_setting_order)
        runs.loc[group.index, "setting"] = _words(group, keys, SETTING_NAMES)
    several_keys = runs.groupby("task")["score_key"].transform("nunique") > 1

    def label(row) -> str:
        words = [row["task"], row["setting"]]
        if pd.notna(row["size_key"]):
            name = row["size_key"].removeprefix("size/")
            words.append(f"{SIZE_NAMES.get(name, name)}={row['size']:g}")
        return " ".join(w for w in words if w)

    runs["column"] = runs.apply(label, axis=1)
    runs.loc[several_keys, "column"] += " " + runs.loc[several_keys, "score_key"]
    return runs


def row_settings(runs: pd.DataFrame) -> list[str]:
    """Config columns that may split a row: all but the task's, the seeds and class paths; the
    remedies by name (the rewiring's class), its options under ``config.rewiring.``."""
    return [
        c
        for c in runs
        if c.startswith("config.")
        and not c.startswith("config.task.")
        and c not in SEED_KEYS
        and not c.endswith("._target_")
    ]


def add_model_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``model_name`` ("name (config choice)", the name alone without one) and ``row``: the
    name plus every setting (:func:`row_settings`) that takes more than one value among one
    model's runs in one column; such a setting labels every row of that model. A rewiring
    option counts where it varies among runs with the same rewiring."""
    runs = runs.copy()
    config = runs["model_config"] if "model_config" in runs else pd.Series(np.nan, runs.index)
    runs["model_name"] = runs["model"].where(
        config.isna(), runs["model"] + " (" + config.astype(str) + ")"
    )
    columns = row_settings(runs)
    options = [c for c in columns if c.startswith("config.rewiring.")]
    plain = [c for c in columns if c not in options]
    remedy = "config.rewiring" if "config.rewiring" in runs else None
    runs["row"] = runs["model_name"]
    for _, model_runs in runs.groupby("model_name", sort=False):
        keys = set()
        for _, group in model_runs.groupby("column", sort=False):
            keys |= varying_columns(group, plain)
            if options and remedy:
                for _, same in group.groupby(remedy, dropna=False, sort=False):
                    keys |= varying_columns(same, options)
        keys = sorted(keys, key=_label_key)
        keys = [c for c in keys if c in REMEDY_COLUMNS] + [
            c for c in keys if c not in REMEDY_COLUMNS
        ]
        if keys:
            words = _words(model_runs, keys)
            runs.loc[model_runs.index, "row"] = (model_runs["model_name"] + " " + words).str.strip()
    return runs


def label_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`add_task_instances` then :func:`add_model_rows`."""
    return add_model_rows(add_task_instances(runs))
