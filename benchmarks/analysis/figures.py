"""The report's figure: the selected metric against problem size per model and variant, beside
the published numbers, with the sensitivity panels where the runs carry them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.analysis.anchors import published  # noqa: E402
from benchmarks.analysis.runs import natural_key, size_column  # noqa: E402
from benchmarks.analysis.styles import CHANCE, published_style, style  # noqa: E402
from benchmarks.analysis.summary import DDOF, FARTHEST_HOP  # noqa: E402
from benchmarks.analysis.tables import metric_name  # noqa: E402

AXIS_LABELS = {
    "num_keys": "N (keys)",
    "distance": "distance d",
    "depth": "tree depth r",
    "num_layers": "layers L",
    "state_floats": "state floats per node",
}
LOG2_SIZES = ("size/num_keys", "size/distance")


def axis_label(column: str) -> str:
    """A readable axis label of a size column (``size/num_keys`` -> "N (keys)")."""
    name = column.removeprefix("size/")
    return AXIS_LABELS.get(name, name.replace("_", " "))


def seeds_text(summary: pd.DataFrame) -> str:
    """What a point and its band are: "n = 3 seeds per point, band ± 1 std (ddof = 1)", "n = 1
    seed per point, no band", or a range of n."""
    n = summary["n"].astype(int)
    low, high = int(n.min()), int(n.max())
    count = f"n = {low}" if low == high else f"n = {low}–{high}"
    text = f"{count} seed{'s' if high > 1 else ''} per point"
    if high > 1:
        text += f", band ± 1 std over seeds (ddof = {DDOF})"
        if low == 1:
            text += ", none where n = 1"
    else:
        text += ", no band"
    return text


def series(summary: pd.DataFrame):
    """(label, rows sorted by size) per (model, variant); the label is the model and the
    variant's words without the setting's (which titles the panel row)."""
    size = size_column(summary)
    groups = summary.groupby(["model", "variant"], sort=False)
    for model, variant in sorted(groups.groups, key=lambda k: (k[0], natural_key(k[1]))):
        rows = groups.get_group((model, variant))
        setting = set(str(rows["setting"].iloc[0]).split())
        label = " ".join([model, *(t for t in variant.split() if t not in setting)])
        yield label, rows.sort_values(size) if size else rows


def panels_of(summary: pd.DataFrame) -> tuple[list[tuple[str, str]], pd.DataFrame]:
    """The panels (column, y label) and the summary with its ``jacobian`` column."""
    size = size_column(summary)
    metric, key = summary["metric"].iloc[0], summary["score_key"].iloc[0]
    panels = [("score", f"{key} ({metric_name(metric)})")]
    if "sens/ratio" in summary:
        panels.append(("sens/ratio", "sensitivity ratio selected / background"))
    jac = None
    if {"sens/selected", "sens/background"} <= set(summary) and size == "size/num_keys":
        n = summary[size]
        jac = (summary["sens/selected"] + (n - 1) * summary["sens/background"]) / n
        panels.append(("jacobian", "mean |J| over key nodes"))
    elif "sens/farthest" in summary:
        jac = summary["sens/farthest"]
        panels.append(("jacobian", f"mean |J| at hop {FARTHEST_HOP[size]}"))
    elif "sens/hop_1" in summary:
        jac = summary["sens/hop_1"]
        panels.append(("jacobian", "mean |J| at hop 1"))
    return panels, (summary.assign(jacobian=jac) if jac is not None else summary)


