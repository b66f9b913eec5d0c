"""What each kind of xLSTM memory stores per float of state (the memory-capacity study,
conf/experiment/memory_capacity.yaml), from the runs of a NAR sweep that record ``state_floats``
(the floats per node a model carries from one layer to the next: gLSTM's C, n, m; graph sLSTM's
h, c, n, m; graph LSTM's h, c):

- **capacity N**: the largest N recalled at mean accuracy >= 0.9 (censored as ">= N" / "< N",
  :func:`benchmarks.analysis.summary.capacity`);
- **peak bits**: the most bits the readout held about the N values over the sweep,
  max_N N * I(acc_N);
- **bits / float**: peak bits / state floats, the memory's storage efficiency;
- **s / epoch**: training time per epoch (training and evaluation of the three splits), mean over
  runs; a machine-dependent figure.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.analysis.styles import style  # noqa: E402
from benchmarks.analysis.tables import CAPACITY_COLUMN, to_latex, to_markdown  # noqa: E402

# variant keys that set the state size: the x axis, not a line of their own
SIZE_KEYS = ("d_k=", "d_v=", "D=", "d=", "H=")


def has_state(runs: pd.DataFrame) -> bool:
    """Whether the runs are such a study: NAR-style capacity runs that record state floats."""
    return "state_floats" in runs and runs["state_floats"].notna().any()


def memory_table(runs: pd.DataFrame, cap: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, variant) with a state size: state floats, parameters, capacity
    N (number and text), peak bits, bits per float, seconds per epoch; sorted by model and state
    size.

    Args:
        runs: one row per run (benchmarks.analysis.runs.load_runs).
        cap: benchmarks.analysis.summary.capacity of the same runs, indexed by
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
    ).join(cap[["capacity_n", "capacity", "peak_bits"]])
    table["bits_per_float"] = table["peak_bits"] / table["state_floats"]
    table = table.reset_index().sort_values(["task", "model", "state_floats"])
    return table.astype({"state_floats": int, "params": int}).reset_index(drop=True)


def to_display(table: pd.DataFrame) -> pd.DataFrame:
    """The table with readable headers and rounded cells (for Markdown and LaTeX)."""
    return pd.DataFrame(
        {
            "task": table["task"],
            "model": table["model"],
            "variant": table["variant"],
            "state floats": table["state_floats"].map("{:,}".format),
            "params": table["params"].map("{:,}".format),
            CAPACITY_COLUMN: table["capacity"],
            "peak bits": table["peak_bits"].map("{:.0f}".format),
            "bits / float": table["bits_per_float"].map("{:.3f}".format),
            "s / epoch": table["s_per_epoch"].map("{:.2f}".format),
        }
    )


def line_label(model: str, variant: str) -> str:
    """The model and the variant's other settings (e.g. "glstm khop=on")."""
    return " ".join([model, *(t for t in variant.split() if not t.startswith(SIZE_KEYS))])


def memory_figure(table: pd.DataFrame, experiment: str, path: Path) -> None:
    """Peak stored bits and bits per state float against state floats (log axes): one line per
    model and setting, in that setting's style (benchmarks.analysis.styles)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 4.0))
    labels = table.apply(lambda r: line_label(r["model"], r["variant"]), axis=1)
    for label, rows in table.groupby(labels, sort=True):
        rows = rows.sort_values("state_floats")
        for ax, column in zip(axes, ("peak_bits", "bits_per_float"), strict=True):
            ax.plot(rows["state_floats"], rows[column], label=label, ms=4, lw=1.5, **style(label))
    titles = {
        "peak_bits": "peak stored bits (max over N of N I(acc))",
        "bits_per_float": "peak bits / state float",
    }
    for ax, (column, ylabel) in zip(axes, titles.items(), strict=True):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(mticker.ScalarFormatter())
        ax.set_xlabel("state floats per node")
        ax.set_ylabel(ylabel)
        if (table[column] > 0).all():  # a memory at chance (0 bits) keeps a linear axis
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{experiment}: how much each memory stores (seed means per N)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def write_memory(
    experiment: str, runs: pd.DataFrame, cap: pd.DataFrame, tables: Path, figures: Path
) -> tuple[pd.DataFrame, str]:
    """Write the study's table and figure, ``<experiment>_memory.{md,csv,tex}`` under `tables`
    and ``<experiment>_memory.png`` under `figures`. Returns the table and its Markdown."""
    name = f"{experiment}_memory"
    table = memory_table(runs, cap)
    shown = to_display(table)
    text = (
        f"{experiment}: stored bits per state float (the floats per node carried from layer to "
        "layer); peak bits = max over N of N I(acc); s / epoch: training and evaluation time."
    )
    markdown = f"{to_markdown(shown)}\n\n{text}\n"
    tables.mkdir(parents=True, exist_ok=True)
    (tables / f"{name}.md").write_text(markdown)
    table.to_csv(tables / f"{name}.csv", index=False)
    (tables / f"{name}.tex").write_text(to_latex(shown, text, name))
    memory_figure(table, experiment, figures / f"{name}.png")
    return table, markdown
