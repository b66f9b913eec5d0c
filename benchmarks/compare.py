"""Is the difference real? One model against another, or against every other, in one experiment.

    python -m benchmarks.compare MODEL_A MODEL_B --experiment EXP [--results-dir results]
    python -m benchmarks.compare MODEL_A --experiment EXP      # A against every other model

A model is a leaderboard row: its name, config choice and the settings that vary (e.g. "glstm
(glstm_paper/glstm_dk16) lr=0.001"); a bare name or config choice stands for each of its rows in
turn (`glstm` with two gLSTM variants: two comparisons). Per cell (task instance at one problem
size): the paired difference A - B over the seeds both ran, its bootstrap confidence interval and
a paired test, with n ("too few seeds" below the test's minimum). Over cells: the sign test for
two models; for three or more the Friedman test, the Nemenyi post-hoc and a critical-difference
diagram. The statistics are in :mod:`benchmarks.analysis.statistics`. Writes
``<results>/out/tables/compare_<EXP>_<A>[_<B>].{md,csv}`` and, with a Friedman test,
``<results>/out/figures/compare_<EXP>_<A>_cd.png``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from benchmarks.analysis import cd_diagram
from benchmarks.analysis.comparison import compare_cells, compare_text, over_cells, resolve_rows
from benchmarks.analysis.outputs import add_test, output_dirs, tool_parser
from benchmarks.analysis.rows import label_runs
from benchmarks.analysis.runs import natural_key
from benchmarks.analysis.scope import load_store


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_")


def compare(
    a: str,
    b: str | None,
    experiment: str,
    results_dir: str | Path = "results",
    test: str = "t",
) -> dict:
    """Compare A with B (every other model when None) in `experiment`; print and write the
    result; return its pieces. ValueError (one line) for an unknown model or an empty store."""
    results_dir = Path(results_dir)
    runs = load_store(results_dir, [experiment])
    if runs.empty:
        raise ValueError(f"no finished runs in {results_dir / 'runs' / experiment}")
    runs = label_runs(runs)
    named_a = resolve_rows(a, runs)
    named_b = resolve_rows(b, runs) if b is not None else None
    out = {}
    for row in named_a:  # a name with several rows (two variants of a model): each in turn
        others = [o for o in named_b if o != row] if named_b is not None else None
        out = compare_row(runs, row, others, experiment, results_dir, test)
    return out


def compare_row(runs, a: str, others: list[str] | None, experiment: str, results_dir: Path, test):
    """Compare row `a` with the rows `others` (every other row when None)."""
    b = others
    if others is None:
        others = sorted(set(runs["row"]) - {a}, key=natural_key)
    if a in others or not others:
        raise ValueError(f"nothing to compare {a} with")
    compared = compare_cells(runs, a, others, test)
    overall = over_cells(runs, a, others)
    text = compare_text(experiment, a, others, compared, overall, test)

    tables, figures = output_dirs(results_dir)
    name = "_".join(["compare", experiment, *(_slug(m) for m in [a, *(others if b else [])])])
    tables.mkdir(parents=True, exist_ok=True)
    (tables / f"{name}.md").write_text(text)
    compared.to_csv(tables / f"{name}.csv", index=False)
    written = [f"{tables / name}.{{md,csv}}"]
    if overall is not None and overall.friedman is not None:
        f = overall.friedman
        title = f"{experiment}: mean ranks over {f.n} cells; Friedman p = {f.p:.3g}"
        path = cd_diagram.draw(
            f.mean_ranks, f.critical_difference, figures / f"{name}_cd.png", title, highlight=a
        )
        written.append(str(path))
    print(text)
    print(f"wrote {', '.join(written)}")
    return {"runs": runs, "a": a, "others": others, "cells": compared, "overall": overall}


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser("benchmarks.compare", __doc__)
    parser.add_argument("model_a", metavar="MODEL_A")
    parser.add_argument("model_b", metavar="MODEL_B", nargs="?", help="default: every other model")
    parser.add_argument("--experiment", required=True, help="the store, e.g. nar_capacity")
    parser.add_argument("--results-dir", default="results", help="the store's root")
    add_test(
        parser, "paired test per cell: t (paired t-test, n >= 3) or wilcoxon (signed-rank, n >= 6)"
    )
    args = parser.parse_args(argv)
    try:
        compare(args.model_a, args.model_b, args.experiment, args.results_dir, args.test)
    except ValueError as error:
        print(f"error: compare: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
