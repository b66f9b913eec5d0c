"""The leaderboard's cells, ranks and totals.

- **Cells**: mean score over seeds under the task's protocol, std (ddof = 1), n.
- **Ranks** only in columns that at least two models ran (1 = best, in the metric's direction);
  tied means share the average of their ranks and are labelled "=r".
- **Against the column's best**: each other model, paired over the seeds both ran
  (:mod:`benchmarks.analysis.statistics`); p-values Holm-adjusted within the column.
- **Coverage**: columns run / all columns.
- **Mean rank** only over a common set of columns: the ranked columns that every model of the
  summary ran (:func:`benchmarks.analysis.statistics.common_block`), with ranks recomputed among
  those models; never over different subsets. With three models or more, the Friedman test and
  the Nemenyi critical difference over that block.

Which stores are read: :mod:`benchmarks.analysis.scope`; the rows and columns:
:mod:`benchmarks.analysis.rows`; the table's text: :mod:`benchmarks.analysis.board`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.analysis import statistics as st
from benchmarks.analysis.rows import SEEDS
from benchmarks.analysis.runs import natural_key
from benchmarks.analysis.summary import SCORE_STATS


def cell_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model row, column) with runs: mean, std (ddof = 1) and n of the score, its
    rank where at least two models ran the column (1 = best, ties averaged) and ``tie``."""
    cells = (
        runs.groupby(["row", "column"], sort=False)
        .agg(
            task=("task", "first"),
            setting=("setting", "first"),
            size_key=("size_key", "first"),
            size=("size", "first"),
            metric=("metric", "first"),
            score_key=("score_key", "first"),
            higher_is_better=("higher_is_better", "first"),
            **SCORE_STATS,
        )
        .reset_index()
    )
    cells["models"] = cells.groupby("column")["row"].transform("size")
    cells["rank"] = np.nan
    for _, group in cells[cells["models"] >= 2].groupby("column", sort=False):
        higher = bool(group["higher_is_better"].iloc[0])
        cells.loc[group.index, "rank"] = st.rank_scores(group["mean"], higher)
    cells["tie"] = cells["rank"].notna() & cells.duplicated(["column", "rank"], keep=False)
    return cells


def against_best(
    runs: pd.DataFrame, cells: pd.DataFrame, test: str = "t", alpha: float = st.ALPHA
) -> pd.DataFrame:
    """Add, per ranked cell, the paired comparison with its column's best model (the lowest
    rank; among tied best the first by name): ``best``, ``vs_best_n`` (shared seeds),
    ``vs_best_difference`` (this minus the best), ``vs_best_p`` (Holm-adjusted within the
    column) and ``vs_best``: "best", "significant", "not significant" or "too few seeds"."""
    cells = cells.copy()
    for name in ("best", "vs_best"):
        cells[name] = None
    for name in ("vs_best_n", "vs_best_difference", "vs_best_p"):
        cells[name] = np.nan
    by_cell = dict(list(runs.groupby(["row", "column"], sort=False)))
    for column, group in cells[cells["rank"].notna()].groupby("column", sort=False):
        order = group.assign(_name=group["row"].map(natural_key)).sort_values(["rank", "_name"])
        best = order["row"].iloc[0]
        cells.loc[group.index, "best"] = best
        cells.loc[order.index[0], "vs_best"] = "best"
        others = order.index[1:]
        results = []
        for index in others:
            pairs = st.pair_by_seed(
                by_cell[(cells.at[index, "row"], column)], by_cell[(best, column)], list(SEEDS)
            )
            results.append(st.paired_difference(pairs["a"], pairs["b"], test, interval=False))
        adjusted = st.holm([r.p if r.testable else np.nan for r in results])
        for index, result, p in zip(others, results, adjusted, strict=True):
            cells.loc[index, ["vs_best_n", "vs_best_difference", "vs_best_p"]] = (
                result.n,
                result.difference,
                p,
            )
            if not result.testable:
                cells.loc[index, "vs_best"] = st.TOO_FEW
            else:
                cells.loc[index, "vs_best"] = "significant" if p < alpha else "not significant"
    return cells


@dataclass
class Summary:
    """The mean ranks over a common block of columns (models x columns all run)."""

    models: list[str]
    columns: list[str]
    mean_ranks: pd.Series
    friedman: st.Friedman | None = None


def summary(cells: pd.DataFrame) -> Summary | None:
    """Mean ranks among the models of the common block (:func:`statistics.common_block` over
    the ranked columns), ranks recomputed among them; the Friedman test with three models or
    more. None when no two models share two ranked columns."""
    ranked = cells[cells["rank"].notna()]
    present = ranked.pivot(index="row", columns="column", values="mean").notna()
    models, columns = st.common_block(present)
    if not models:
        return None
    block = ranked[ranked["row"].isin(models) & ranked["column"].isin(columns)]
    means = block.pivot(index="column", columns="row", values="mean")
    higher = block.groupby("column")["higher_is_better"].first()
    ranks = st.rank_table(means, higher)
    mean_ranks = ranks.mean(axis=0)
    friedman = st.friedman(ranks) if len(models) >= 3 else None
    return Summary(models=models, columns=columns, mean_ranks=mean_ranks, friedman=friedman)


def model_totals(
    runs: pd.DataFrame, cells: pd.DataFrame, block: Summary | None, columns: list[str]
) -> pd.DataFrame:
    """Per model row: the mean rank over the common block (NaN outside it), coverage (columns
    run / all columns), ranked columns, median parameters, mean seconds per epoch; the block's
    models first by mean rank, then the others by coverage and name."""
    per_epoch = runs["train_time_s"] / runs["epochs"].where(runs["epochs"] > 0)
    run_columns = cells.groupby("row")["column"].nunique()
    totals = pd.DataFrame(
        {
            "mean rank": block.mean_ranks if block else pd.Series(dtype=float),
            "tasks": run_columns,
            "ranked": cells.groupby("row")["rank"].count(),
            "params": runs.groupby("row")["params"].median(),
            "s / epoch": per_epoch.groupby(runs["row"]).mean(),
        }
    ).reindex(run_columns.index)
    totals["coverage"] = totals["tasks"].map(lambda t: f"{t}/{len(columns)}")
    totals = totals.rename_axis("model").reset_index()
    order = totals.assign(
        _outside=totals["mean rank"].isna(), _name=totals["model"].map(natural_key)
    ).sort_values(["_outside", "mean rank", "tasks", "_name"], ascending=[True, True, False, True])
    return totals.loc[order.index].reset_index(drop=True)


def column_order(cells: pd.DataFrame) -> list[str]:
    """Task instances by task, setting and size."""
    first = cells.drop_duplicates("column")
    keys = first.apply(
        lambda r: (r["task"], natural_key(r["setting"]), r["size"] if pd.notna(r["size"]) else 0),
        axis=1,
    )
    return list(first.assign(_key=keys).sort_values("_key")["column"])
