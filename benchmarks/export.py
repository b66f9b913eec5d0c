"""Write the per-seed results of experiments' sweeps as tracked reference files.

    python -m benchmarks.export EXPERIMENT [EXPERIMENT ...] [--results-dir results]
                                [--override KEY=VALUE ...] [--out results/reference]

For each EXPERIMENT, the finished runs of its sweep in the store at --results-dir (selected as
`benchmarks.report` selects them: the runs whose recorded overrides are jobs of
``experiment=EXPERIMENT``, plus the sweep's --override values) are written to
``<out>/<EXPERIMENT>.jsonl``: one result per line (the ``result.json`` object: identity, config,
metrics, sensitivity and capacity, parameters, epochs, times, device, provenance with the code
commit), sorted by config hash, keys sorted, the host name left out. Weights and per-epoch
histories stay in the store. Each reader takes the reference folder as a store
(``--results-dir results/reference``), and ``python -m benchmarks.docs`` builds the
documentation's generated pages from it.

An experiment with no finished run of its sweep is reported and leaves its file untouched; exit
status 1 when that happens to every EXPERIMENT.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.analysis.outputs import add_override, tool_parser
from benchmarks.analysis.runs import REFERENCE, read_store
from benchmarks.analysis.sweeps import select_runs
from benchmarks.engine.results import RunResult

# Provenance keys not exported: they name the machine, not what ran.
PRIVATE = ("host",)


def reference_line(result: RunResult) -> str:
    """One result as a reference line: ``RunResult.to_dict()`` without the private provenance
    keys, as compact JSON with sorted keys (so the same result always gives the same line)."""
    flat = result.to_dict()
    flat["provenance"] = {
        k: v for k, v in (flat.get("provenance") or {}).items() if k not in PRIVATE
    }
    return json.dumps(flat, sort_keys=True, separators=(",", ":"), default=str)


def export(
    experiment: str,
    results_dir: str | Path = "results",
    overrides: list[str] = (),
    out: str | Path = "results/reference",
) -> tuple[Path | None, list[str]]:
    """Write `experiment`'s sweep runs to ``<out>/<experiment>.jsonl``; return (the file or
    None when there is no run, the sweep notes)."""
    runs, notes = select_runs(experiment, results_dir, list(overrides))
    if runs.empty:
        return None, notes
    chosen = set(runs["config_hash"])
    results = [r for r in read_store(results_dir, experiment) if r.config_hash in chosen]
    results = sorted({r.config_hash: r for r in results}.values(), key=lambda r: r.config_hash)
    path = Path(out) / f"{experiment}{REFERENCE}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(reference_line(r) + "\n" for r in results))
    return path, notes


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser("benchmarks.export", __doc__)
    parser.add_argument("experiments", nargs="+", metavar="EXPERIMENT", help="e.g. gpp_quick")
    parser.add_argument("--results-dir", default="results", help="the store (default: results)")
    add_override(parser, "an override the sweeps were run with (repeatable), to find their runs")
    parser.add_argument(
        "--out", default="results/reference", help="the reference folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    written = 0
    for experiment in args.experiments:
        path, notes = export(experiment, args.results_dir, args.override, args.out)
        for note in notes:
            print(f"{experiment}: {note}")
        if path is None:
            print(
                f"{experiment}: no finished run of its sweep in {args.results_dir}; nothing written"
            )
            continue
        count = sum(1 for _ in path.open())
        print(f"{experiment}: wrote {count} runs to {path}")
        written += 1
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
