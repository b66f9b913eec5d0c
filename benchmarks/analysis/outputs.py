"""Where the readers write: an ignored output folder under the store's root,
``<results_dir>/out/tables`` and ``<results_dir>/out/figures`` (``results/out/`` is in
.gitignore), never the tracked ``results/tables`` or ``results/figures``."""

from __future__ import annotations

import argparse
from pathlib import Path

OUT = "out"


def output_dirs(results_dir: str | Path = "results") -> tuple[Path, Path]:
    """(tables, figures) folders of the generated outputs of the store at `results_dir`."""
    out = Path(results_dir) / OUT
    return out / "tables", out / "figures"


def store_parser(prog: str, doc: str, example: str) -> argparse.ArgumentParser:
    """The command line shared by report and verify: EXPERIMENT, --results-dir, --override and
    --no-check."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=doc.split("\n")[0])
    parser.add_argument("experiment", help=f"experiment name in the store, e.g. {example}")
    parser.add_argument(
        "--results-dir",
        default="results",
        help=f"the store's root (default: results); outputs go to <results-dir>/{OUT}/",
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
