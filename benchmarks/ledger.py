"""The fidelity ledger: every experiment and paper preset, its source, status and deviations.

    python -m benchmarks.ledger [--results-dir results] [--no-check]

Joins `benchmarks/analysis/fidelity.yaml` (sources, statuses, known deviations) with the anchors
(`benchmarks/analysis/anchors.yaml`: published values, and those their own public code does not
reproduce) and, where the store at --results-dir has runs of an experiment, the verify verdicts
(cells within, seeds per cell, claims that hold). Prints the Markdown table and writes it to
`<results-dir>/out/tables/ledger.md`. Exit status 2 when the data file is malformed.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.analysis.ledger import ledger, to_text
from benchmarks.analysis.outputs import OUT, output_dirs
from benchmarks.core.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ledger", description=__doc__)
    parser.add_argument(
        "--results-dir",
        default="results",
        help=f"the store's root (default: results); the ledger goes to <results-dir>/{OUT}/",
    )
    parser.add_argument(
        "--no-check", action="store_true", help="use every stored run, not only the sweeps'"
    )
    args = parser.parse_args(argv)
    try:
        text = to_text(ledger(args.results_dir, check_sweep=not args.no_check))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    path = output_dirs(args.results_dir)[0] / "ledger.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(text)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
