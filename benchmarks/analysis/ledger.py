"""The fidelity ledger: for every experiment (``conf/experiment/*.yaml``) and every paper preset
(``conf/model/<paper>/*.yaml``), where it comes from (paper, repository, commit), how faithful it
is, its known deviations, and, where a store is present, what verify finds.

The data is ``fidelity.yaml`` beside this module; the anchors (``anchors.yaml``) add the number
of published values and how many of them their own public code does not reproduce; a store adds
the verify verdicts. A row's status:

- ``reproduced``: every finished cell within its tolerance (anchors not reproducible by their
  code aside), with the number of cells and seeds;
- ``faithful``: follows its public code, not yet run at scale (or not every cell within);
- ``not reproducible``: the published number is not reproduced by its own public code (the
  evidence is in the row);
- ``own``: this suite's, no published counterpart.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pandas as pd
import yaml

from benchmarks.analysis.anchors import ANCHORS, load_anchors, load_claims
from benchmarks.analysis.runs import has_runs
from benchmarks.analysis.sweeps import lineage, select_runs
from benchmarks.analysis.verification import compare, evaluate_claims, failures
from benchmarks.core.errors import require
from benchmarks.engine.config import CONF_DIR

FIDELITY = Path(__file__).with_name("fidelity.yaml")
STATUSES = ("faithful", "not_reproducible", "own")
COLUMNS = ["kind", "name", "source", "status", "anchors", "verify", "deviations"]


def load_fidelity(path: str | Path = FIDELITY) -> dict:
    """The ledger's data file, checked: every entry names a known source and status."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    sources = data.get("sources") or {}
    for section in ("experiments", "presets"):
        for name, entry in (data.get(section) or {}).items():
            where = f"{section}.{name}"
            require(entry.get("source") in sources, f"{where}.source", "unknown source")
            require(entry.get("status") in STATUSES, f"{where}.status", f"one of {STATUSES}")
            require(
                entry["status"] != "not_reproducible" or bool(entry.get("evidence")),
                f"{where}.evidence",
                "a not_reproducible entry needs its evidence",
            )
    return data


def experiment_names(conf_dir: str | Path = CONF_DIR) -> list[str]:
    return sorted(p.stem for p in (Path(conf_dir) / "experiment").glob("*.yaml"))


def preset_names(conf_dir: str | Path = CONF_DIR) -> list[str]:
    """Paper presets: ``<paper>/<name>`` for every conf/model/<paper>/<name>.yaml."""
    root = Path(conf_dir) / "model"
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.glob("*/*.yaml"))


def experiment_entry(name: str, data: dict) -> dict | None:
    entries = data.get("experiments") or {}
    return next((entries[n] for n in lineage(name) if n in entries), None)


def preset_entry(name: str, data: dict) -> dict | None:
    """The entry of the most specific pattern matching `name` (an exact name beats a glob)."""
    entries = data.get("presets") or {}
    if name in entries:
        return entries[name]
    matching = [p for p in entries if fnmatch.fnmatch(name, p)]
    return entries[max(matching, key=len)] if matching else None


def cite(source: dict) -> str:
    where = source.get("repository") or ""
    if where and source.get("commit"):
        where += f" @{source['commit']}"
    return "; ".join(t for t in (source.get("paper"), where) if t)


def verify_summary(
    experiment: str, results_dir: str | Path | None, anchors_file=ANCHORS, check_sweep=True
):
    """(text, all within) of verify on `experiment`'s stored runs: the cells within out of the
    finished cells, the seeds per cell and the claims that hold; ("", False) without runs."""
    if not has_runs(results_dir, experiment):
        return "", False
    anchors = [a for a in load_anchors(anchors_file)[0] if a.applies_to(experiment)]
    claims = [c for c in load_claims(anchors_file) if c.applies_to(experiment)]
    runs, _ = select_runs(experiment, results_dir, [], check_sweep)
    _, _, text, all_within = verdicts(runs, anchors, claims)
    return text, all_within