def figure(
    summary: pd.DataFrame, experiment: str, path: Path, points: pd.DataFrame | None = None
) -> plt.Figure:
    """Metric against problem size with ±1 std bands (where n > 1), one style per variant
    (benchmarks.analysis.styles), beside the published numbers of `experiment` (`points`,
    default: its anchors), with the task's chance level; for runs with sensitivity figures also
    the selected / background ratio and the mean Jacobian norm against size. One row of panels
    per task setting (e.g. per topology); an experiment without a problem size shows each
    model and variant as one point (mean ± std) per setting. Saved to `path`."""
    size = size_column(summary)
    panels, summary = panels_of(summary)
    if points is None:
        points = published(experiment, summary)
    settings = sorted(summary["setting"].unique(), key=natural_key)
    width = 5.2 if size else max(5.2, 0.45 * summary.groupby(["model", "variant"]).ngroups + 2)
    shape = (len(settings), len(panels)) if len(panels) > 1 else (1, len(settings))
    fig, axes = plt.subplots(*shape, figsize=(width * shape[1], 4.0 * shape[0]), squeeze=False)
    axes = axes if len(panels) > 1 else axes.T  # one row of axes (its panels) per setting
    for row, setting in zip(axes, settings, strict=True):
        draw_setting(
            row,
            panels,
            summary[summary["setting"] == setting],
            points[points["setting"] == setting],
            size,
        )
        if setting:
            row[0].set_title(setting, fontsize=9)
    fig.suptitle(f"{experiment}: mean over seeds; {seeds_text(summary)}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return fig


def draw_setting(axes, panels, summary, points, size) -> None:
    """One row of panels: every series of one setting, and its published points. Without a
    size, x is categorical: one position per series label, ours filled, published hollow."""
    metric = summary["metric"].iloc[0]
    drawn = list(series(summary))
    labels = sorted({label for label, _ in drawn} | set(points["label"]), key=natural_key)

    def x_of(label: str, rows: pd.DataFrame, column: str) -> np.ndarray:
        if size:
            return rows[column].to_numpy(float)
        return np.full(len(rows), float(labels.index(label)))

    for label, rows in drawn:
        look = style(label)
        x = x_of(label, rows, size)
        for ax, (column, _) in zip(axes, panels, strict=True):
            y = rows["mean" if column == "score" else column].to_numpy(float)
            std = rows["std"].to_numpy(float)
            band = column == "score" and np.isfinite(std).any()
            if size:
                ax.plot(x, y, label=label, ms=3.5, lw=1.5, **look)
                if band:
                    low, high = y - np.nan_to_num(std), y + np.nan_to_num(std)
                    ax.fill_between(x, low, high, color=look["color"], alpha=0.15, lw=0)
            else:
                ax.errorbar(
                    x,
                    y,
                    yerr=std if band else None,
                    color=look["color"],
                    marker=look["marker"],
                    ms=5,
                    ls="",
                    capsize=3,
                )
    for label, rows in points.groupby("label", sort=False):
        look = published_style(label)
        axes[0].errorbar(
            x_of(label, rows, "size"),
            rows["value"].to_numpy(float),
            yerr=rows["std"].to_numpy(float) if rows["std"].notna().any() else None,
            color=look["color"],
            marker=look["marker"],
            mfc="none",
            ms=6,
            mew=1.3,
            ls=look["ls"] if size else "",
            lw=1,
            capsize=2,
            label=f"{label} published" if size else None,
        )
    for ax, (column, ylabel) in zip(axes, panels, strict=True):
        ax.set_ylabel(ylabel)
        if size:
            ax.set_xlabel(axis_label(size))
        else:
            ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=7)
            ax.set_xlim(-0.6, len(labels) - 0.4)
        if size in LOG2_SIZES:
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(mticker.ScalarFormatter())
            ax.xaxis.set_minor_locator(mticker.NullLocator())
        if size:
            ax.set_xticks(np.union1d(summary[size].to_numpy(float), points["size"].to_numpy(float)))
        values = np.concatenate([line.get_ydata() for line in ax.get_lines()] or [[]])
        if (column != "score" or metric == "mse") and (np.asarray(values, float) > 0).any():
            ax.set_yscale("log")
            plain = mticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5))
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
        ax.grid(alpha=0.3)
    if metric == "acc":
        axes[0].set_ylim(-0.02, 1.02)
    draw_chance(axes[0], summary, size, labels)
    if not size and len(points):
        axes[0].plot([], [], color="grey", marker="o", ls="", label="ours")
        axes[0].plot([], [], color="grey", marker="D", mfc="none", ls="", label="published")
    if axes[0].get_legend_handles_labels()[1]:
        axes[0].legend(fontsize=7, loc="best")


def draw_chance(ax, summary: pd.DataFrame, size: str | None, labels: list[str]) -> None:
    """The chance level (``chance``: 1 / C), a dotted grey line against size, or across the
    categories."""
    if "chance" not in summary or summary["chance"].isna().all():
        return
    chance = summary.dropna(subset=["chance"])
    if size:
        level = chance.groupby(size)["chance"].mean().sort_index()
        x, y = level.index.to_numpy(float), level.to_numpy(float)
        if np.allclose(y, y[0]):
            ax.axhline(y[0], label=f"chance = {y[0]:.2g}", **CHANCE)
        else:
            one_over_n = size == "size/num_keys" and _is_one_over_n(level)
            ax.plot(x, y, label="chance (1/N)" if one_over_n else "chance", **CHANCE)
    else:
        level = float(chance["chance"].mean())
        ax.axhline(level, label=f"chance = {level:.2g}", **CHANCE)


def _is_one_over_n(level: pd.Series) -> bool:
    return bool(np.allclose(level.to_numpy(float), 1.0 / level.index.to_numpy(float)))
