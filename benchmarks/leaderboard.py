"""Every model on every task instance of the experiment stores, honestly ranked.

    python -m benchmarks.leaderboard [--results-dir results] [--experiments A B ...] [--name N]

By default it reads the experiments' stores (``<results>/runs/<name>/`` with a
``conf/experiment/<name>.yaml``), not ``default`` nor Optuna search stores; ``--experiments``
names the stores to read, whatever they are. The rules (rows split by every setting but the
seeds, ranks only where two models ran a column, ties as ties, coverage, a mean rank only over a
common set of columns, significance against each column's best) are in
:mod:`benchmarks.analysis.scope`, :mod:`benchmarks.analysis.rows` and
:mod:`benchmarks.analysis.ranking`.

Writes ``<results>/out/tables/<name>.{md,csv}`` (CSV: one row per model and task instance) and
``<results>/out/figures/<name>.png`` (the ranks as a heatmap beside the mean ranks) and, where
three models or more share a common set, ``<name>_cd.png`` (critical-difference diagram); prints
the Markdown. An empty selection prints one line and exits with status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.analysis import cd_diagram
from benchmarks.analysis.board import caption, wide_table
from benchmarks.analysis.heatmap import heatmap
from benchmarks.analysis.outputs import add_test, output_dirs, tool_parser
from benchmarks.analysis.ranking import (
    against_best,
    cell_table,
    column_order,
    model_totals,
    summary,
)
from benchmarks.analysis.rows import label_runs
from benchmarks.analysis.scope import default_scope, load_store
from benchmarks.analysis.tables import to_markdown
from benchmarks.engine.config import CONF_DIR


def leaderboard(
    results_dir: str | Path = "results",
    experiments: list[str] | None = None,
    name: str = "leaderboard",
    conf_dir: str | Path = CONF_DIR,
    test: str = "t",
) -> dict:
    """Build and write the leaderboard; return its pieces ({"runs": empty} for no runs)."""
    results_dir = Path(results_dir)
    left_out = []
    if experiments is None:
        experiments, left_out = default_scope(results_dir, conf_dir)
    runs = load_store(results_dir, experiments)
    scope = f"stores: {', '.join(experiments) or 'none'}"
    if left_out:
        scope += (
            f"; left out (not experiments; name them with --experiments): {', '.join(left_out)}"
        )
    if runs.empty:
        named = f" of {', '.join(experiments)}" if experiments else ""
        print(f"leaderboard: no finished runs{named} in {results_dir / 'runs'}")
        return {"runs": runs, "scope": scope}
    runs = label_runs(runs)
    cells = against_best(runs, cell_table(runs), test)
    columns = column_order(cells)
    block = summary(cells)
    totals = model_totals(runs, cells, block, columns)
    table = wide_table(cells, totals, columns)
    text = caption(cells, block, test)

    tables, figures = output_dirs(results_dir)
    tables.mkdir(parents=True, exist_ok=True)
    markdown = f"{to_markdown(table)}\n\n{text}\n\n{scope}\n"
    (tables / f"{name}.md").write_text(markdown)
    long = cells.rename(columns={"row": "model", "column": "task instance"}).merge(
        totals, on="model", suffixes=("", " (row)")
    )
    long.to_csv(tables / f"{name}.csv", index=False)
    written = [heatmap(cells, totals, columns, figures / f"{name}.png")]
    if block is not None and block.friedman is not None:
        f = block.friedman
        title = f"{name}: mean ranks over {f.n} task instances; Friedman p = {f.p:.3g}"
        written.append(
            cd_diagram.draw(f.mean_ranks, f.critical_difference, figures / f"{name}_cd.png", title)
        )

    print(markdown)
    print(f"wrote {tables / name}.{{md,csv}}, {', '.join(str(p) for p in written)}")
    return {"runs": runs, "cells": cells, "totals": totals, "table": table, "summary": block}


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser("benchmarks.leaderboard", __doc__)
    parser.add_argument("--results-dir", default="results", help="the store's root")
    parser.add_argument(
        "--experiments",
        nargs="+",
        metavar="STORE",
        help="read these stores (default: every experiment's store, see above)",
    )
    parser.add_argument("--name", default="leaderboard", help="file name of the outputs")
    parser.add_argument(
        "--conf-dir", default=str(CONF_DIR), help="the config folder that lists the experiments"
    )
    add_test(parser, "paired test against each column's best: t (n >= 3) or wilcoxon (n >= 6)")
    args = parser.parse_args(argv)
    out = leaderboard(args.results_dir, args.experiments, args.name, args.conf_dir, args.test)
    return 0 if "cells" in out else 1


if __name__ == "__main__":
    sys.exit(main())
