"""The leaderboard: every model on every task instance of the experiment stores, honestly ranked.

Scope: by default the stores of experiments (``<results>/runs/<name>/`` with a
``conf/experiment/<name>.yaml``), not ``default`` (runs made without an experiment) nor the
stores of Optuna searches (``conf/search/<name>.yaml`` or ``<results>/search/<name>.db``);
named stores are read whatever they are. A run stored by several experiments (same config
hash) counts once.

- **Columns: task instances** (task, the task settings that vary between its runs, problem
  size; the score key where a task reports several). ``root`` (a data path) is no setting.
- **Rows: models**: name, config choice, and every other setting that varies between a model's
  runs in one column (model, training, remedies, budget, ...); only the seeds (``seed``,
  ``data_seed``, ``model_seed``) are pooled. So a learning-rate sweep gives one row per
  learning rate. Numbers in labels are rounded to the fewest significant digits (at least 3)
  that keep distinct values distinct.
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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.analysis import statistics as st
from benchmarks.analysis.runs import (
    LABEL_ORDER,
    REMEDY_COLUMNS,
    SHORT,
    flatten_results,
    natural_key,
    varying_columns,
)
from benchmarks.analysis.summary import DDOF
from benchmarks.analysis.tables import MISSING, metric_name, to_markdown
from benchmarks.engine.config import CONF_DIR
from benchmarks.engine.results import read_results

# Label words of task settings: short names, the settings shown by their value alone, and task
# keys that do not change the task (a data path).
SIZE_NAMES = {"num_keys": "N", "distance": "d"}
SETTING_NAMES = {"num_train": "train", "num_val": "val", "num_test": "test"}
BARE_SETTINGS = ("topology", "target", "name")
NOT_SETTINGS = ("root",)
SEEDS = ("seed", "data_seed", "model_seed")
NOT_ROW_SETTINGS = tuple(f"config.{k}" for k in SEEDS)
MIN_LABEL_DIGITS = 3
SIGNIFICANT, TOO_FEW = "*", "?"


# ------------------------------------------------------------------------------------------------
# Which stores


def search_stores(results_dir: str | Path, conf_dir: str | Path = CONF_DIR) -> set[str]:
    """Store names of Optuna searches: the stems of ``conf/search/*.yaml`` and of the studies
    ``<results>/search/*.db`` (a study named with ``--study``)."""
    names = {p.stem for p in (Path(conf_dir) / "search").glob("*.yaml")}
    return names | {p.stem for p in (Path(results_dir) / "search").glob("*.db")}


def default_scope(
    results_dir: str | Path, conf_dir: str | Path = CONF_DIR
) -> tuple[list[str], list[str]]:
    """(experiment stores, the other stores): a store is an experiment's when
    ``conf/experiment/<name>.yaml`` exists and it is no search's."""
    root = Path(results_dir) / "runs"
    stores = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    searches = search_stores(results_dir, conf_dir)
    experiments = Path(conf_dir) / "experiment"
    chosen = [s for s in stores if (experiments / f"{s}.yaml").is_file() and s not in searches]
    return chosen, [s for s in stores if s not in chosen]


def load_store(results_dir: str | Path, experiments: list[str]) -> pd.DataFrame:
    """One row per finished run of the named stores (flattened :class:`RunResult`), each config
    hash once."""
    results = [r.to_dict() for name in experiments for r in read_results(results_dir, name)]
    if not results:
        return pd.DataFrame()
    runs = flatten_results(results).drop_duplicates("config_hash")
    return runs.reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# Labels


def label_digits(values) -> int:
    """The fewest significant digits (at least 3) at which distinct floats stay distinct."""
    values = {v for v in values if isinstance(v, float) and math.isfinite(v)}
    for digits in range(MIN_LABEL_DIGITS, 18):
        if len({f"{v:.{digits}g}" for v in values}) == len(values):
            return digits
    return 17


def word(name: str, value, digits: int = MIN_LABEL_DIGITS, names: dict | None = None) -> str:
    """``key=value``: short key names, on/off for booleans, floats to `digits` significant
    digits."""
    key = (names or {}).get(name, SHORT.get(name, name))
    if isinstance(value, bool | np.bool_):
        return f"{key}={'on' if value else 'off'}"
    if isinstance(value, float | np.floating):
        value = f"{value:.{digits}g}"
    return f"{key}={value}"


def _missing(value) -> bool:
    return bool(np.isscalar(value) and pd.isna(value))


def _words(runs: pd.DataFrame, columns: list[str], names: dict | None = None) -> pd.Series:
    """Per run, the label words of `columns` that it has."""
    digits = {c: label_digits(runs[c]) for c in columns}
    bare = [c for c in columns if c.rsplit(".", 1)[-1] in BARE_SETTINGS]
    return pd.Series(
        [
            " ".join(
                str(row[c]) if c in bare else word(c.rsplit(".", 1)[-1], row[c], digits[c], names)
                for c in columns
                if not _missing(row[c])
            )
            for _, row in runs.iterrows()
        ],
        index=runs.index,
        dtype=object,
    )


def _setting_order(column: str) -> tuple[int, str]:
    name = column.rsplit(".", 1)[-1]
    order = [*BARE_SETTINGS, *SETTING_NAMES]
    return (order.index(name) if name in order else len(order), name)


def _label_order(column: str) -> tuple[int, str]:
    name = column.rsplit(".", 1)[-1]
    return (LABEL_ORDER.index(name) if name in LABEL_ORDER else len(LABEL_ORDER), column)


def add_task_instances(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``column`` (the task instance's label, e.g. "graph_transfer ring d=5"),
    ``size_key`` and ``size`` (NaN for tasks without one) and ``setting`` (the varying task
    settings' words)."""
    runs = runs.copy()
    sizes = [c for c in runs if c.startswith("size/")]
    if sizes:
        runs["size_key"] = runs[sizes].notna().idxmax(axis=1).where(runs[sizes].notna().any(axis=1))
        runs["size"] = runs[sizes].max(axis=1)
    else:
        runs["size_key"], runs["size"] = np.nan, np.nan
    runs["setting"] = ""
    task_columns = [
        c
        for c in runs
        if c.startswith("config.task.") and c.rsplit(".", 1)[-1] not in ("_target_", *NOT_SETTINGS)
    ]
    for _, group in runs.groupby("task", sort=False):
        size_config = {f"config.task.{k.removeprefix('size/')}" for k in group["size_key"].dropna()}
        keys = sorted(varying_columns(group, task_columns) - size_config, key=_setting_order)
        runs.loc[group.index, "setting"] = _words(group, keys, SETTING_NAMES)
    several_keys = runs.groupby("task")["score_key"].transform("nunique") > 1

    def label(row) -> str:
        words = [row["task"], row["setting"]]
        if pd.notna(row["size_key"]):
            name = row["size_key"].removeprefix("size/")
            words.append(f"{SIZE_NAMES.get(name, name)}={row['size']:g}")
        return " ".join(w for w in words if w)

    runs["column"] = runs.apply(label, axis=1)
    runs.loc[several_keys, "column"] += " " + runs.loc[several_keys, "score_key"]
    return runs


def row_settings(runs: pd.DataFrame) -> list[str]:
    """Config columns that may split a row: all but the task's, the seeds and class paths; the
    remedies by name (the rewiring's class), its options under ``config.rewiring.``."""
    return [
        c
        for c in runs
        if c.startswith("config.")
        and not c.startswith("config.task.")
        and c not in NOT_ROW_SETTINGS
        and not c.endswith("._target_")
    ]


def add_model_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``model_name`` ("name (config choice)", the name alone without one) and ``row``: the
    name plus every setting (:func:`row_settings`) that takes more than one value among one
    model's runs in one column; such a setting labels every row of that model. A rewiring
    option counts where it varies among runs with the same rewiring."""
    runs = runs.copy()
    config = runs["model_config"] if "model_config" in runs else pd.Series(np.nan, runs.index)
    runs["model_name"] = runs["model"].where(
        config.isna(), runs["model"] + " (" + config.astype(str) + ")"
    )
    columns = row_settings(runs)
    options = [c for c in columns if c.startswith("config.rewiring.")]
    plain = [c for c in columns if c not in options]
    remedy = "config.rewiring" if "config.rewiring" in runs else None
    runs["row"] = runs["model_name"]
    for _, model_runs in runs.groupby("model_name", sort=False):
        keys = set()
        for _, group in model_runs.groupby("column", sort=False):
            keys |= varying_columns(group, plain)
            if options and remedy:
                for _, same in group.groupby(remedy, dropna=False, sort=False):
                    keys |= varying_columns(same, options)
        keys = sorted(keys, key=_label_order)
        keys = [c for c in keys if c in REMEDY_COLUMNS] + [
            c for c in keys if c not in REMEDY_COLUMNS
        ]
        if keys:
            words = _words(model_runs, keys)
            runs.loc[model_runs.index, "row"] = (model_runs["model_name"] + " " + words).str.strip()
    return runs


def label_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`add_task_instances` then :func:`add_model_rows`."""
    return add_model_rows(add_task_instances(runs))


# ------------------------------------------------------------------------------------------------
# Cells and ranks


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
            mean=("score", "mean"),
            std=("score", lambda s: s.std(ddof=DDOF)),
            n=("score", "size"),
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


# ------------------------------------------------------------------------------------------------
# Text


def score_text(mean: float, metric: str) -> str:
    return ("{:.3f}" if metric in ("acc", "ap") else "{:.3g}").format(mean)


def rank_text(rank: float, tie: bool) -> str:
    """ "2", "=2" for a tie, "=2.5" for a tie between two."""
    return f"{'=' if tie else ''}{rank:g}"


def cell_text(row: pd.Series) -> str:
    """ "score [rank]" plus * (differs from the column's best) or ? (too few seeds to test)."""
    text = score_text(row["mean"], row["metric"])
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
            "mean rank": totals["mean rank"].map(lambda r: MISSING if pd.isna(r) else f"{r:.2f}"),
            "coverage": totals["coverage"],
            "params": totals["params"].map(lambda p: MISSING if pd.isna(p) else f"{p:,.0f}"),
            "s / epoch": totals["s / epoch"].map(lambda s: MISSING if pd.isna(s) else f"{s:.3g}"),
        }
    )
    scores = text.reindex(index=totals["model"], columns=columns).fillna(MISSING)
    return pd.concat([table.reset_index(drop=True), scores.reset_index(drop=True)], axis=1)


def caption(cells: pd.DataFrame, block: Summary | None, test: str = "t") -> str:
    per_task = cells.drop_duplicates(["task", "score_key"]).sort_values("task")
    protocols = "; ".join(
        f"{r.task}: {r.score_key} ({metric_name(r.metric)}, "
        f"{'higher' if r.higher_is_better else 'lower'} is better)"
        for r in per_task.itertuples()
    )
    text = (
        "Leaderboard: per task instance, the mean score over seeds under the task's protocol and "
        "[its rank] among the models run on it, only where at least two models ran it "
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
        text = f" {value:.2f}" if pd.notna(value) else f" {MISSING}"
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


# ------------------------------------------------------------------------------------------------
# Comparing models


def resolve_model(name: str, runs: pd.DataFrame) -> str:
    """The row of `name`: a row label, or a model's name, config choice or "name (choice)"
    that has one row. ValueError (one line, with the candidates) otherwise."""
    rows = sorted(runs["row"].unique(), key=natural_key)
    if name in rows:
        return name
    names = runs[["model", "model_name", "row"]].astype(str)
    if "model_config" in runs:
        names["model_config"] = runs["model_config"].astype(str)
    matches = sorted(set(names.loc[(names.drop(columns="row") == name).any(axis=1), "row"]))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"{name!r} has several rows, name one: {'; '.join(matches)}")
    raise ValueError(f"no model {name!r} in these runs; models: {'; '.join(rows)}")


def compare_cells(
    runs: pd.DataFrame, a: str, others: list[str], test: str = "t", alpha: float = st.ALPHA
) -> pd.DataFrame:
    """Per other model and cell (task instance) that both ran: A's and B's mean scores and
    seeds, the paired difference A - B over shared seeds with its bootstrap interval, the paired
    test's p and the verdict ("too few seeds", "A better", "B better", "not significant")."""
    rows = []
    cells = runs.groupby(["row", "column"], sort=False)
    for b in others:
        for column in column_order(runs[runs["row"].isin([a, b])].drop_duplicates("column")):
            if (a, column) not in cells.groups or (b, column) not in cells.groups:
                continue
            ours, theirs = cells.get_group((a, column)), cells.get_group((b, column))
            pairs = st.pair_by_seed(ours, theirs, list(SEEDS))
            result = st.paired_difference(pairs["a"], pairs["b"], test)
            higher = bool(ours["higher_is_better"].iloc[0])
            verdict = result.verdict(alpha)
            if verdict == "significant":
                verdict = "A better" if (result.difference > 0) == higher else "B better"
            rows.append(
                {
                    "B": b,
                    "cell": column,
                    "score_key": ours["score_key"].iloc[0],
                    "metric": ours["metric"].iloc[0],
                    "higher_is_better": higher,
                    "mean_a": ours["score"].mean(),
                    "n_a": len(ours),
                    "mean_b": theirs["score"].mean(),
                    "n_b": len(theirs),
                    "n": result.n,
                    "difference": result.difference,
                    "low": result.low,
                    "high": result.high,
                    "p": result.p,
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(rows)


@dataclass
class OverCells:
    """Ranks of the compared models over the cells all of them ran."""

    models: list[str]
    columns: list[str]
    ranks: pd.DataFrame
    friedman: st.Friedman | None = None
    sign: tuple[int, int, int, float] | None = None


def over_cells(runs: pd.DataFrame, a: str, models: list[str]) -> OverCells | None:
    """A and `models` ranked per cell; over the cells that A and the most models ran
    (:func:`statistics.common_block`, A kept): the sign test for two models, the Friedman test
    and Nemenyi post-hoc for three or more. None when A shares fewer than two cells."""
    cells = cell_table(runs[runs["row"].isin([a, *models])])
    present = cells.pivot(index="row", columns="column", values="mean").notna()
    kept, columns = st.common_block(present, keep=(a,))
    if not kept:
        return None
    block = cells[cells["row"].isin(kept) & cells["column"].isin(columns)]
    means = block.pivot(index="column", columns="row", values="mean")
    ranks = st.rank_table(means, block.groupby("column")["higher_is_better"].first())
    out = OverCells(models=kept, columns=columns, ranks=ranks)
    if len(kept) == 2:
        b = next(m for m in kept if m != a)
        out.sign = st.sign_test(ranks[a], ranks[b])
    else:
        out.friedman = st.friedman(ranks)
    return out


def _number(value: float, digits: int = 3) -> str:
    return MISSING if pd.isna(value) else f"{value:.{digits}g}"


def _signed(value: float) -> str:
    return MISSING if pd.isna(value) else f"{value:+.3g}"


def compare_table(compared: pd.DataFrame, several: bool) -> pd.DataFrame:
    """The per-cell comparisons as text columns."""
    table = pd.DataFrame(
        {
            "cell": compared["cell"],
            "score": [
                f"{k} ({'higher' if h else 'lower'} is better)"
                for k, h in zip(compared["score_key"], compared["higher_is_better"], strict=True)
            ],
            "A": [
                f"{score_text(m, k)} ({n})"
                for m, k, n in zip(
                    compared["mean_a"], compared["metric"], compared["n_a"], strict=True
                )
            ],
            "B": [
                f"{score_text(m, k)} ({n})"
                for m, k, n in zip(
                    compared["mean_b"], compared["metric"], compared["n_b"], strict=True
                )
            ],
            "n": compared["n"],
            "A - B": compared["difference"].map(_signed),
            "CI": [
                MISSING if pd.isna(lo) else f"[{lo:+.3g}, {hi:+.3g}]"
                for lo, hi in zip(compared["low"], compared["high"], strict=True)
            ],
            "p": compared["p"].map(_number),
            "verdict": compared["verdict"],
        }
    )
    if several:
        table.insert(0, "B model", compared["B"])
    return table


def compare_text(
    experiment: str,
    a: str,
    others: list[str],
    compared: pd.DataFrame,
    overall: OverCells | None,
    test: str = "t",
) -> str:
    """The comparison as Markdown: what was done, the per-cell table, the test over cells."""
    several = len(others) > 1
    against = "every other model" if several else f"B = {others[0]}"
    lines = [
        f"# {experiment}: A = {a} against {against}",
        "",
        "Per cell (task instance at one problem size): A - B over the seeds both ran, paired by "
        f"{', '.join(SEEDS)}; n: pairs; (n) after a mean: its runs. CI: {st.CONFIDENCE:.0%} "
        f"paired bootstrap interval of the mean difference (scipy.stats.bootstrap, BCa, "
        f"{st.RESAMPLES} resamples); p: two-sided {st.TESTS[test]} (scipy), at alpha = "
        f"{st.ALPHA:g}; '{st.TOO_FEW}': fewer than {st.MIN_PAIRS[test]} pairs.",
        "",
    ]
    if compared.empty:
        lines.append("No cell was run by A and B.")
    else:
        lines.append(to_markdown(compare_table(compared, several)))
    lines.append("")
    if overall is None:
        lines.append("Over cells: no test (A shares fewer than two cells with the others).")
    elif overall.sign is not None:
        wins, losses, ties, p = overall.sign
        lines.append(
            f"Over the {len(overall.columns)} cells both ran: A better in {wins}, B better in "
            f"{losses}, tied in {ties} (by mean score); sign test (scipy.stats.binomtest, "
            f"two-sided, ties left out) p = {_number(p)}."
        )
    else:
        f = overall.friedman
        lines += [
            f"Over the {f.n} cells that all {f.k} models ran: Friedman chi2 = {f.statistic:.3g} "
            f"(df = {f.k - 1}), p = {_number(f.p)} (scipy.stats.friedmanchisquare). Nemenyi "
            f"post-hoc: critical difference CD = {f.critical_difference:.3f} at alpha = "
            f"{f.alpha:g} (studentized range, scipy.stats.studentized_range); two models differ "
            "when their mean ranks differ by more than CD.",
            "",
        ]
        rows = [
            {
                "model": m,
                "mean rank": f"{r:.2f}",
                "vs A": MISSING if m == a else f"{r - f.mean_ranks[a]:+.2f}",
                "Nemenyi p vs A": MISSING if m == a else _number(f.pairwise_p.loc[a, m]),
                "differs from A": MISSING
                if m == a
                else ("yes" if abs(r - f.mean_ranks[a]) > f.critical_difference else "no"),
            }
            for m, r in f.mean_ranks.items()
        ]
        lines.append(to_markdown(pd.DataFrame(rows)))
    if overall is not None and len(overall.models) < len(others) + 1:
        left = [m for m in others if m not in overall.models]
        lines += ["", f"Left out over cells (they miss cells the others ran): {'; '.join(left)}."]
    return "\n".join(lines) + "\n"
