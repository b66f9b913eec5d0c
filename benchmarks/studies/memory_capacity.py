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

The figure plots peak bits and bits per float against state floats, one line per model and
setting.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
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


# variant keys that set the state size: the x axis, not a line of their own
SIZE_KEYS = ("d_k=", "d_v=", "D=", "d=", "H=")


def line_label(model: str, variant: str) -> str:
    """The model and the variant's other settings (e.g. "glstm khop=on")."""
    return " ".join([model, *(t for t in variant.split() if not t.startswith(SIZE_KEYS))])


def memory_figure(table: pd.DataFrame, experiment: str, path: Path) -> None:
    """Peak stored bits and bits per state float against state floats (log axes): one line per
    model and setting (k-hop dashed), across its state sizes."""
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 4.0))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colour = {m: colours[i % len(colours)] for i, m in enumerate(sorted(table["model"].unique()))}
    labels = table.apply(lambda r: line_label(r["model"], r["variant"]), axis=1)
    for label, rows in table.groupby(labels, sort=True):
        rows = rows.sort_values("state_floats")
        style = dict(color=colour[rows["model"].iloc[0]], marker="o", ms=4, lw=1.5)
        style["ls"] = "--" if "khop=on" in label else "-"
        for ax, column in zip(axes, ("peak_bits", "bits_per_float"), strict=True):
            ax.plot(rows["state_floats"], rows[column], label=label, **style)
    titles = {
        "peak_bits": "peak stored bits (max over N of N I(acc))",
        "bits_per_float": "peak bits / state float",
    }
    for ax, (column, ylabel) in zip(axes, titles.items(), strict=True):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
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
