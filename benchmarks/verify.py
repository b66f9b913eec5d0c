"""Our cells against the published numbers.

    python -m benchmarks.verify EXPERIMENT [--results-dir results] [--override KEY=VALUE ...]

The published numbers live in `benchmarks/analysis/anchors.yaml`, with their sources and
tolerance rules. An anchor names the experiments it applies to; `<name>_quick` is checked against
the anchors of `<name>` (same tasks and models, fewer sizes and seeds). For every anchor of
EXPERIMENT the command prints one row per variant of our runs that match it (task, model, size and
the anchor's config conditions): ours as mean ± std over seeds (ddof = 1) with the number of runs,
the published value (± its std where published), the difference ours - published, the tolerance
and a verdict: `within`, `outside`, or `not run` when the store has no such run. The runs are
those of the experiment's sweep, selected and aggregated as `benchmarks.report` does (stored runs
made with other settings are left out; pass the sweep's `--override`s). The table is also written
to `<results-dir>/out/tables/EXPERIMENT_verify.md`.

Exit status: 1 when a finished cell is outside its tolerance, 0 otherwise (cells not run do not
fail), 2 when no anchor applies to EXPERIMENT or anchors.yaml is malformed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from benchmarks.analysis.anchors import ANCHORS, load_anchors
from benchmarks.analysis.outputs import output_dirs, store_parser
from benchmarks.analysis.sweeps import select_runs
from benchmarks.analysis.tables import to_markdown
from benchmarks.analysis.verification import VERDICTS, compare, display, footer, header
from benchmarks.core.errors import ConfigError, require


def verify(
    experiment: str,
    results_dir: str | Path = "results",
    overrides: list[str] = (),
    check_sweep: bool = True,
    anchors_file: str | Path = ANCHORS,
) -> tuple[pd.DataFrame, int]:
    """Compare `experiment`'s stored runs with its anchors; print and write the table. Returns
    the comparison (one row per cell) and the exit status."""
    anchors, sources = load_anchors(anchors_file)
    anchors = [a for a in anchors if a.applies_to(experiment)]
    require(
        bool(anchors),
        "experiment",
        f"no anchor in {anchors_file} applies to {experiment!r} "
        "(anchors list their experiments; `<name>_quick` uses those of `<name>`)",
    )
    runs, notes = select_runs(experiment, results_dir, list(overrides), check_sweep)
    table = compare(runs, anchors)
    counts = table["verdict"].value_counts()
    tally = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
    text = "\n\n".join(
        [
            header(experiment, anchors),
            to_markdown(display(table)),
            f"{len(table)} cells: {tally}.",
            footer(anchors, sources),
        ]
    )
    path = output_dirs(results_dir)[0] / f"{experiment}_verify.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(text)
    if notes:
        print("\n" + "\n".join(notes))
    print(f"\nwrote {path}")
    return table, int(counts.get("outside", 0) > 0)


def main(argv: list[str] | None = None) -> int:
    parser = store_parser("benchmarks.verify", __doc__, "tree_neighbors_match")
    parser.add_argument(
        "--anchors",
        default=str(ANCHORS),
        help="the anchors file (default: benchmarks/analysis/anchors.yaml)",
    )
    args = parser.parse_args(argv)
    try:
        _, status = verify(
            args.experiment, args.results_dir, args.override, not args.no_check, args.anchors
        )
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
