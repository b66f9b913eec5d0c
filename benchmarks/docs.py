"""Regenerate the documentation's generated parts from the reference results.

    python -m benchmarks.docs [--reference results/reference] [--root .] [--check]

Fills every ``<!-- generated:NAME -->`` ... ``<!-- /generated -->`` block of README.md and
docs/*.md (the experiments table with runtimes and fidelity status, each experiment's report
and verify tables, the fidelity ledger, the leaderboard over the quick stores) and writes the
figures under docs/figures/ (:mod:`benchmarks.analysis.pages`). The output depends only on the
reference results (``results/reference/*.jsonl``, written by ``python -m benchmarks.export``) and
the suite's data files, never on the time or the machine: each block names the reference's code
commit and the latest time one of its runs finished. An empty or partial reference set is fine;
the blocks say what they cover.

--check writes nothing and exits 1 when a page or figure differs from what it would write (the
paths are listed). Exit status 2 when a page has a block no generator fills.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks.analysis.outputs import tool_parser
from benchmarks.analysis.pages import FIGURES, block_names, render
from benchmarks.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def pages(root: Path) -> dict[str, str]:
    """The pages with generated blocks: README.md and docs/**/*.md (repository path -> text)."""
    paths = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    texts = {str(p.relative_to(root)): p.read_text() for p in paths if p.is_file()}
    return {path: text for path, text in texts.items() if block_names(text)}


def generate(reference: Path, root: Path) -> dict[str, str | bytes | None]:
    """What the generator writes under `root` (path -> text or bytes; None: remove)."""
    with tempfile.TemporaryDirectory() as scratch:
        files: dict[str, str | bytes | None] = render(reference, pages(root), Path(scratch))
    return {path: None for path in FIGURES} | files


def differs(root: Path, path: str, content: str | bytes | None) -> bool:
    target = root / path
    if content is None:
        return target.exists()
    if not target.is_file():
        return True
    return (target.read_bytes() if isinstance(content, bytes) else target.read_text()) != content


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser("benchmarks.docs", __doc__)
    parser.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="the reference folder (default: <root>/results/reference)",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository (default: this one)"
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    reference = args.reference or root / "results" / "reference"
    try:
        files = generate(reference, root)
    except (ValueError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    changed = [path for path, content in files.items() if differs(root, path, content)]
    if args.check:
        for path in changed:
            print(f"out of date: {path}")
        if changed:
            print(f"run `python -m benchmarks.docs` to regenerate {len(changed)} file(s)")
        return 1 if changed else 0
    for path in changed:
        target, content = root / path, files[path]
        if content is None:
            target.unlink()
        elif isinstance(content, bytes):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        else:
            target.write_text(content)
        print(f"{'removed' if content is None else 'wrote'} {path}")
    print(f"{len(changed)} of {len(files)} generated files changed (reference: {reference})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
