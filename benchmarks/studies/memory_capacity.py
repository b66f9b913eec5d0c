"""The memory-capacity study (conf/experiment/memory_capacity.yaml): what each kind of xLSTM memory
stores per float of state, built by ``python -m benchmarks.report memory_capacity`` from the runs.

For each model and variant of a NAR sweep whose runs record ``state_floats`` (the floats per node
a model carries from one layer to the next: gLSTM's C, n, m; graph sLSTM's h, c, n, m; graph
LSTM's h, c):

- **capacity N**: the largest N recalled at mean accuracy >= 0.9 (benchmarks.metrics.capacity);
- **peak bits**: the most bits the readout held about the N values over the sweep,
  max_N N * I(acc_N);
- **bits / float**: peak bits / state floats, the memory's storage efficiency;
- **s / epoch**: training time per epoch (training and evaluation of the three splits), mean over
  runs; a machine-dependent figure (``python -m benchmarks.speed`` times single steps side by
  side).

The figure plots peak bits and bits per float against state floats, one line per model.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def has_state(runs: pd.DataFrame) -> bool:
    """Whether the runs are such a study: NAR-style capacity runs that record state floats."""
    return "state_floats" in runs and runs["state_floats"].notna().any()


def memory_table(runs: pd.DataFrame, cap: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, variant) with a state size: state floats, parameters, capacity
    N, peak bits, bits per float, seconds per epoch; sorted by model and state size.

    Args:
        runs: one row per run (benchmarks.report.load_runs).
        cap: benchmarks.metrics.capacity.capacity_table of the same runs, indexed by
            (task, model, variant).
    """
    runs = runs[runs["state_floats"].notna()]
    grouped = runs.assign(s_per_epoch=runs["train_time_s"] / runs["epochs"]).groupby(
        ["task", "model", "variant"]
    )
    table = grouped.agg(
        state_floats=("state_floats", "median"),
        params=("params", "median"),
        s_per_epoch=("s_per_epoch", "mean"),
    ).join(cap[["capacity_n", "peak_bits"]])
    table["bits_per_float"] = table["peak_bits"] / table["state_floats"]
    table = table.reset_index().sort_values(["task", "model", "state_floats"])
    return table.astype({"state_floats": int, "params": int}).reset_index(drop=True)


def to_display(table: pd.DataFrame) -> pd.DataFrame:
    """The table with readable headers and rounded cells (for Markdown and LaTeX)."""

    def capacity(n: float) -> str:
        return "< min N" if math.isnan(n) else f"{n:.1f}"

    return pd.DataFrame(
        {
            "task": table["task"],
            "model": table["model"],
            "variant": table["variant"],
            "state floats": table["state_floats"].map("{:,}".format),
            "params": table["params"].map("{:,}".format),
            "capacity N (acc ≥ 0.9)": table["capacity_n"].map(capacity),
            "peak bits": table["peak_bits"].map("{:.0f}".format),
            "bits / float": table["bits_per_float"].map("{:.3f}".format),
            "s / epoch": table["s_per_epoch"].map("{:.2f}".format),
        }
    )


def memory_figure(table: pd.DataFrame, experiment: str, path: Path) -> None:
    """Peak stored bits and bits per state float against state floats (log axes), per model."""
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 4.0))
    for model, rows in table.groupby("model", sort=True):
        rows = rows.sort_values("state_floats")
        for ax, column in zip(axes, ("peak_bits", "bits_per_float"), strict=True):
            ax.plot(rows["state_floats"], rows[column], marker="o", ms=4, lw=1.5, label=model)
    floats = np.sort(table["state_floats"].unique())
    labels = {
        "peak_bits": "peak stored bits (max over N of N I(acc))",
        "bits_per_float": "peak bits / state float",
    }
    for ax, (column, ylabel) in zip(axes, labels.items(), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xticks(floats, [f"{f:,}" for f in floats])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel("state floats per node")
        ax.set_ylabel(ylabel)
        if (table[column] > 0).all():  # a memory at chance (0 bits) keeps a linear axis
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{experiment}: how much each memory stores", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
