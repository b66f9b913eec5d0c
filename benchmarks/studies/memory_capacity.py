"""The memory-capacity study (conf/experiment/memory_capacity.yaml): what each kind of xLSTM
memory stores per float of state, from the stored runs of a NAR sweep that record their state
floats per node (benchmarks.analysis.memory has the definitions).

    python -m benchmarks.studies.memory_capacity memory_capacity_quick [--results-dir results]

Writes ``<results-dir>/out/tables/EXPERIMENT_memory.{md,csv,tex}`` and
``<results-dir>/out/figures/EXPERIMENT_memory.png`` (``python -m benchmarks.report EXPERIMENT``
writes them too, beside its own table).
"""

from __future__ import annotations

import sys

from benchmarks.analysis import memory
from benchmarks.analysis.outputs import output_dirs, store_parser
from benchmarks.analysis.summary import capacity
from benchmarks.analysis.sweeps import select_runs


def main(argv: list[str] | None = None) -> int:
    parser = store_parser("benchmarks.studies.memory_capacity", __doc__, "memory_capacity_quick")
    args = parser.parse_args(argv)
    runs, notes = select_runs(args.experiment, args.results_dir, args.override, not args.no_check)
    cap = capacity(runs) if len(runs) else None
    if cap is None or not memory.has_state(runs):
        print(f"{args.experiment}: no NAR runs that record their state floats", *notes, sep="\n")
        return 1
    tables, figures = output_dirs(args.results_dir)
    _, markdown = memory.write_memory(args.experiment, runs, cap, tables, figures)
    print(markdown, *notes, sep="\n")
    print(f"wrote {tables / args.experiment}_memory.{{md,csv,tex}} and {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
