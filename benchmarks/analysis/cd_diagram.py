"""Critical-difference diagram (Demsar 2006, "Statistical comparisons of classifiers over
multiple data sets", JMLR 7): mean ranks on an axis from 1 (best, left) to k, each model's name
joined to its mean rank (the better half on the left, the rest on the right), a bar of the
critical difference above the axis, and thick bars joining models whose mean ranks lie within
it (not significantly different under the Nemenyi test)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.analysis.statistics import cliques  # noqa: E402

STEP = 0.32  # vertical distance between two model names, in axis units
CLIQUE_STEP = 0.09


def draw(
    mean_ranks: pd.Series,
    critical_difference: float,
    path: str | Path,
    title: str = "",
    highlight: str | None = None,
) -> Path:
    """Draw the diagram of `mean_ranks` (model -> mean rank) into `path` (PNG)."""
    ranks = mean_ranks.sort_values(kind="stable")
    names, values = list(ranks.index), ranks.to_numpy(float)
    k = len(values)
    low, high = 1, max(k, 2)
    span = high - low
    left = (k + 1) // 2
    bars = cliques(ranks, critical_difference)
    top = -0.12 - CLIQUE_STEP * len(bars)
    rows = max(left, k - left)
    fig, ax = plt.subplots(figsize=(7.5, 1.4 + STEP * 1.25 * rows))

    ax.hlines(0, low, high, color="black", lw=1)
    for tick in range(low, high + 1):
        ax.vlines(tick, 0, 0.08, color="black", lw=1)
        ax.text(tick, 0.13, str(tick), ha="center", va="bottom", fontsize=9)
    for tick in range(low, high):
        ax.vlines(tick + 0.5, 0, 0.04, color="black", lw=0.6)

    end = min(low + critical_difference, high + span * 0.5)
    ax.hlines(0.55, low, end, color="black", lw=1.2)
    ax.vlines([low, end], 0.5, 0.6, color="black", lw=1.2)
    ax.text((low + end) / 2, 0.63, f"CD = {critical_difference:.2f}", ha="center", fontsize=9)

    for i, (first, last) in enumerate(bars):
        y = -0.12 - CLIQUE_STEP * i
        ax.hlines(y, values[first] - 0.03, values[last] + 0.03, color="black", lw=3)

    for i, (name, value) in enumerate(zip(names, values, strict=True)):
        on_left = i < left
        row = i if on_left else k - 1 - i
        y = top - STEP * (row + 1)
        x = low - span * 0.08 if on_left else high + span * 0.08
        ax.plot([value, value, x], [0, y, y], color="black", lw=0.8)
        weight = "bold" if name == highlight else "normal"
        ax.text(
            x + (-0.02 if on_left else 0.02) * span,
            y,
            f"{name} ({value:.2f})" if on_left else f"({value:.2f}) {name}",
            ha="right" if on_left else "left",
            va="center",
            fontsize=8.5,
            fontweight=weight,
        )

    ax.set_xlim(low - span * 0.1, high + span * 0.1)
    ax.set_ylim(top - STEP * (rows + 1), 0.85)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path
