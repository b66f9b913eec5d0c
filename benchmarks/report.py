"""Tables and figures of one experiment, built from the results store.

    python -m benchmarks.report EXPERIMENT [--results-dir results] [--override KEY=VALUE ...]

EXPERIMENT is the store's experiment name (`results/runs/<EXPERIMENT>/`), which is the file stem
of its sweep, `conf/experiment/<EXPERIMENT>.yaml`: e.g. `nar_capacity`, or `nar_capacity_quick`
for its laptop-sized version. The report

- reads every finished run's result.json (no W&B, no network);
- groups runs by (task, model, variant, problem size), where the variant is whatever else varies
  within a model's runs at one size (e.g. d_k, width, k-hop), and aggregates over seeds: mean,
  standard deviation with ddof = 1 (the sample std; undefined for one seed), number of runs,
  parameters;
- adds, for NAR-style classification over `num_keys`, the capacity per model and variant: the
  largest N recalled at mean accuracy >= 0.9 (interpolated in log N) and the peak stored bits;
- writes `<results-dir>/tables/EXPERIMENT.{md,csv,tex}` (CSV: one row per group, long format;
  Markdown and LaTeX: one row per model and variant, one column per size) and
  `<results-dir>/figures/EXPERIMENT.png`: the selected metric against problem size with +-1 std
  bands and, where benchmarks/anchors.yaml has them, the published numbers beside ours; plus,
  where the runs carry them, the sensitivity ratio and the mean Jacobian norm;
- adds, where the runs record the state floats per node (the xLSTM family), the memory-capacity
  study's table and figure, `EXPERIMENT_memory.{md,csv,tex,png}`: peak stored bits per state
  float (benchmarks/studies/memory_capacity.py);
- compares the store with the sweep `experiment=EXPERIMENT`, reports the runs of that sweep, says
  which are missing (a partial sweep reports what it has) and leaves out stored runs made with
  other settings.
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.engine.config import CONF_DIR as CONF  # noqa: E402
from benchmarks.engine.store import config_hash, load_results  # noqa: E402
from benchmarks.studies import memory_capacity  # noqa: E402

DDOF = 1  # sample standard deviation over seeds
SEED_KEYS = ("config.seed", "config.data_seed", "config.model_seed")
# Short names for config keys in variant labels; keys not listed use their last path component.
SHORT = {
    "memory_dim": "d_k",
    "value_dim": "d_v",
    "dim": "d",
    "hidden_dim": "D",
    "heads": "H",
    "num_layers": "L",
}
LABEL_ORDER = ("memory_dim", "value_dim", "hidden_dim", "heads", "dim", "num_layers", "khop")
METRIC_NAMES = {
    "acc": "accuracy",
    "mse": "MSE",
    "log10_mse": "log10 MSE",
    "ap": "average precision",
    "mae": "MAE",
}
HIGHER_IS_BETTER = ("acc", "ap")
# Sizes that are a hop distance: the Jacobian panel shows the inputs that far from the readout.
FARTHEST_HOP = {"size/depth": "r (the leaves)", "size/distance": "the source"}


# ------------------------------------------------------------------------------------------------
# Loading


def load_runs(results_dir: str | Path, experiment: str) -> pd.DataFrame:
    """One row per finished run: result.json's flat keys plus the identity config flattened to
    `config.<path>` columns, and a `variant` label (see :func:`add_variants`)."""
    results = load_results(results_dir, experiment)
    if not results:
        return pd.DataFrame()
    return add_variants(flatten_results(results))


# Top-level options that change the graph a model sees, not the model: each labels its runs' rows.
REMEDY_COLUMNS = ("config.virtual_node", "config.rewiring")


def flatten_results(results: list[dict]) -> pd.DataFrame:
    """Results as one row each, nested keys as `config.<path>` columns (pandas `json_normalize`),
    with the graph remedies as one column each: `config.virtual_node` (True or missing) and
    `config.rewiring`, the rewiring transform's class name ("FoSR", "SDRF") or missing (NaN, so
    that a run without a remedy gets no label word for it)."""
    runs = pd.json_normalize(results, sep=".")
    rewiring = runs.get("config.rewiring._target_")
    if rewiring is not None:
        runs["config.rewiring"] = rewiring.str.rsplit(".", n=1).str[-1]
    for column in REMEDY_COLUMNS:
        if column in runs:
            runs[column] = runs[column].where(runs[column].notna(), np.nan)
    return runs


def _config_columns(runs: pd.DataFrame) -> list[str]:
    """Config columns that may define a variant: model, task and train settings, minus seeds,
    the problem size itself and the model's class."""
    sizes = {f"config.task.{c.removeprefix('size/')}" for c in runs if c.startswith("size/")}
    return [
        c
        for c in runs
        if (c.startswith(("config.model.", "config.task.", "config.train.")) or c in REMEDY_COLUMNS)
        and c not in sizes
        and c not in SEED_KEYS
        and not c.endswith("._target_")
    ]


