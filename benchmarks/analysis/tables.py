"""The report's tables: one row per (task, model, variant), a column per problem size, written
as Markdown, CSV and LaTeX."""

from __future__ import annotations

import math

import pandas as pd

from benchmarks.analysis.runs import natural_key, size_column
from benchmarks.analysis.summary import DDOF, LEVEL

MISSING = "–"
METRIC_NAMES = {
    "acc": "accuracy",
    "mse": "MSE",
    "log10_mse": "log10 MSE",
    "ap": "average precision",
    "mae": "MAE",
}
CAPACITY_COLUMN = f"capacity N (acc ≥ {LEVEL:g})"


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def cell(mean: float, std: float, n: int, metric: str) -> str:
    """ "mean ± std (n)"; the std only where n > 1."""
    digits = "{:.3g}" if metric in ("mse", "mae") else "{:.3f}"
    text = digits.format(mean)
    if n > 1 and not math.isnan(std):
        text += " ± " + digits.format(std)
    return f"{text} ({n})"


def _size_label(size: str, value) -> str:
    return f"{size.removeprefix('size/')}={float(value):g}"


def wide_table(summary: pd.DataFrame, cap: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (task, model, variant); a column per problem size (in numeric order) holding
    "mean ± std (n)"; then parameters and, for NAR-style sweeps, the capacity (censored as
    ">= N" or "< N") and the peak stored bits."""
    size = size_column(summary)
    rows = []
    for (task, model, variant), group in summary.groupby(["task", "model", "variant"], sort=True):
        row = {"task": task, "model": model, "variant": variant}
        for _, r in group.iterrows():
            key = _size_label(size, r[size]) if size else r["score_key"]
            row[key] = cell(r["mean"], r["std"], int(r["n"]), r["metric"])
        low, high = group["params"].min(), group["params"].max()
        row["params"] = f"{low:,}" if low == high else f"{low:,}–{high:,}"
        if cap is not None and (task, model, variant) in cap.index:
            c = cap.loc[(task, model, variant)]
            row[CAPACITY_COLUMN] = c["capacity"]
            row["peak bits"] = f"{c.peak_bits:.0f}"
        rows.append(row)
    rows.sort(key=lambda r: (r["task"], r["model"], natural_key(r["variant"])))
    table = pd.DataFrame(rows)
    if size:
        prefix = size.removeprefix("size/") + "="
        size_cols = sorted(
            (c for c in table if c.startswith(prefix)), key=lambda c: float(c.split("=", 1)[1])
        )
        fixed = ["task", "model", "variant"]
        table = table[fixed + size_cols + [c for c in table if c not in fixed + size_cols]]
    return table.fillna(MISSING)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table (pandas' to_markdown needs the optional tabulate package)."""

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    rows = [line(table.columns), line(["---"] * len(table.columns))]
    rows += [line(r) for r in table.itertuples(index=False)]
    return "\n".join(rows)


def direction(summary: pd.DataFrame) -> str:
    """ "higher" or "lower", from the results' own ``higher_is_better``."""
    values = summary["higher_is_better"].dropna() if "higher_is_better" in summary else []
    if not len(values):
        return "unknown"
    return "higher" if bool(values.iloc[0]) else "lower"


def caption(experiment: str, summary: pd.DataFrame, varied: str = "") -> str:
    """What the table shows: the metric and its direction, the statistics, the settings that
    vary."""
    metric = summary["metric"].iloc[0]
    key = summary["score_key"].iloc[0]
    text = (
        f"{experiment}: {key} ({metric_name(metric)}, {direction(summary)} is better) per problem "
        f"size, mean ± std over seeds (std with ddof = {DDOF}; none shown for one run), "
        "(n) runs; params: trainable parameters."
    )
    if varied:
        text += f" Variants: {varied}."
    return text


def capacity_note(cap: pd.DataFrame | None) -> str:
    """What the capacity column means, censoring included."""
    if cap is None:
        return ""
    return (
        f"Capacity: the largest N recalled at mean accuracy ≥ {LEVEL:g} (interpolated in log N); "
        "'>= N': still at or above the level at the largest N run (the sweep stopped there); "
        "'< N': below it already at the smallest N run."
    )


def to_latex(table: pd.DataFrame, text: str, label: str) -> str:
    """A LaTeX table (booktabs rules) with the caption `text`; plain-ASCII LaTeX for the symbols
    the cells use."""
    tex = table.to_latex(index=False, caption=text, label=f"tab:{label}", escape=True)
    return (
        tex.replace("±", r"$\pm$")
        .replace("≥", r"$\geq$")
        .replace(">=", r"$\geq$")
        .replace("–", "--")
        .replace("< ", r"$<$ ")
    )