def verdicts(runs: pd.DataFrame, anchors: list, claims: list):
    """(cells, claim checks, text, all within) of `runs` against `anchors` and `claims`: the
    comparison table and the claims' checks (None without anchors, claims), the summary ("k of n
    cells within, u outside anchors their own code does not reproduce (n = s seeds)", "k of n
    claim checks hold") and whether every finished cell is within and every finished check
    holds (False with nothing finished)."""
    table = checked = None
    parts, ok, done = [], True, 0
    if anchors:
        table = compare(runs, anchors)
        finished = table[table["verdict"] != "not run"]
        if len(finished):
            within = int((finished["verdict"] == "within").sum())
            seeds = finished["n"].astype(int)
            span = (
                f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}-{seeds.max()}"
            )
            failed = failures(finished)
            unreproducible = int((finished["verdict"] == "outside").sum()) - len(failed)
            text = f"{within} of {len(finished)} cells within"
            if unreproducible:
                text += f", {unreproducible} outside anchors their own code does not reproduce"
            parts.append(f"{text} (n = {span} seed{'s' if span != '1' else ''})")
            ok &= failed.empty
            done += len(finished)
    if claims:
        checked = evaluate_claims(runs, claims)
        finished = checked[checked["verdict"] != "not run"]
        if len(finished):
            holds = int((finished["verdict"] == "holds").sum())
            parts.append(f"{holds} of {len(finished)} claim checks hold")
            ok &= holds == len(finished)
            done += len(finished)
    return table, checked, "; ".join(parts), bool(done) and ok


def anchor_summary(experiment: str, anchors_file=ANCHORS) -> str:
    anchors = [a for a in load_anchors(anchors_file)[0] if a.applies_to(experiment)]
    claims = [c for c in load_claims(anchors_file) if c.applies_to(experiment)]
    parts = []
    if anchors:
        bad = sum(not a.reproducible for a in anchors)
        parts.append(
            f"{len(anchors)}" + (f" ({bad} not reproducible by their code)" if bad else "")
        )
    if claims:
        parts.append(f"{len(claims)} claims")
    return ", ".join(parts)


def ledger(
    results_dir: str | Path | None = None,
    conf_dir: str | Path = CONF_DIR,
    fidelity: str | Path = FIDELITY,
    anchors_file: str | Path = ANCHORS,
    check_sweep: bool = True,
) -> pd.DataFrame:
    """One row per experiment and paper preset (:data:`COLUMNS`); a name the data file does not
    cover gets status ``missing`` (the tests keep there being none). Stored runs count when they
    belong to the experiment's sweep (every stored run with `check_sweep` False)."""
    data = load_fidelity(fidelity)
    sources = data.get("sources") or {}
    rows = []
    for name in experiment_names(conf_dir):
        entry = experiment_entry(name, data) or {}
        status = entry.get("status", "missing")
        checked, ok = verify_summary(name, results_dir, anchors_file, check_sweep)
        if ok and status == "faithful":
            status = "reproduced"
        deviations = list(entry.get("deviations") or [])
        if entry.get("evidence"):
            deviations.insert(0, "evidence: " + entry["evidence"])
        rows.append(
            {
                "kind": "experiment",
                "name": name,
                "source": cite(sources.get(entry.get("source"), {})),
                "status": status.replace("_", " "),
                "anchors": anchor_summary(name, anchors_file),
                "verify": checked or ("no runs" if results_dir else ""),
                "deviations": deviations,
            }
        )
    for name in preset_names(conf_dir):
        entry = preset_entry(name, data) or {}
        rows.append(
            {
                "kind": "preset",
                "name": name,
                "source": cite(sources.get(entry.get("source"), {})),
                "status": entry.get("status", "missing").replace("_", " "),
                "anchors": "",
                "verify": "",
                "deviations": list(entry.get("deviations") or []),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def to_text(table: pd.DataFrame) -> str:
    """The ledger as a Markdown table (deviations joined by "; ")."""
    shown = table.assign(
        deviations=table["deviations"].map(lambda d: "; ".join(" ".join(str(t).split()) for t in d))
    )
    header = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS)
    lines = [
        "| " + " | ".join(str(row[c]).replace("|", "\\|") or "–" for c in COLUMNS) + " |"
        for _, row in shown.iterrows()
    ]
    return "\n".join([header, *lines])