def _label_key(column: str) -> tuple[int, str]:
    name = column.rsplit(".", 1)[-1]
    return (LABEL_ORDER.index(name) if name in LABEL_ORDER else len(LABEL_ORDER), column)


def _format_value(name: str, value) -> str:
    if isinstance(value, bool | np.bool_):
        return f"{name}={'on' if value else 'off'}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{SHORT.get(name, name)}={value}"


def varying_columns(group: pd.DataFrame, columns: list[str]) -> set[str]:
    """The columns with more than one value in `group` (lists and None compare as text)."""
    return {c for c in columns if group[c].astype(str).nunique(dropna=False) > 1}


def label_words(row: pd.Series, columns: list[str]) -> list[str]:
    """`key=value` (short names, :data:`SHORT`) per column of `row` that has a value."""
    return [
        _format_value(c.rsplit(".", 1)[-1], row[c])
        for c in columns
        if not (np.isscalar(row[c]) and pd.isna(row[c]))
    ]


def add_variants(runs: pd.DataFrame) -> pd.DataFrame:
    """Add `variant`: the values of the config keys that vary between runs of one (task, model)
    at one problem size, e.g. "d_k=8 d=16 khop=off" for one gLSTM setting; and `setting`: its
    task keys alone (e.g. "topology=ring"), which the figure draws in panels of their own. A
    key that only changes with the size (Tree-NeighborsMatch's batch size per depth) is no
    variant. A key that varies for one model labels every model that has it (so a single GCN
    width still shows "d=256"); empty when nothing varies."""
    runs = runs.copy()
    columns = _config_columns(runs)
    size = size_column(runs)
    varying = set()
    for _, group in runs.groupby(["task", "model"] + ([size] if size else []), sort=False):
        varying |= varying_columns(group, columns)
    varying = sorted(varying, key=_label_key)

    def label(row, columns) -> str:
        return " ".join(label_words(row, columns))

    task_keys = [c for c in varying if c.startswith("config.task.")]
    runs["variant"] = runs.apply(label, axis=1, columns=varying) if varying else ""
    runs["setting"] = runs.apply(label, axis=1, columns=task_keys) if task_keys else ""
    return runs


