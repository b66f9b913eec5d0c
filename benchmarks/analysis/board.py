"""The leaderboard's text: a cell as "score [rank]" with its mark, the wide table and its
caption."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from benchmarks.analysis import statistics as st
from benchmarks.analysis.tables import MISSING, metric_name

if TYPE_CHECKING:
    from benchmarks.analysis.ranking import Summary

SIGNIFICANT, TOO_FEW = "*", "?"


def number_text(value: float, spec: str = ".3g") -> str:
    """`value` in the format `spec`; :data:`MISSING` for NaN."""
    return MISSING if pd.isna(value) else format(value, spec)


def score_text(mean: float, metric: str) -> str:
    return ("{:.3f}" if metric in ("acc", "ap") else "{:.3g}").format(mean)


def rank_text(rank: float, tie: bool) -> str:
    """ "2", "=2" for a tie, "=2.5" for a tie between two."""
    return f"{'=' if tie else ''}{rank:g}"


def cell_text(row: pd.Series) -> str:
    """ "mean ± std (n) [rank]" (no std for one seed) plus * (differs from the column's best) or
    ? (too few seeds to test)."""
    spread = "" if pd.isna(row.get("std")) else f" ± {score_text(row['std'], row['metric'])}"
    text = f"{score_text(row['mean'], row['metric'])}{spread} ({int(row['n'])})"
    if pd.isna(row["rank"]):
        return text
    mark = {"significant": SIGNIFICANT, st.TOO_FEW: TOO_FEW}.get(row.get("vs_best"), "")
    return f"{text} [{rank_text(row['rank'], row['tie'])}]{mark}"


def wide_table(cells: pd.DataFrame, totals: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """model, mean rank, coverage, params, s / epoch, then per task instance the cell text."""
    text = cells.assign(text=cells.apply(cell_text, axis=1)).pivot(
        index="row", columns="column", values="text"
    )
    table = pd.DataFrame(
        {
            "model": totals["model"],
            "mean rank": totals["mean rank"].map(lambda r: number_text(r, ".2f")),
            "coverage": totals["coverage"],
            "params": totals["params"].map(lambda p: number_text(p, ",.0f")),
            "s / epoch": totals["s / epoch"].map(number_text),
        }
    )
    scores = text.reindex(index=totals["model"], columns=columns).fillna(MISSING)
    return pd.concat([table.reset_index(drop=True), scores.reset_index(drop=True)], axis=1)


def caption(cells: pd.DataFrame, block: Summary | None, test: str = "t") -> str:
    """What the table shows; `block`: the common block's
    :class:`~benchmarks.analysis.ranking.Summary`, None without one."""
    per_task = cells.drop_duplicates(["task", "score_key"]).sort_values("task")
    protocols = "; ".join(
        f"{r.task}: {r.score_key} ({metric_name(r.metric)}, "
        f"{'higher' if r.higher_is_better else 'lower'} is better)"
        for r in per_task.itertuples()
    )
    text = (
        "Leaderboard: per task instance, the mean score over seeds under the task's protocol ± "
        "its std over seeds (ddof = 1; none for one seed), (n) seeds, and [its rank] among the "
        "models run on it, only where at least two models ran it "
        "(1 = best; =r: a tie, sharing the average of the tied ranks; no rank: the only model; "
        f"{MISSING}: not run). Rows split by every setting that differs except the seeds. "
        f"{SIGNIFICANT}: differs from the column's best ({st.TESTS[test]} over the seeds both "
        f"ran, Holm-adjusted within the column, p < {st.ALPHA:g}); {TOO_FEW}: too few seeds "
        f"(fewer than {st.MIN_PAIRS[test]} shared) to test against the best. coverage: task "
        "instances run / all. "
    )
    if block is None:
        text += "mean rank: none (no two models ran the same two ranked task instances). "
    else:
        text += (
            f"mean rank: over the {len(block.columns)} task instances that all "
            f"{len(block.models)} models with a mean rank ran, ranks recomputed among them "
            f"({MISSING}: not in that common set)"
        )
        if block.friedman is not None:
            f = block.friedman
            text += (
                f"; Friedman chi2 = {f.statistic:.3g}, p = {f.p:.3g}; Nemenyi critical "
                f"difference {f.critical_difference:.2f} at alpha = {f.alpha:g}"
            )
        text += ". "
    return text + (
        "params: median trainable parameters; s / epoch: mean training time per epoch. "
        f"Scores: {protocols}."
    )
