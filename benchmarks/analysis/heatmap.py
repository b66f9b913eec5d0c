"""The leaderboard as a figure: the ranks as a heatmap beside the mean ranks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.analysis.board import SIGNIFICANT, number_text, rank_text


def heatmap(cells: pd.DataFrame, totals: pd.DataFrame, columns: list[str], path: Path) -> Path:
    """The ranks as a heatmap (model x task instance; colour: the place among the column's
    models, best to last; the only model of a column: "only", uncoloured; not run: blank) beside
    the mean ranks over the common set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(totals["model"])
    ranks = cells.pivot(index="row", columns="column", values="rank")
    ranks = ranks.reindex(index=models, columns=columns)
    labels = cells.assign(
        text=[
            (rank_text(r, t) + {"significant": SIGNIFICANT}.get(v, "")) if pd.notna(r) else "only"
            for r, t, v in zip(
                cells["rank"],
                cells["tie"],
                cells.get("vs_best", pd.Series(None, cells.index)),
                strict=True,
            )
        ]
    ).pivot(index="row", columns="column", values="text")
    labels = labels.reindex(index=models, columns=columns)
    present = ranks.notna().sum(axis=0)
    position = (ranks - 1) / (present - 1).where(present > 1, 1)
    width = 3.0 + 0.42 * len(columns) + 2.5
    height = 1.8 + 0.36 * len(models)
    fig, (heat, bars) = plt.subplots(
        1,
        2,
        figsize=(width, height),
        gridspec_kw={"width_ratios": [max(len(columns), 1), 5]},
        sharey=True,
    )
    image = heat.imshow(
        np.ma.masked_invalid(position.to_numpy(float)),
        cmap="RdYlGn_r",
        vmin=0,
        vmax=1,
        aspect="auto",
    )
    for (i, j), text in np.ndenumerate(labels.to_numpy(object)):
        if isinstance(text, str):
            heat.text(j, i, text, ha="center", va="center", fontsize=7)
    heat.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=7)
    heat.set_yticks(range(len(models)), models, fontsize=8)
    heat.set_title("rank per task instance", fontsize=9)
    fig.suptitle(
        f"1 = best; =r: a tie; {SIGNIFICANT}: differs from the column's best; only: the one "
        "model run there; blank: not run",
        fontsize=8,
    )
    shown = totals["mean rank"].fillna(0)
    bars.barh(range(len(models)), shown, color="tab:blue")
    for i, (value, coverage) in enumerate(
        zip(totals["mean rank"], totals["coverage"], strict=True)
    ):
        text = f" {number_text(value, '.2f')}"
        bars.text(
            0 if pd.isna(value) else value, i, f"{text} ({coverage})", va="center", fontsize=7
        )
    bars.set_xlim(0, max(float(shown.max()), 1.0) * 1.6)
    bars.set_title("mean rank, common set (coverage)", fontsize=9)
    bars.tick_params(axis="x", labelsize=7)
    fig.colorbar(image, ax=bars, fraction=0.08, label="place among the column's models")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