def natural_key(text: str) -> tuple:
    """Sort key that orders "d_k=8" before "d_k=16"."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text)))


def size_column(runs: pd.DataFrame) -> str | None:
    """The problem-size column (`size/num_keys`, `size/depth`, `size/distance`, ...)."""
    sizes = [c for c in runs if c.startswith("size/")]
    return sizes[0] if sizes else None


# ------------------------------------------------------------------------------------------------
# Aggregation


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (task, model, variant, size) with the selected metric's mean, std
    (ddof = 1), number of runs, parameter count, epochs, wall time and, where present, the mean
    sensitivity figures."""
    size = size_column(runs)
    keys = ["task", "model", "variant"] + ([size] if size else [])
    if size in FARTHEST_HOP:  # the leaves of a depth-r tree, a transfer task's source
        hops = {
            int(c.removeprefix("sens/hop_")): c for c in runs if re.fullmatch(r"sens/hop_\d+", c)
        }
        if hops:  # each run's farthest measured hop from its readout node

            def farthest(row) -> float:
                reached = [h for h, c in hops.items() if pd.notna(row[c])]
                return row[hops[max(reached)]] if reached else np.nan

            runs = runs.assign(**{"sens/farthest": runs.apply(farthest, axis=1)})
    extra = [
        c
        for c in (
            "sens/ratio",
            "sens/farthest",
            "sens/range",
            "sens/selected",
            "sens/background",
            "sens/hop_1",
            "cap/bits",
            "train/acc",
            "val/acc",
        )
        if c in runs
    ]
    grouped = runs.groupby(keys, sort=True, dropna=False)
    table = grouped.agg(
        setting=("setting", "first"),
        metric=("metric", "first"),
        score_key=("score_key", "first"),
        mean=("score", "mean"),
        std=("score", lambda s: s.std(ddof=DDOF)),
        n=("score", "size"),
        params=("params", "median"),
        epochs=("epochs", "mean"),
        wall_time_s=("wall_time_s", "mean"),
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


def capacity(runs: pd.DataFrame) -> pd.DataFrame | None:
    """Capacity per (task, model, variant) for classification sweeps over `num_keys`: the
    largest N at mean accuracy >= 0.9 and the peak stored bits (benchmarks.metrics.capacity).
    None when the experiment is not such a sweep."""
    if "size/num_keys" not in runs or not (runs["metric"] == "acc").all():
        return None
    from benchmarks.metrics.capacity import capacity_table

    return capacity_table(runs, by=["task", "model", "variant"], size="size/num_keys")


# ------------------------------------------------------------------------------------------------
# Tables


def _cell(mean: float, std: float, n: int, metric: str) -> str:
    digits = "{:.3g}" if metric == "mse" else "{:.3f}"
    text = digits.format(mean)
    if n > 1 and not math.isnan(std):
        text += " ± " + digits.format(std)
    return f"{text} ({n})"


def wide_table(summary: pd.DataFrame, cap: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (task, model, variant); a column per problem size holding
    "mean ± std (n)"; then parameters and, for NAR, capacity."""
    size = size_column(summary)
    rows = []
    for (task, model, variant), group in summary.groupby(["task", "model", "variant"], sort=True):
        row = {"task": task, "model": model, "variant": variant}
        for _, r in group.iterrows():
            key = f"{size.removeprefix('size/')}={r[size]:g}" if size else r["score_key"]
            row[key] = _cell(r["mean"], r["std"], int(r["n"]), r["metric"])
        low, high = group["params"].min(), group["params"].max()
        row["params"] = f"{low:,}" if low == high else f"{low:,}–{high:,}"
        if cap is not None and (task, model, variant) in cap.index:
            c = cap.loc[(task, model, variant)]
            row["capacity N (acc ≥ 0.9)"] = (
                "< min N" if math.isnan(c.capacity_n) else f"{c.capacity_n:.1f}"
            )
            row["peak bits"] = f"{c.peak_bits:.0f}"
        rows.append(row)
    rows.sort(key=lambda r: (r["task"], r["model"], natural_key(r["variant"])))
    table = pd.DataFrame(rows)
    if size:  # sizes in numeric order, whatever order they were first seen in
        size_cols = sorted(
            (c for c in table if c.startswith(size.removeprefix("size/") + "=")),
            key=lambda c: float(c.split("=", 1)[1]),
        )
        fixed = ["task", "model", "variant"]
        table = table[fixed + size_cols + [c for c in table if c not in fixed + size_cols]]
    return table.fillna("–")


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table (pandas' to_markdown needs the optional tabulate package)."""

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    rows = [line(table.columns), line(["---"] * len(table.columns))]
    rows += [line(r) for r in table.itertuples(index=False)]
    return "\n".join(rows)


def caption(experiment: str, summary: pd.DataFrame) -> str:
    metric = summary["metric"].iloc[0]
    key = summary["score_key"].iloc[0]
    return (
        f"{experiment}: {key} ({METRIC_NAMES.get(metric, metric)}, "
        f"{'higher' if metric in HIGHER_IS_BETTER else 'lower'} is better) per problem size, "
        f"mean ± std over seeds (std with ddof = {DDOF}; none shown for one run), "
        "(n) runs; params: trainable parameters."
    )


def to_latex(table: pd.DataFrame, text: str, label: str) -> str:
    """A LaTeX table (booktabs rules) with the caption `text`; plain-ASCII LaTeX for the symbols
    the cells use."""
    tex = table.to_latex(index=False, caption=text, label=f"tab:{label}", escape=True)
    return tex.replace("±", r"$\pm$").replace("≥", r"$\geq$").replace("–", "--")


# ------------------------------------------------------------------------------------------------
# Figure


def _series(summary: pd.DataFrame):
    """(label, rows sorted by size) per (model, variant); the label leaves out the setting,
    which titles the panel row."""
    size = size_column(summary)
    groups = summary.groupby(["model", "variant"], sort=False)
    for model, variant in sorted(groups.groups, key=lambda k: (k[0], natural_key(k[1]))):
        rows = groups.get_group((model, variant))
        setting = set(str(rows["setting"].iloc[0]).split())
        label = " ".join([model, *(t for t in variant.split() if t not in setting)])
        yield label, rows.sort_values(size) if size else rows


def published(experiment: str, summary: pd.DataFrame) -> pd.DataFrame:
    """The published numbers (benchmarks/anchors.yaml) that belong in `experiment`'s figure: the
    anchors of the experiment for a task of `summary`, its score key and size key. Columns:
    model, label, setting, size, value, std (see benchmarks.verify.published_points)."""
    from benchmarks.verify import published_points

    columns = ["model", "label", "setting", "size", "value", "std"]
    points = published_points(experiment)
    if points.empty:
        return pd.DataFrame(columns=columns)
    size = size_column(summary)
    keep = (
        points["task"].isin(summary["task"])
        & (points["score_key"] == summary["score_key"].iloc[0])
        & (points["size_key"] == size if size else points["size_key"].isna())
    )
    return points.loc[keep, columns].reset_index(drop=True)


def figure(summary: pd.DataFrame, experiment: str, path: Path) -> None:
    """Metric against problem size with ±1 std bands, per model and variant, beside the
    published numbers of `experiment` (:func:`published`); for runs with sensitivity figures
    also the selected/background ratio and the mean Jacobian norm of the key nodes (or of hop 1)
    against size. One row of panels per task setting (e.g. per topology); an experiment without
    a problem size shows each model and variant as one point (mean ± std) per setting."""
    size = size_column(summary)
    metric, key = summary["metric"].iloc[0], summary["score_key"].iloc[0]
    panels = [("score", f"{key} ({METRIC_NAMES.get(metric, metric)})")]
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
    summary = summary.assign(jacobian=jac) if jac is not None else summary
    points = published(experiment, summary)
    settings = sorted(summary["setting"].unique(), key=natural_key)
    width = 5.2 if size else max(5.2, 0.45 * summary.groupby(["model", "variant"]).ngroups + 2)
    shape = (len(settings), len(panels)) if len(panels) > 1 else (1, len(settings))
    fig, axes = plt.subplots(*shape, figsize=(width * shape[1], 4.0 * shape[0]), squeeze=False)
    axes = axes if len(panels) > 1 else axes.T  # one row of axes (its panels) per setting
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    models = sorted(set(summary["model"]) | set(points["model"]))
    model_colour = {m: colours[i % len(colours)] for i, m in enumerate(models)}
    for row, setting in zip(axes, settings, strict=True):
        _draw_setting(
            row,
            panels,
            summary[summary["setting"] == setting],
            points[points["setting"] == setting],
            size,
            metric,
            model_colour,
        )
        if setting:
            row[0].set_title(setting, fontsize=9)
    fig.suptitle(f"{experiment}: mean ± std over seeds (ddof = {DDOF})", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _draw_setting(axes, panels, summary, points, size, metric, model_colour) -> None:
    """One row of panels: every series of one setting, and its published points. Without a
    size, x is categorical: one position per series label, ours as dots, published as
    diamonds."""
    series = list(_series(summary))
    labels = sorted({label for label, _ in series} | set(points["label"]), key=natural_key)

    def x_of(label: str, rows: pd.DataFrame, column: str) -> np.ndarray:
        if size:
            return rows[column].to_numpy(float)
        return np.full(len(rows), float(labels.index(label)))

    for label, rows in series:
        colour = model_colour[rows["model"].iloc[0]]
        style = dict(color=colour, marker="o", ms=3.5, lw=1.5)
        if "khop=on" in label:
            style["ls"] = "--"
        x = x_of(label, rows, size)
        for ax, (column, _) in zip(axes, panels, strict=True):
            y = rows["mean" if column == "score" else column].to_numpy(float)
            if column == "score" and not size:
                std = rows["std"].to_numpy(float)
                ax.errorbar(x, y, yerr=std, color=colour, marker="o", ms=5, ls="", capsize=3)
            elif size:
                ax.plot(x, y, label=label, **style)
            else:
                ax.plot(x, y, color=colour, marker="o", ms=5, ls="")
            if column == "score" and size:
                std = rows["std"].fillna(0).to_numpy(float)
                ax.fill_between(x, y - std, y + std, color=colour, alpha=0.15, lw=0)
    for label, rows in points.groupby("label", sort=False):
        axes[0].errorbar(
            x_of(label, rows, "size"),
            rows["value"].to_numpy(float),
            yerr=rows["std"].to_numpy(float) if rows["std"].notna().any() else None,
            color=model_colour[rows["model"].iloc[0]],
            marker="D",
            mfc="none",
            ms=6,
            mew=1.3,
            ls=":" if size else "",
            lw=1,
            capsize=2,
            label=f"{label} published" if size else None,
        )
    for ax, (column, ylabel) in zip(axes, panels, strict=True):
        ax.set_ylabel(ylabel)
        if size:
            ax.set_xlabel(size.removeprefix("size/"))
        else:
            ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=7)
            ax.set_xlim(-0.6, len(labels) - 0.4)
        if size in ("size/num_keys", "size/distance"):
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        if size:
            ax.set_xticks(np.union1d(summary[size].to_numpy(float), points["size"].to_numpy(float)))
        values = np.concatenate([line.get_ydata() for line in ax.get_lines()] or [[]])
        if (column != "score" or metric == "mse") and (np.asarray(values, float) > 0).any():
            ax.set_yscale("log")
            plain = matplotlib.ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5))
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
        ax.grid(alpha=0.3)
    if metric == "acc":
        axes[0].set_ylim(-0.02, 1.02)
        if size == "size/num_keys" and "cap/num_classes" not in summary:  # NAR: C = N classes
            n = np.sort(summary[size].unique()).astype(float)
            axes[0].plot(n, 1 / n, color="grey", ls=":", lw=1, label="chance (1/N)")
    if size:
        axes[0].legend(fontsize=7, loc="best")
    elif len(points):
        axes[0].plot([], [], color="grey", marker="o", ls="", label="ours")
        axes[0].plot([], [], color="grey", marker="D", mfc="none", ls="", label="published")
        axes[0].legend(fontsize=7, loc="best")


