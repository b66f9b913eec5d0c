"""Tables and figures of one experiment, built from the results store.

    python -m benchmarks.report EXPERIMENT [--results-dir results] [--override KEY=VALUE ...]

EXPERIMENT is the store's experiment name (`results/runs/<EXPERIMENT>/`), which is the file stem
of its sweep, `conf/experiment/<EXPERIMENT>.yaml`: e.g. `nar_capacity`, or `nar_capacity_quick`
for its laptop-sized version. The report

- reads every finished run's result.json (no W&B, no network) and keeps the runs of the sweep
  `experiment=EXPERIMENT`, matched by the overrides each run recorded; it says which jobs are
  missing (a partial sweep reports what it has) and leaves out stored runs made with other
  settings (benchmarks.analysis.sweeps);
- groups runs by (task, model, variant, problem size), where the variant is whatever else varies
  within a model's runs at one size (e.g. d_k, width, k-hop, the number of training graphs), and
  aggregates over seeds: mean, standard deviation with ddof = 1 (undefined for one seed), number
  of runs, parameters; the metric's name and direction come from the results;
- adds, for NAR-style classification over `num_keys`, the capacity per model and variant: the
  largest N recalled at mean accuracy >= 0.9 (">= N" when the sweep stopped while still above,
  "< N" when below at its first point) and the peak stored bits;
- writes `<results-dir>/out/tables/EXPERIMENT.{md,csv,tex}` and
  `<results-dir>/out/figures/EXPERIMENT.png` (an ignored folder): the metric against problem
  size, one style per variant, ±1 std bands where there is more than one seed, the chance level
  and the published numbers (benchmarks/analysis/anchors.yaml); plus, where the runs record
  their state floats per node, the memory study's `EXPERIMENT_memory.{md,csv,tex,png}`.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from benchmarks.analysis import memory
from benchmarks.analysis.figures import figure
from benchmarks.analysis.outputs import output_dirs, store_parser
from benchmarks.analysis.summary import capacity, summarise, varied_text
from benchmarks.analysis.sweeps import select_runs
from benchmarks.analysis.tables import capacity_note, caption, to_latex, to_markdown, wide_table
from benchmarks.engine.config import CONF_DIR


def report(
    experiment: str,
    results_dir: str | Path = "results",
    overrides: list[str] = (),
    check_sweep: bool = True,
) -> dict:
    """Build the tables and the figure of `experiment`; return the pieces and print the Markdown
    table with what is missing from the sweep."""
    results_dir = Path(results_dir)
    runs, notes = select_runs(experiment, results_dir, overrides, check_sweep)
    if runs.empty:
        where = results_dir / "runs" / experiment
        print("\n".join([f"{experiment}: no finished runs in {where}", *notes]))
        return {"runs": runs, "notes": notes}

    summary = summarise(runs)
    cap = capacity(runs)
    table = wide_table(summary, cap)
    varied = varied_text(runs)
    text = caption(experiment, summary, varied)
    tables, figures = output_dirs(results_dir)
    tables.mkdir(parents=True, exist_ok=True)
    markdown = "\n\n".join(filter(None, [to_markdown(table), text, capacity_note(cap)])) + "\n"
    (tables / f"{experiment}.md").write_text(markdown)
    csv = summary.merge(cap.reset_index(), how="left") if cap is not None else summary
    csv.to_csv(tables / f"{experiment}.csv", index=False)
    (tables / f"{experiment}.tex").write_text(to_latex(table, text, experiment))
    fig = figure(summary, experiment, figures / f"{experiment}.png")
    out = {"runs": runs, "summary": summary, "capacity": cap, "table": table, "notes": notes}
    out |= {"figure": fig, "varied": varied}
    if cap is not None and memory.has_state(runs):
        out["memory"], memory_markdown = memory.write_memory(experiment, runs, cap, tables, figures)
        markdown += f"\n{memory_markdown}"

    print(markdown)
    print("\n".join(notes))
    print(f"wrote {tables / experiment}.{{md,csv,tex}} and {figures / experiment}.png")
    return out


def main(argv: list[str] | None = None) -> int:
    args = store_parser("benchmarks.report", __doc__, "nar_capacity_quick").parse_args(argv)
    known = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
    stored = Path(args.results_dir) / "runs" / args.experiment
    if args.experiment not in known and args.experiment != "default" and not stored.is_dir():
        close = difflib.get_close_matches(args.experiment, known, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        print(
            f"error: experiment: unknown experiment {args.experiment!r} (no conf/experiment file, "
            f"no runs in {stored}); {hint}experiments: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    out = report(args.experiment, args.results_dir, args.override, not args.no_check)
    return 0 if "summary" in out else 1


if __name__ == "__main__":
    sys.exit(main())
