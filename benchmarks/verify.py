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

Each anchor carries its reproducibility status (`anchor` column: not checked, reproduced, or not
reproducible by its own public code), with the evidence printed below the table; a cell outside
an anchor that its public code does not reproduce is marked so in its verdict. Where a published
column trained on another quantity than its name says (GPP), the table says which (`published
as`) and the header lists the mapping. For experiments whose paper shows a figure only
(nar_capacity, ring_transfer), the paper's qualitative claims are printed and evaluated on the
store (`holds`, `does not hold`, `not run`).

Exit status: 1 when a finished cell is outside its tolerance (of an anchor not marked as
unreproducible) or a claim does not hold, 0 otherwise (cells not run do not fail), 2 when no
anchor or claim applies to EXPERIMENT or anchors.yaml is malformed.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pandas as pd

from benchmarks.analysis.anchors import ANCHORS, load_anchors, load_claims
from benchmarks.analysis.outputs import output_dirs, store_parser
from benchmarks.analysis.sweeps import select_runs
from benchmarks.analysis.tables import to_markdown
from benchmarks.analysis.verification import (
    CLAIM_VERDICTS,
    VERDICTS,
    anchor_notes,
    claims_text,
    compare,
    display,
    evaluate_claims,
    failures,
    footer,
    header,
)
from benchmarks.core.errors import ConfigError
from benchmarks.engine.config import CONF_DIR


def experiments_with_anchors(anchors_file: str | Path = ANCHORS) -> list[str]:
    """The experiments (conf/experiment/*.yaml, `_quick` ones included) that an anchor or a claim
    applies to."""
    anchors, _ = load_anchors(anchors_file)
    rules = [*anchors, *load_claims(anchors_file)]
    names = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
    return [name for name in names if any(rule.applies_to(name) for rule in rules)]


def verify(
    experiment: str,
    results_dir: str | Path = "results",
    overrides: list[str] = (),
    check_sweep: bool = True,
    anchors_file: str | Path = ANCHORS,
) -> tuple[pd.DataFrame, int]:
    """Compare `experiment`'s stored runs with its anchors and evaluate its claims; print and
    write the tables. Returns the comparison (one row per cell, then one per claim and variant,
    with a `kind` column: anchor / claim) and the exit status."""
    anchors, sources = load_anchors(anchors_file)
    anchors = [a for a in anchors if a.applies_to(experiment)]
    claims = [c for c in load_claims(anchors_file) if c.applies_to(experiment)]
    if not (anchors or claims):
        checked = experiments_with_anchors(anchors_file)
        close = difflib.get_close_matches(experiment, checked, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(
            f"experiment: no published number or claim applies to {experiment!r}; {hint}"
            f"experiments with anchors: {', '.join(checked)}"
        )
    runs, notes = select_runs(experiment, results_dir, list(overrides), check_sweep)
    parts, tables, failed = [], [], 0
    if anchors:
        table = compare(runs, anchors)
        counts = table["verdict"].value_counts()
        tally = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
        parts += [
            header(experiment, anchors),
            to_markdown(display(table)),
            f"{len(table)} cells: {tally}.",
        ]
        parts += [text for text in [anchor_notes(anchors)] if text]
        tables.append(table.assign(kind="anchor"))
        failed += len(failures(table))
    if claims:
        checked = evaluate_claims(runs, claims)
        counts = checked["verdict"].value_counts()
        tally = ", ".join(f"{counts.get(v, 0)} {v}" for v in CLAIM_VERDICTS)
        parts += [claims_text(claims), to_markdown(checked.drop(columns=["source"]))]
        parts.append(f"{len(checked)} claim checks: {tally}.")
        tables.append(checked.assign(kind="claim"))
        failed += int(counts.get("does not hold", 0))
    used = [*anchors, *claims]
    parts.append(footer(used, sources))
    text = "\n\n".join(parts)
    path = output_dirs(results_dir)[0] / f"{experiment}_verify.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(text)
    if notes:
        print("\n" + "\n".join(notes))
    print(f"\nwrote {path}")
    return pd.concat(tables, ignore_index=True), int(failed > 0)


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
