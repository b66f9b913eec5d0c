"""Aggregation over seeds: one row per (task, model, variant, problem size), and the capacity
of NAR-style sweeps with its censoring."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from benchmarks.analysis.runs import natural_key, size_column, varied_settings

DDOF = 1  # sample standard deviation over seeds
# Named aggregations of a group's runs: mean, std (ddof = 1) and number of the score.
SCORE_STATS = {
    "mean": ("score", "mean"),
    "std": ("score", lambda s: s.std(ddof=DDOF)),
    "n": ("score", "size"),
}
LEVEL = 0.9  # accuracy level of the capacity threshold
# Sizes that are a hop distance: the Jacobian panel shows the inputs that far from the readout.
FARTHEST_HOP = {"size/depth": "r (the leaves)", "size/distance": "the source"}
EXTRA = (
    "sens/ratio",
    "sens/farthest",
    "sens/range",
    "sens/selected",
    "sens/background",
    "sens/hop_1",
    "cap/bits",
    "cap/num_classes",
    "train/acc",
    "val/acc",
)


def _farthest_hop(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``sens/farthest``: each run's sensitivity at its farthest measured hop."""
    hops = {int(c.removeprefix("sens/hop_")): c for c in runs if re.fullmatch(r"sens/hop_\d+", c)}
    if not hops:
        return runs

    def farthest(row) -> float:
        reached = [h for h, c in hops.items() if pd.notna(row[c])]
        return row[hops[max(reached)]] if reached else np.nan

    return runs.assign(**{"sens/farthest": runs.apply(farthest, axis=1)})


def chance_level(runs: pd.DataFrame) -> pd.Series:
    """Each run's chance accuracy 1 / C for a classification metric (``acc``), where C is the
    recorded ``cap/num_classes``, else ``config.task.num_classes``, else the number of keys (NAR's
    default C = N); NaN where C is unknown or the metric is no accuracy."""
    classes = pd.Series(np.nan, index=runs.index)
    for column in ("cap/num_classes", "config.task.num_classes", "size/num_keys"):
        if column in runs:
            classes = classes.fillna(pd.to_numeric(runs[column], errors="coerce"))
    return (1.0 / classes).where(runs["metric"] == "acc")


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (task, model, variant, size) with the selected metric's name and
    direction, mean, std (ddof = 1; NaN for one run), number of runs, parameter count, epochs,
    wall time, the chance level (:func:`chance_level`) and, where present, the mean sensitivity
    figures. Rows in task, model, natural variant and numeric size order."""
    size = size_column(runs)
    keys = ["task", "model", "variant"] + ([size] if size else [])
    if size in FARTHEST_HOP:
        runs = _farthest_hop(runs)
    if "higher_is_better" not in runs:
        runs = runs.assign(higher_is_better=np.nan)
    runs = runs.assign(chance=chance_level(runs))
    extra = [c for c in EXTRA if c in runs]
    table = runs.groupby(keys, sort=True, dropna=False).agg(
        setting=("setting", "first"),
        metric=("metric", "first"),
        higher_is_better=("higher_is_better", "first"),
        score_key=("score_key", "first"),
        **SCORE_STATS,
        params=("params", "median"),
        epochs=("epochs", "mean"),
        wall_time_s=("wall_time_s", "mean"),
        chance=("chance", "mean"),
        **{c: (c, "mean") for c in extra},
    )
    table["params"] = table["params"].round().astype(int)
    table = table.reset_index()
    order = table["variant"].map(natural_key)
    return (
        table.assign(_order=order)
        .sort_values(["task", "model", "_order"] + keys[3:])[table.columns]
        .reset_index(drop=True)
    )


def is_capacity_sweep(runs: pd.DataFrame) -> bool:
    """Whether `runs` are a classification sweep over ``num_keys`` (NAR-style): accuracy, higher
    is better, a ``size/num_keys`` column."""
    if "size/num_keys" not in runs or not (runs["metric"] == "acc").all():
        return False
    return "higher_is_better" not in runs or bool(runs["higher_is_better"].fillna(True).all())


def capacity(runs: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame | None:
    """Capacity per (task, model, variant) of a sweep over ``num_keys``: the largest N at mean
    accuracy >= `level` (interpolated in log N), the peak stored bits
    (:func:`benchmarks.metrics.capacity.capacity_table`), and its censoring: ``censored`` is
    "above" when the largest N tested is still at or above the level (the capacity is at least
    that N), "below" when no N reaches it (the capacity is under the smallest N), else "";
    ``capacity`` is the text to show (">= 32", "< 4", "12.3"). None when `runs` are no such
    sweep."""
    if not is_capacity_sweep(runs):
        return None
    from benchmarks.metrics.capacity import capacity_table  # benchmarks.metrics imports torch

    by = ["task", "model", "variant"]
    table = capacity_table(runs, by=by, size="size/num_keys", level=level)
    means = runs.groupby([*by, "size/num_keys"])["score"].mean().reset_index()
    rows = {}
    for key, group in means.groupby(by, sort=False):
        group = group.sort_values("size/num_keys")
        first, last = group.iloc[0], group.iloc[-1]
        if (group["score"] < level).all():
            rows[key] = ("below", f"< {first['size/num_keys']:g}")
        elif last["score"] >= level:
            rows[key] = ("above", f">= {last['size/num_keys']:g}")
        else:
            rows[key] = ("", None)
    table["censored"] = [rows[k][0] for k in table.index]
    table["capacity"] = [
        rows[k][1] if rows[k][1] is not None else f"{n:.1f}"
        for k, n in zip(table.index, table["capacity_n"], strict=True)
    ]
    return table


def varied_text(runs: pd.DataFrame) -> str:
    """The settings that vary between runs (the variants' keys), e.g.
    "settings that vary: model.memory_dim, model.khop"; "" when none does."""
    varied = varied_settings(runs)
    if not varied:
        return ""
    return "settings that vary: " + ", ".join(c.removeprefix("config.") for c in varied)