# ------------------------------------------------------------------------------------------------
# The experiment's sweep


def sweep_source(experiment: str, conf_dir: Path = CONF) -> Path | None:
    """The experiment file of a store name: `conf/experiment/<experiment>.yaml` (an experiment's
    store name is its file stem, `<name>_quick` included), or None when there is none."""
    path = Path(conf_dir) / "experiment" / f"{experiment}.yaml"
    return path if path.is_file() else None


def sweep_jobs(
    experiment: str, overrides: list[str] = (), conf_dir: Path = CONF
) -> list[list[str]] | str:
    """The jobs of `experiment=<experiment>`'s sweep, each as its list of overrides, expanded as
    Hydra's basic sweeper does (`hydra.sweeper.params`, then the command line's `overrides`,
    which may sweep too, e.g. "task.num_keys=4,8"; every job lists them all); or a line saying
    why they cannot be listed. Identical jobs are listed once."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if sweep_source(experiment, conf_dir) is None:
        return f"no conf/experiment file gives experiment_name={experiment}"
    parser = OverridesParser.create()
    fixed = [o for o in overrides if not parser.parse_override(o).is_sweep_override()]
    with initialize_config_dir(str(Path(conf_dir).resolve()), version_base="1.3"):
        cfg = compose("config", [f"experiment={experiment}", *fixed], return_hydra_config=True)
    if cfg.experiment_name != experiment:
        return (
            f"conf/experiment/{experiment}.yaml sets experiment_name={cfg.experiment_name} "
            "(it must equal the file stem)"
        )
    sweeper = cfg.hydra.sweeper
    if not sweeper._target_.endswith("BasicSweeper"):
        return f"experiment={experiment} is a sampled sweep ({sweeper._target_.rsplit('.', 1)[-1]})"
    params = [f"{k}={v}" for k, v in (sweeper.params or {}).items()] + list(overrides)
    jobs = BasicSweeper.split_arguments(parser.parse_overrides(params), None)[0]
    return [list(job) for job in dict.fromkeys(tuple(job) for job in jobs)]


def job_hashes(
    experiment: str,
    jobs: list[list[str]],
    conf_dir: Path = CONF,
    compose_each: bool = False,
) -> list[str]:
    """The config hash of each job of `experiment`'s sweep, as run.py would store it.

    Composing a config costs tens of milliseconds, so a sweep of hundreds of jobs is not composed
    job by job. As in Hydra's own loader, config-group overrides (`model=gcn`) choose the files
    that are merged, and plain value overrides (`task.num_keys=8`, `+key=v`, `~key`) are applied
    to the merged config afterwards, in order. So each distinct set of group overrides is
    composed once, and each job's value overrides are applied to it with Hydra's own function:
    on a fresh copy, or, when they only set scalars at the keys the previous job of that group
    set (a basic sweep's jobs do), on the previous job's config, since they overwrite every value
    it changed. The `hydra.*` values are skipped: compose drops that node, so they cannot change
    a hash. `compose_each` composes every job in full instead (the reference to match).
    """
    from hydra import compose, initialize_config_dir
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    fixed = [f"experiment={experiment}"]  # a job lists the command line's overrides itself
    with initialize_config_dir(str(Path(conf_dir).resolve()), version_base="1.3"):
        if compose_each:
            return [config_hash(compose("config", [*fixed, *job])) for job in jobs]
        repo = GlobalHydra.instance().config_loader().repository
        parsed = {}  # override line -> (Override, is a group override)

        def parse(line: str):
            if line not in parsed:
                override = parser.parse_overrides([line])[0]
                group = repo.group_exists(override.key_or_group)  # Hydra's rule
                parsed[line] = override, group and not isinstance(override.value(), dict)
            return parsed[line]

        merged, last, hashes = {}, {}, []
        for job in jobs:
            lines = [*fixed, *job]
            groups = tuple(line for line in lines if parse(line)[1])
            values = [parse(line)[0] for line in lines if not parse(line)[1]]
            values = [o for o in values if not o.is_hydra_override()]
            scalar_sets = all(
                not (o.is_add() or o.is_force_add() or o.is_delete())
                and not isinstance(o.value(), dict | list)
                for o in values
            )
            keys = tuple(o.key_or_group for o in values) if scalar_sets else None
            if groups not in merged:
                merged[groups] = compose("config", list(groups))
            if keys is not None and groups in last and last[groups][1] == keys:
                cfg = last[groups][0]
            else:
                cfg = copy.deepcopy(merged[groups])
            ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
            if keys is not None:
                last[groups] = cfg, keys
            hashes.append(config_hash(cfg))
        return hashes


def expected_runs(
    experiment: str, overrides: list[str] = (), conf_dir: Path = CONF
) -> dict[str, list[str]] | str:
    """{config hash: the job's sweep overrides} for every job of the experiment's sweep
    (:func:`sweep_jobs`), or a line saying why it cannot be listed."""
    jobs = sweep_jobs(experiment, overrides, conf_dir)
    if isinstance(jobs, str):
        return jobs
    return dict(zip(job_hashes(experiment, jobs, conf_dir), jobs, strict=True))


def select_runs(
    experiment: str,
    results_dir: str | Path = "results",
    overrides: list[str] = (),
    check_sweep: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """The finished runs of `experiment` that belong to its sweep (all of them with
    `check_sweep=False`), and notes on the sweep: how many of its runs are done, which are
    missing, how many stored runs were left out. Jobs are hashed only when the store has runs
    (an empty store is missing every job)."""
    runs = load_runs(results_dir, experiment)
    if not check_sweep:
        return runs, []
    jobs = sweep_jobs(experiment, list(overrides))
    if isinstance(jobs, str):
        return runs, [f"sweep not checked: {jobs}"]
    stored = set(runs["config_hash"]) if len(runs) else set()
    if stored:
        expected = dict(zip(job_hashes(experiment, jobs), jobs, strict=True))
        done = stored & set(expected)
        missing = [job for h, job in expected.items() if h not in done]
        total = len(expected)
    else:  # an empty store misses every job: no hash needed
        done, missing, total = set(), jobs, len(jobs)
    notes = [f"sweep: {total - len(missing)} of {total} runs done"]
    if missing:
        notes.append(f"missing {len(missing)} runs:")
        notes += ["  " + " ".join(job) for job in missing[:20]]
        if len(missing) > 20:
            notes.append(f"  ... and {len(missing) - 20} more")
    extra = len(stored - done)
    if extra:
        notes.append(
            f"{extra} stored runs are not in this sweep and are left out (run with other "
            "overrides? pass them with --override, or --no-check to report every run)"
        )
        runs = runs[runs["config_hash"].isin(done)]
        runs = add_variants(runs) if len(runs) else pd.DataFrame()
    return runs, notes


# ------------------------------------------------------------------------------------------------
# The command


def report(
    experiment: str,
    results_dir: str | Path = "results",
    overrides: list[str] = (),
    check_sweep: bool = True,
) -> dict:
    """Build the tables and the figure of `experiment`; return the pieces (for tests) and print
    the Markdown table with what is missing from the sweep."""
    results_dir = Path(results_dir)
    runs, notes = select_runs(experiment, results_dir, overrides, check_sweep)
    if runs.empty:
        print(
            "\n".join(
                [f"{experiment}: no finished runs in {results_dir / 'runs' / experiment}"] + notes
            )
        )
        return {"runs": runs, "notes": notes}

    summary = summarise(runs)
    cap = capacity(runs)
    table = wide_table(summary, cap)
    text = caption(experiment, summary)
    tables, figures = results_dir / "tables", results_dir / "figures"
    tables.mkdir(parents=True, exist_ok=True)
    markdown = f"{to_markdown(table)}\n\n{text}\n"
    (tables / f"{experiment}.md").write_text(markdown)
    csv = summary.merge(cap.reset_index(), how="left") if cap is not None else summary
    csv.to_csv(tables / f"{experiment}.csv", index=False)
    (tables / f"{experiment}.tex").write_text(to_latex(table, text, experiment))
    figure(summary, experiment, figures / f"{experiment}.png")
    out = {"runs": runs, "summary": summary, "capacity": cap, "table": table, "notes": notes}
    if cap is not None and memory_capacity.has_state(runs):
        out["memory"], memory_markdown = memory_report(experiment, runs, cap, tables, figures)
        markdown += f"\n{memory_markdown}"

    print(markdown)
    print("\n".join(notes))
    print(f"wrote {tables / experiment}.{{md,csv,tex}} and {figures / experiment}.png")
    return out


def memory_report(experiment: str, runs, cap, tables: Path, figures: Path):
    """The memory-capacity study's table and figure (benchmarks/studies/memory_capacity.py):
    `<experiment>_memory.{md,csv,tex}` and `<experiment>_memory.png`. Returns the table and its
    Markdown."""
    name = f"{experiment}_memory"
    table = memory_capacity.memory_table(runs, cap)
    shown = memory_capacity.to_display(table)
    text = (
        f"{experiment}: stored bits per state float (the floats per node carried from layer to "
        "layer); peak bits = max over N of N I(acc); s / epoch: training and evaluation time."
    )
    markdown = f"{to_markdown(shown)}\n\n{text}\n"
    (tables / f"{name}.md").write_text(markdown)
    table.to_csv(tables / f"{name}.csv", index=False)
    (tables / f"{name}.tex").write_text(to_latex(shown, text, name))
    memory_capacity.memory_figure(table, experiment, figures / f"{name}.png")
    return table, markdown


def store_parser(prog: str, doc: str, example: str) -> argparse.ArgumentParser:
    """The command line shared by report and verify: EXPERIMENT, --results-dir, --override and
    --no-check."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=doc.split("\n")[0])
    parser.add_argument("experiment", help=f"experiment name in the store, e.g. {example}")
    parser.add_argument(
        "--results-dir", default="results", help="the store's root (default: results)"
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override the sweep was run with (repeatable), to find its runs",
    )
    parser.add_argument(
        "--no-check", action="store_true", help="use every stored run, not only the sweep's"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = store_parser("benchmarks.report", __doc__, "nar_capacity_quick").parse_args(argv)
    out = report(args.experiment, args.results_dir, args.override, not args.no_check)
    return 0 if "summary" in out else 1


if __name__ == "__main__":
    sys.exit(main())
