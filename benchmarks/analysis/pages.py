"""The documentation's generated parts, built from the reference results.

The reference results are the tracked per-seed results of the experiments' sweeps,
``results/reference/<experiment>.jsonl`` (written by ``python -m benchmarks.export``). From them
and the suite's data files (the experiment files, ``fidelity.yaml``, ``anchors.yaml``) this module
renders Markdown blocks, each the text between ``<!-- generated:NAME -->`` and
``<!-- /generated -->`` in a page:

- ``experiments``: every experiment with its runs, the runtime of its reference runs, its
  fidelity status and the verify summary (the README and the reproducing page);
- ``experiment-<name>``: one experiment's command, runtime, status, deviations, its report table
  and its verify table (the reproducing page);
- ``ledger``: the fidelity ledger (experiments and paper presets; the protocols page);
- ``leaderboard``: the leaderboard over the reference's quick stores, and its critical-difference
  diagram (the comparing page);
- ``figure``: the README's figure.

Every block says what it was built from: the reference results' code commit and the latest time
one of them finished (never the time of generation), so the same reference gives the same
bytes. Figures are written without metadata (no software version, no time).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmarks.analysis import board, cd_diagram, ranking, rows
from benchmarks.analysis.anchors import ANCHORS, QUICK, load_anchors, load_claims
from benchmarks.analysis.ledger import FIDELITY, experiment_names, ledger, to_text, verdicts
from benchmarks.analysis.runs import REFERENCE, add_variants, flatten_results
from benchmarks.analysis.summary import capacity, summarise
from benchmarks.analysis.tables import to_markdown, wide_table
from benchmarks.analysis.verification import display, footer, header
from benchmarks.engine.config import CONF_DIR
from benchmarks.engine.results import RunResult, read_results

GENERATOR = "python -m benchmarks.docs"
START, END = "<!-- generated:{name} -->", "<!-- /generated -->"
BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.S
)
NONE = "–"
# The README's figure: this experiment's report figure when the reference holds it.
FIGURE_EXPERIMENT = "nar_capacity_quick"
FIGURE_FALLBACK = "results/figures/nar_capacity_quick.png"
LEADERBOARD_FIGURE = "docs/figures/leaderboard_quick_cd.png"
# Every figure the generator may write (a figure it does not write this time is removed).
FIGURES = (LEADERBOARD_FIGURE, f"docs/figures/{FIGURE_EXPERIMENT}.png")


# ------------------------------------------------------------------------------------------------
# The reference


@dataclass
class Reference:
    """The reference results, per experiment (``<root>/<experiment>.jsonl``), each list sorted
    by config hash."""

    root: Path
    results: dict[str, list[RunResult]] = field(default_factory=dict)

    def runs(self, experiment: str) -> pd.DataFrame:
        """One experiment's results as the readers' table (:func:`runs.load_runs`'s)."""
        results = self.results.get(experiment, [])
        if not results:
            return pd.DataFrame()
        return add_variants(flatten_results([r.to_dict() for r in results]))

    def all(self) -> list[RunResult]:
        return [r for results in self.results.values() for r in results]


def load_reference(root: str | Path) -> Reference:
    """Every ``<root>/*.jsonl`` reference file (an empty reference when there is none)."""
    root = Path(root)
    results = {}
    for path in sorted(root.glob(f"*{REFERENCE}")):
        found = sorted(read_results(path, path.stem), key=lambda r: r.config_hash)
        if found:
            results[path.stem] = found
    return Reference(root, results)


def _counted(counter: Counter) -> str:
    if len(counter) == 1:
        return str(next(iter(counter)))
    return ", ".join(f"{value} ({n} runs)" for value, n in sorted(counter.items(), key=str))


def commit_text(results: list[RunResult]) -> str:
    """The code commit(s) the results ran (short hashes; "with local changes" where the
    checkout was dirty)."""

    def one(r: RunResult) -> str:
        p = r.provenance or {}
        commit = (p.get("git_commit") or "")[:7] or f"package {p.get('package_version')}"
        return commit + (" with local changes" if p.get("git_dirty") else "")

    return _counted(Counter(one(r) for r in results))


def machine_text(results: list[RunResult]) -> str:
    """Where the results ran: CPU model and cores, or the GPU (and torch threads if recorded)."""

    def one(r: RunResult) -> str:
        p = r.provenance or {}
        if p.get("gpu"):
            return str(p["gpu"])
        text = f"{p.get('cpu') or 'CPU'}, {p.get('cpu_cores', '?')} cores"
        return text + (f", {p['threads']} threads per run" if p.get("threads") else "")

    return _counted(Counter(one(r) for r in results))


def finished(results: list[RunResult]) -> str:
    """The latest finish time of the results (UTC, to the minute), or "–"."""
    times = [str((r.provenance or {}).get("finished") or "") for r in results]
    times = [t for t in times if t]
    return max(times)[:16].replace("T", " ") + " UTC" if times else NONE


def stamp(reference: Reference, experiments: list[str] | None = None) -> str:
    """One line: what a block was built from (the reference's commit and latest finish time,
    what it covers). Deterministic in the reference."""
    names = [e for e in (experiments or sorted(reference.results)) if e in reference.results]
    results = [r for e in names for r in reference.results[e]]
    if not results:
        return (
            f"*Generated by `{GENERATOR}`. The reference set (`results/reference/`) holds no "
            "results for this block: runtimes and verdicts are empty.*"
        )
    covered = ", ".join(f"{e} ({len(reference.results[e])} runs)" for e in names)
    return (
        f"*Generated by `{GENERATOR}` from `results/reference/` (code {commit_text(results)}; "
        f"latest run finished {finished(results)}; ran on {machine_text(results)}). "
        f"Covers: {covered}.*"
    )


# ------------------------------------------------------------------------------------------------
# Experiments and their status


def sweep_size(experiment: str, conf_dir: str | Path = CONF_DIR) -> int | None:
    """The number of runs the experiment's sweep launches (its file's ``# jobs: N`` line)."""
    path = Path(conf_dir) / "experiment" / f"{experiment}.yaml"
    found = re.search(r"^# jobs: (\d+)", path.read_text(), re.M) if path.is_file() else None
    return int(found.group(1)) if found else None


def duration(seconds: float) -> str:
    """A wall time for people: "40 s", "12 min", "3.4 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def runtime(reference: Reference, experiment: str, conf_dir: str | Path = CONF_DIR) -> str:
    """The sum of the reference runs' wall times (one after another), with the share of the
    sweep they cover when it is partial; "–" without reference runs."""
    results = reference.results.get(experiment, [])
    if not results:
        return NONE
    total = duration(sum(r.wall_time_s for r in results))
    jobs = sweep_size(experiment, conf_dir)
    return (
        total
        if jobs is None or len(results) >= jobs
        else f"{total} for {len(results)} of {jobs} runs"
    )


@dataclass
class Verification:
    """verify on one experiment's reference runs: the anchor table, the claims, the summary."""

    anchors: list
    claims: list
    table: pd.DataFrame | None = None
    checked: pd.DataFrame | None = None
    summary: str = ""
    all_within: bool = False


def verification(
    reference: Reference, experiment: str, anchors: list, claims: list
) -> Verification:
    """Compare `experiment`'s reference runs with its anchors and claims (of every experiment:
    :func:`load_anchors`, :func:`load_claims`), summarised as the ledger summarises a store
    (:func:`benchmarks.analysis.ledger.verdicts`)."""
    anchors = [a for a in anchors if a.applies_to(experiment)]
    claims = [c for c in claims if c.applies_to(experiment)]
    out = Verification(anchors, claims)
    runs = reference.runs(experiment)
    if runs.empty or not (anchors or claims):
        return out
    out.table, out.checked, out.summary, out.all_within = verdicts(runs, anchors, claims)
    return out


def status_table(
    reference: Reference,
    conf_dir: str | Path = CONF_DIR,
    fidelity: str | Path = FIDELITY,
    anchors_file: str | Path = ANCHORS,
) -> tuple[pd.DataFrame, dict[str, Verification]]:
    """The fidelity ledger (:func:`benchmarks.analysis.ledger.ledger`) with the experiments'
    verify column and status taken from the reference (``reproduced`` where a ``faithful``
    experiment's finished cells are all within and its claims hold), and the verification of
    each experiment."""
    table = ledger(None, conf_dir, fidelity, anchors_file)
    anchors, claims = load_anchors(anchors_file)[0], load_claims(anchors_file)
    checks = {}
    for i, row in table.iterrows():
        if row["kind"] != "experiment":
            continue
        checks[row["name"]] = checked = verification(reference, row["name"], anchors, claims)
        table.at[i, "verify"] = checked.summary or (
            "no reference runs" if row["name"] not in reference.results else ""
        )
        if checked.all_within and row["status"] == "faithful":
            table.at[i, "status"] = "reproduced"
    return table, checks


def experiments_block(
    reference: Reference,
    table: pd.DataFrame,
    conf_dir: str | Path = CONF_DIR,
    link: str | None = None,
) -> str:
    """The experiments table: name, runs of the sweep, runtime of the reference runs, status,
    verify summary (`table`: :func:`status_table`'s). `link`: the page holding each
    experiment's section (a link per name)."""
    rows = table[table["kind"] == "experiment"]
    lines = [
        "| experiment | runs | runtime | status | verify |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for row in rows.itertuples():
        name = f"`{row.name}`"
        if link:
            name = f"[{name}]({link}#{anchor(row.name)})"
        jobs = sweep_size(row.name, conf_dir)
        verify = row.verify if row.verify and row.verify != "no reference runs" else NONE
        lines.append(
            f"| {name} | {jobs if jobs is not None else NONE} | "
            f"{runtime(reference, row.name, conf_dir)} | {row.status} | {verify} |"
        )
    note = (
        "runs: the sweep's jobs; runtime: the reference runs' wall times added up (one run after "
        "another); status: the fidelity ledger's (`python -m benchmarks.ledger`), `reproduced` "
        "where every finished cell of the reference is within its tolerance; verify: "
        "`python -m benchmarks.verify` on the reference runs."
    )
    return "\n".join([stamp(reference), "", *lines, "", note])


def anchor(name: str) -> str:
    """The heading id MkDocs and code hosts give a heading made of `name` in backquotes."""
    return re.sub(r"[^\w-]", "", name.lower())


def ledger_block(reference: Reference, table: pd.DataFrame) -> str:
    """The whole fidelity ledger (:func:`status_table`'s), experiments and presets."""
    return f"{stamp(reference)}\n\n{to_text(table)}"


def experiment_block(
    reference: Reference,
    experiment: str,
    table: pd.DataFrame,
    checked: Verification,
    conf_dir: str | Path = CONF_DIR,
    anchors_file: str | Path = ANCHORS,
) -> str:
    """One experiment's section body: commands, runtime, status, deviations and, from the
    reference, its report table and verify table (`table`, `checked`: :func:`status_table`'s)."""
    row = table[table["kind"] == "experiment"].set_index("name").loc[experiment]
    commands = [
        f"python run.py -m experiment={experiment}",
        f"python -m benchmarks.report {experiment}",
    ]
    if checked.anchors or checked.claims:
        commands.append(f"python -m benchmarks.verify {experiment}")
    jobs = sweep_size(experiment, conf_dir)
    parts = [
        "```bash\n" + "\n".join(commands) + "\n```",
        f"Runs: {jobs if jobs is not None else NONE}; runtime of the reference runs: "
        f"{runtime(reference, experiment, conf_dir)}; status: **{row['status']}**"
        + (f"; source: {row['source']}" if row["source"] else "")
        + ".",
    ]
    deviations = [" ".join(str(d).split()) for d in row["deviations"]]
    if deviations:
        parts.append("Known deviations:\n\n" + "\n".join(f"- {d}" for d in deviations))
    if experiment not in reference.results:
        parts.append("Not in the reference set.")
        return "\n\n".join(parts)
    parts.append(stamp(reference, [experiment]))
    runs = reference.runs(experiment)
    summary = summarise(runs)
    parts.append(
        "Results (mean ± std over seeds, n):\n\n" + to_markdown(wide_table(summary, capacity(runs)))
    )
    if checked.table is not None:
        _, sources = load_anchors(anchors_file)
        parts += [
            header(experiment, checked.anchors),
            to_markdown(display(checked.table)),
            footer(checked.anchors, sources),
        ]
    if checked.checked is not None:
        parts.append("Claims:\n\n" + to_markdown(checked.checked.drop(columns=["source"])))
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------------------------
# Leaderboard and figures


def png_bytes(path: Path) -> bytes:
    """A PNG's pixels re-encoded without text chunks (matplotlib writes its version there)."""
    from PIL import Image

    with Image.open(path) as image:
        out = io.BytesIO()
        image.save(out, format="PNG")
    return out.getvalue()


def leaderboard_block(
    reference: Reference, scratch: Path, figure: str = LEADERBOARD_FIGURE
) -> tuple[str, dict[str, bytes]]:
    """The leaderboard over the reference's quick stores (Markdown) and its figure files
    (repository path -> PNG bytes; none when fewer than three models share a common set).
    `scratch`: a folder for matplotlib's output before its metadata is removed."""
    names = sorted(e for e in reference.results if e.endswith(QUICK))
    results = [r.to_dict() for e in names for r in reference.results[e]]
    if not results:
        return f"{stamp(reference, names)}\n\nNo quick experiment in the reference set.", {}
    runs = flatten_results(results).drop_duplicates("config_hash").reset_index(drop=True)
    runs = rows.label_runs(runs)
    cells = ranking.against_best(runs, ranking.cell_table(runs))
    columns = ranking.column_order(cells)
    block = ranking.summary(cells)
    totals = ranking.model_totals(runs, cells, block, columns)
    table = board.wide_table(cells, totals, columns)
    parts = [stamp(reference, names), to_markdown(table), board.caption(cells, block)]
    files = {}
    if block is not None and block.friedman is not None:
        f = block.friedman
        title = f"quick stores: mean ranks over {f.n} task instances; Friedman p = {f.p:.3g}"
        drawn = cd_diagram.draw(f.mean_ranks, f.critical_difference, scratch / "cd.png", title)
        files[figure] = png_bytes(drawn)
        parts.append(
            f"![Critical-difference diagram of the quick stores](figures/{Path(figure).name})"
        )
    return "\n\n".join(parts), files


def figure_block(
    reference: Reference, scratch: Path, experiment: str = FIGURE_EXPERIMENT
) -> tuple[str, dict[str, bytes]]:
    """The README's figure: `experiment`'s report figure from the reference (written to
    ``docs/figures/``), else the tracked figure of the same report."""
    from benchmarks.analysis.figures import figure

    caption = (
        f"`{experiment}`: recall accuracy, selected/background Jacobian ratio and mean Jacobian "
        "norm against the number of keys N, per model"
    )
    alt = f"{experiment}: accuracy and sensitivity against N"
    if experiment not in reference.results:
        command = f"`python -m benchmarks.report {experiment}`"
        return f"![{alt}]({FIGURE_FALLBACK})\n\n*{caption} ({command}).*", {}
    path = f"docs/figures/{experiment}.png"
    figure(summarise(reference.runs(experiment)), experiment, scratch / "figure.png")
    text = f"![{alt}]({path})\n\n*{caption}.* {stamp(reference, [experiment])}"
    return text, {path: png_bytes(scratch / "figure.png")}


# ------------------------------------------------------------------------------------------------
# Pages


def fill(text: str, blocks: dict[str, str], where: str = "page") -> str:
    """`text` with the body of every ``<!-- generated:NAME -->`` block replaced by
    ``blocks[NAME]``; ValueError for a block with no content to put in it."""

    def body(match: re.Match) -> str:
        name = match["name"]
        if name not in blocks:
            raise ValueError(f"{where}: no generator for block {name!r}")
        return f"{match[1]}\n{blocks[name].strip()}\n\n{match[4]}"

    return BLOCK.sub(body, text)


def block_names(text: str) -> list[str]:
    return [m["name"] for m in BLOCK.finditer(text)]


def render(
    reference_dir: str | Path,
    pages: dict[str, str],
    scratch: Path,
    conf_dir: str | Path = CONF_DIR,
    fidelity: str | Path = FIDELITY,
    anchors_file: str | Path = ANCHORS,
) -> dict[str, str | bytes]:
    """Every generated output: `pages` (repository path -> text with generated blocks) filled
    in, plus the figures (repository path -> PNG bytes). `scratch`: an empty folder."""
    reference = load_reference(reference_dir)
    names = {name for text in pages.values() for name in block_names(text)}
    blocks: dict[str, str] = {}
    files: dict[str, str | bytes] = {}
    table, checks = status_table(reference, conf_dir, fidelity, anchors_file)
    blocks["experiments"] = experiments_block(reference, table, conf_dir)
    blocks["experiments-linked"] = experiments_block(reference, table, conf_dir, link="")
    blocks["ledger"] = ledger_block(reference, table)
    for experiment in experiment_names(conf_dir):
        blocks[f"experiment-{experiment}"] = experiment_block(
            reference, experiment, table, checks[experiment], conf_dir, anchors_file
        )
    if "leaderboard" in names:
        blocks["leaderboard"], figures = leaderboard_block(reference, scratch)
        files |= figures
    if "figure" in names:
        blocks["figure"], figures = figure_block(reference, scratch)
        files |= figures
    for path, text in pages.items():
        files[path] = fill(text, blocks, path)
    return files
