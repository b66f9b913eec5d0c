"""One table of every model over every task in the results store: the leaderboard.

    python -m benchmarks.leaderboard [--results-dir results] [--experiments A B ...]

It reads every finished run's result.json under `<results-dir>/runs/` (or only the named
experiments' directories) and builds one table:

- **columns: task instances.** A task instance is a task, its problem size (`size/*`) and the task
  settings that vary between the task's runs in the store: every `config.task.*` key with more
  than one value among them (but a data path, `root`), e.g. "nar train=8000 val=1000 test=1000
  N=16", "tree_neighbors_match depth=4", "graph_transfer ring d=5", "gpp diameter readout=adgn".
  Runs in one column ran the same data generator with the same settings. Topology, target and
  dataset name show their value alone, the other settings `key=value`.
- **rows: models.** A model is its name and its model config choice ("gcn (alon_yahav/gcn)"; the
  name alone for runs made outside Hydra), plus the `config.model.*` keys that take more than one
  value among one config's runs in one column (e.g. a sweep over `model.khop` gives the rows
  "... khop=on" and "... khop=off"); such a key labels every row of that config, as in
  `benchmarks.report`'s variants. Keys that only change between columns (a width per task) do not
  split a row, and neither do training settings: runs of a row in one column made by different
  experiments (a sweep and its `_quick` version, where their task settings agree) are pooled.
  A run stored by several experiments with the same config hash counts once.
- **cells: the mean score over the runs (seeds)** of a row in a column. The stored score is the
  one the task's protocol selected (e.g. the test metric at the best validation epoch, the
  training accuracy for Tree-NeighborsMatch), so each column follows its task's own protocol.
- **ranks per column** among the rows that have it: 1 is best; higher is better for accuracy and
  average precision (`benchmarks.report.HIGHER_IS_BETTER`), lower for the error metrics; tied
  means share the average of their ranks (pandas `rank(method="average")`). A row without runs in
  a column is shown as "–" and not ranked there; its **mean rank** is over the columns it has,
  and `tasks` says how many.
- per row: **parameters** (median over its runs) and **seconds per epoch** (mean over its runs of
  train_time_s / epochs; an epoch is what each task's protocol calls one, e.g. an evaluation
  round of 100 passes for Tree-NeighborsMatch).

Rows are sorted by mean rank (then by more tasks, then by name). Writes
`<results-dir>/tables/leaderboard.md` (the table and its caption), `leaderboard.csv` (long: one row
per model and task instance, with mean, std (ddof = 1), n, rank and the row's totals) and
`<results-dir>/figures/leaderboard.png` (the ranks as a heatmap, missing cells blank, beside the
mean ranks), and prints the Markdown; `--name` names the three files otherwise (e.g. for a subset
of the store's experiments). An empty store prints one line and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.engine.store import load_results  # noqa: E402
from benchmarks.report import (  # noqa: E402
    DDOF,
    HIGHER_IS_BETTER,
    METRIC_NAMES,
    REMEDY_COLUMNS,
    _format_value,
    _label_key,
    flatten_results,
    label_words,
    natural_key,
    to_markdown,
    varying_columns,
)

MISSING = "–"
# Column labels: short names of problem sizes and task settings (others: their own name), the
# settings shown by their value alone, and task keys that do not change the task (a data path).
SIZE_NAMES = {"num_keys": "N", "distance": "d"}
SETTING_NAMES = {"num_train": "train", "num_val": "val", "num_test": "test"}
BARE_SETTINGS = ("topology", "target", "name")
NOT_SETTINGS = ("root",)
TOTALS = ["mean rank", "tasks", "params", "s / epoch"]


# ------------------------------------------------------------------------------------------------
# Loading


def load_store(results_dir: str | Path, experiments: list[str] | None = None) -> pd.DataFrame:
    """One row per finished run of the named experiments (default: every experiment directory
    under `<results-dir>/runs/`): result.json flattened (`config.<path>` columns), each config
    hash once."""
    root = Path(results_dir) / "runs"
    if experiments is None:
        experiments = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    results = [r for name in experiments for r in load_results(results_dir, name)]
    if not results:
        return pd.DataFrame()
    runs = flatten_results(results)
    if "config_hash" in runs:
        runs = runs.drop_duplicates("config_hash")
    return runs.reset_index(drop=True)


def _setting_key(column: str) -> tuple[int, str]:
    """Label order: the settings shown by value, then the split sizes, then the rest."""
    name = column.rsplit(".", 1)[-1]
    order = [*BARE_SETTINGS, *SETTING_NAMES]
    return (order.index(name) if name in order else len(order), name)


def _setting_label(row: pd.Series, columns: list[str]) -> list[str]:
    """A task setting per present column of `row`: "ring", "train=2000", "readout=linear"."""
    words = []
    for column in columns:
        name, value = column.rsplit(".", 1)[-1], row[column]
        if np.isscalar(value) and pd.isna(value):
            continue
        if name in BARE_SETTINGS:
            words.append(str(value))
        else:
            words.append(_format_value(name, value).replace(name, SETTING_NAMES.get(name, name), 1))
    return words


def add_task_instances(runs: pd.DataFrame) -> pd.DataFrame:
    """Add `column` (the task instance's label), `size_key` and `size` (the run's problem size,
    NaN for tasks without one) and `setting` (the varying task settings' label)."""
    runs = runs.copy()
    sizes = [c for c in runs if c.startswith("size/")]
    runs["size_key"] = runs[sizes].notna().idxmax(axis=1).where(runs[sizes].notna().any(axis=1))
    runs["size"] = runs[sizes].max(axis=1) if sizes else np.nan
    runs["setting"] = ""
    task_columns = [
        c
        for c in runs
        if c.startswith("config.task.") and c.rsplit(".", 1)[-1] not in ("_target_", *NOT_SETTINGS)
    ]
    for _, group in runs.groupby("task", sort=False):
        size_config = {f"config.task.{k.removeprefix('size/')}" for k in group["size_key"].dropna()}
        keys = sorted(varying_columns(group, task_columns) - size_config, key=_setting_key)
        runs.loc[group.index, "setting"] = [
            " ".join(_setting_label(row, keys)) for _, row in group.iterrows()
        ]
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


def add_model_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Add `row`: "name (model config)" plus the model keys that vary within one config's runs
    of one column (see the module docstring)."""
    runs = runs.copy()
    config = runs["model_config"] if "model_config" in runs else pd.Series(np.nan, runs.index)
    runs["model_name"] = runs["model"].where(
        config.isna(), runs["model"] + " (" + config.astype(str) + ")"
    )
    model_columns = [
        c
        for c in runs
        if (c.startswith("config.model.") and not c.endswith("_target_")) or c in REMEDY_COLUMNS
    ]
    runs["row"] = runs["model_name"]
    for _, model_runs in runs.groupby("model_name", sort=False):
        keys = set()
        for _, group in model_runs.groupby("column", sort=False):
            keys |= varying_columns(group, model_columns)
        keys = sorted(keys, key=_label_key)
        if keys:
            runs.loc[model_runs.index, "row"] = [
                " ".join([row["model_name"], *label_words(row, keys)])
                for _, row in model_runs.iterrows()
            ]
    return runs


# ------------------------------------------------------------------------------------------------
# Ranking


def rank_cells(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model row, task instance) with runs: mean, std (ddof = 1) and n of the score,
    and its rank among the rows of that column (1 = best, ties averaged)."""
    cells = (
        runs.groupby(["row", "column"], sort=False)
        .agg(
            task=("task", "first"),
            setting=("setting", "first"),
            size_key=("size_key", "first"),
            size=("size", "first"),
            metric=("metric", "first"),
            score_key=("score_key", "first"),
            mean=("score", "mean"),
            std=("score", lambda s: s.std(ddof=DDOF)),
            n=("score", "size"),
        )
        .reset_index()
    )
    higher = cells["metric"].isin(HIGHER_IS_BETTER)
    cells["rank"] = np.nan
    for flag in (True, False):  # a column's metric decides its direction
        part = cells[higher == flag]
        cells.loc[part.index, "rank"] = part.groupby("column")["mean"].rank(
            method="average", ascending=not flag
        )
    return cells


def model_totals(runs: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per model row: mean rank over its columns, their number, median parameters and mean
    seconds per epoch; sorted best first."""
    per_epoch = runs["train_time_s"] / runs["epochs"].where(runs["epochs"] > 0)
    totals = pd.DataFrame(
        {
            "mean rank": cells.groupby("row")["rank"].mean(),
            "tasks": cells.groupby("row")["column"].nunique(),
            "params": runs.groupby("row")["params"].median(),
            "s / epoch": per_epoch.groupby(runs["row"]).mean(),
        }
    )
    totals = totals.rename_axis("model").reset_index()
    order = totals.assign(_name=totals["model"].map(natural_key))
    order = order.sort_values(["mean rank", "tasks", "_name"], ascending=[True, False, True])
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
# Tables and figure


def _score(mean: float, metric: str) -> str:
    return ("{:.3g}" if metric == "mse" else "{:.3f}").format(mean)


def wide_table(cells: pd.DataFrame, totals: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """model, mean rank, tasks, params, s / epoch, then per task instance "score [rank]" or –."""
    text = cells.assign(
        text=[
            f"{_score(m, k)} [{r:g}]"
            for m, k, r in zip(cells["mean"], cells["metric"], cells["rank"], strict=True)
        ]
    ).pivot(index="row", columns="column", values="text")
    table = totals.assign(
        **{
            "mean rank": totals["mean rank"].map("{:.2f}".format),
            "params": totals["params"].map(lambda p: f"{p:,.0f}"),
            "s / epoch": totals["s / epoch"].map(lambda s: MISSING if pd.isna(s) else f"{s:.3g}"),
        }
    )
    scores = text.reindex(index=totals["model"], columns=columns).fillna(MISSING)
    return pd.concat([table.reset_index(drop=True), scores.reset_index(drop=True)], axis=1)


def caption(cells: pd.DataFrame) -> str:
    per_task = cells.drop_duplicates(["task", "score_key"]).sort_values("task")
    protocols = "; ".join(
        f"{r.task}: {r.score_key} ({METRIC_NAMES.get(r.metric, r.metric)}, "
        f"{'higher' if r.metric in HIGHER_IS_BETTER else 'lower'} is better)"
        for r in per_task.itertuples()
    )
    return (
        "Leaderboard: per task instance, the mean score over seeds under the task's protocol and "
        "[its rank] among the models run on it (1 = best; ties share the average rank; "
        f"{MISSING}: not run, not ranked). mean rank: over the task instances a model has "
        "(tasks: how many); params: median trainable parameters; s / epoch: mean training time "
        f"per epoch over its runs. Scores: {protocols}."
    )


def figure(cells: pd.DataFrame, totals: pd.DataFrame, columns: list[str], path: Path) -> None:
    """A heatmap of the ranks (model x task instance; colour: the rank's place among the
    column's models, from best to last; missing cells blank) beside the mean ranks."""
    models = list(totals["model"])
    ranks = cells.pivot(index="row", columns="column", values="rank")
    ranks = ranks.reindex(index=models, columns=columns)
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
    for (i, j), rank in np.ndenumerate(ranks.to_numpy(float)):
        if not np.isnan(rank):
            heat.text(j, i, f"{rank:g}", ha="center", va="center", fontsize=7)
    heat.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=7)
    heat.set_yticks(range(len(models)), models, fontsize=8)
    heat.set_title("rank per task instance (1 = best; blank: not run)", fontsize=9)
    bars.barh(range(len(models)), totals["mean rank"], color="tab:blue")
    for i, (value, tasks) in enumerate(zip(totals["mean rank"], totals["tasks"], strict=True)):
        bars.text(value, i, f" {value:.2f} ({tasks})", va="center", fontsize=7)
    bars.set_xlim(0, totals["mean rank"].max() * 1.45)
    bars.set_title("mean rank (tasks)", fontsize=9)
    bars.tick_params(axis="x", labelsize=7)
    fig.colorbar(image, ax=bars, fraction=0.08, label="place among the task's models")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------
# The command


def leaderboard(
    results_dir: str | Path = "results",
    experiments: list[str] | None = None,
    name: str = "leaderboard",
) -> dict:
    """Build the leaderboard's tables and figure (files named `name`); return the pieces (for
    tests) and print the Markdown table. Returns {"runs": empty} for an empty store."""
    results_dir = Path(results_dir)
    runs = load_store(results_dir, experiments)
    if runs.empty:
        where = results_dir / "runs"
        named = f" of {', '.join(experiments)}" if experiments else ""
        print(f"leaderboard: no finished runs{named} in {where}")
        return {"runs": runs}
    runs = add_model_rows(add_task_instances(runs))
    cells = rank_cells(runs)
    totals = model_totals(runs, cells)
    columns = column_order(cells)
    table = wide_table(cells, totals, columns)
    text = caption(cells)

    tables, figures = results_dir / "tables", results_dir / "figures"
    tables.mkdir(parents=True, exist_ok=True)
    markdown = f"{to_markdown(table)}\n\n{text}\n"
    (tables / f"{name}.md").write_text(markdown)
    long = cells.rename(columns={"row": "model", "column": "task instance"}).merge(
        totals, on="model"
    )
    long["higher_is_better"] = long["metric"].isin(HIGHER_IS_BETTER)
    long.to_csv(tables / f"{name}.csv", index=False)
    figure(cells, totals, columns, figures / f"{name}.png")

    print(markdown)
    print(f"wrote {tables / name}.{{md,csv}} and {figures / name}.png")
    return {"runs": runs, "cells": cells, "totals": totals, "table": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.leaderboard", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--results-dir", default="results", help="the store's root (default: results)"
    )
    parser.add_argument(
        "--experiments",
        nargs="+",
        metavar="EXPERIMENT",
        help="only these experiments' runs (default: every experiment in the store)",
    )
    parser.add_argument(
        "--name",
        default="leaderboard",
        help="file name of the table and figure (default: leaderboard; e.g. one per subset)",
    )
    args = parser.parse_args(argv)
    out = leaderboard(args.results_dir, args.experiments, args.name)
    return 0 if "cells" in out else 1


if __name__ == "__main__":
    sys.exit(main())
