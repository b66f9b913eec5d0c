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


def tool_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The command line of ``python -m <prog>``, described by the first line of `doc`."""
    return argparse.ArgumentParser(prog=f"python -m {prog}", description=doc.split("\n")[0])


def add_override(parser: argparse.ArgumentParser, help: str) -> None:
    """--override KEY=VALUE (repeatable): the overrides a sweep was run with, to find its runs."""
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help=help)


def add_test(parser: argparse.ArgumentParser, help: str) -> None:
    """--test: the paired test, t (the default) or wilcoxon."""
    parser.add_argument("--test", choices=["t", "wilcoxon"], default="t", help=help)


def store_parser(prog: str, doc: str, example: str) -> argparse.ArgumentParser:
    """The command line shared by report and verify: EXPERIMENT, --results-dir, --override and
    --no-check."""
    parser = tool_parser(prog, doc)
    parser.add_argument("experiment", help=f"experiment name in the store, e.g. {example}")
    parser.add_argument(
        "--results-dir",
        default="results",
        help=f"the store's root (default: results); outputs go to <results-dir>/{OUT}/",
    )
    add_override(parser, "an override the sweep was run with (repeatable), to find its runs")
    parser.add_argument(
        "--no-check", action="store_true", help="use every stored run, not only the sweep's"
    )
    return parser
