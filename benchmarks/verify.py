"""Our cells against the published numbers.

    python -m benchmarks.verify EXPERIMENT [--results-dir results] [--override KEY=VALUE ...]

The published numbers live in `benchmarks/anchors.yaml`, with their sources and tolerance rules.
An anchor names the experiments it applies to; `<name>_quick` is checked against the anchors of
`<name>` (same tasks and models, fewer sizes and seeds). For every anchor of EXPERIMENT the
command prints one row per variant of our runs that match it (task, model, size and the anchor's
config conditions): ours as mean ± std over seeds (ddof = 1) with the number of runs, the
published value (± its std where published), the difference ours - published, the tolerance and
a verdict: `within`, `outside`, or `not run` when the store has no such run. The runs are those of
the experiment's sweep, selected and aggregated as `benchmarks.report` does (stored runs made with
other settings are left out; pass the sweep's `--override`s). The table is also written to
`<results-dir>/tables/EXPERIMENT_verify.md`.

Exit status: 1 when a finished cell is outside its tolerance, 0 otherwise (cells not run do not
fail), 2 when no anchor applies to EXPERIMENT or anchors.yaml is malformed.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks import report as rep
from benchmarks.core.errors import ConfigError, require

ANCHORS = Path(__file__).with_name("anchors.yaml")
QUICK = "_quick"
VERDICTS = ("within", "outside", "not run")


@dataclass(frozen=True)
class Tolerance:
    r"""How far ours may be from a published value:

    .. math::
        |\bar{x} - p| \le \max(\text{floor},\ a \cdot s,\ b \cdot s_p)

    with :math:`\bar{x}` and :math:`s` our mean and sample std over seeds (ddof = 1, counted as 0
    for one seed), :math:`p` and :math:`s_p` the published mean and std (0 when none is given),
    :math:`a` = `ours_std`, :math:`b` = `published_std`. With `scale="log10"` every value is
    compared as its log10 (ours per seed, before the mean and std).
    """

    name: str
    floor: float
    ours_std: float = 0.0
    published_std: float = 0.0
    scale: str = "linear"

    def bound(self, our_std: float, published_std: float | None) -> float:
        our_std = 0.0 if our_std is None or math.isnan(our_std) else our_std
        return max(self.floor, self.ours_std * our_std, self.published_std * (published_std or 0))

    def transform(self, values):
        return np.log10(values) if self.scale == "log10" else values

    def describe(self) -> str:
        terms = [f"{self.floor:g}"]
        if self.ours_std:
            terms.append(f"{self.ours_std:g} × our std")
        if self.published_std:
            terms.append(f"{self.published_std:g} × published std")
        rule = f"|ours - published| ≤ max({', '.join(terms)})" if len(terms) > 1 else terms[0]
        return f"{self.name}: {rule}" + (" on log10 values" if self.scale == "log10" else "")


@dataclass(frozen=True)
class Anchor:
    """One published number: `value` (± `std`) of `score_key` for `model` on `task` at one
    problem size (`size` = (size key, value), None for tasks without a size), among runs whose
    result.json has the `conditions` (flattened keys, e.g. "config.model.khop")."""

    experiments: tuple[str, ...]
    task: str
    model: str
    score_key: str
    value: float
    std: float | None
    size: tuple[str, float] | None
    conditions: tuple[tuple[str, object], ...]
    tolerance: Tolerance
    source: str

    def applies_to(self, experiment: str) -> bool:
        return experiment in self.experiments or experiment.removesuffix(QUICK) in self.experiments

    def matches(self, runs: pd.DataFrame) -> pd.Series:
        """Which rows of a report run table (one row per run) this anchor is about."""
        if runs.empty:
            return pd.Series(dtype=bool)
        keys = [("task", self.task), ("model", self.model), *self.conditions]
        if self.size is not None:
            keys.append(self.size)
        mask = pd.Series(True, index=runs.index)
        for key, value in keys:
            if key not in runs:
                return pd.Series(False, index=runs.index)
            mask &= runs[key].map(lambda v, value=value: _equal(v, value))
        return mask

    def conditions_label(self, task: bool | None = None) -> str:
        """The conditions as "khop=on topology=ring"; `task` True / False keeps only the
        task's (config.task.*) / the other conditions."""
        return " ".join(
            rep._format_value(key.rsplit(".", 1)[-1], value)
            for key, value in self.conditions
            if task is None or key.startswith("config.task.") == task
        )


def _equal(ours, published) -> bool:
    if isinstance(published, bool) or isinstance(ours, bool | np.bool_):
        return isinstance(ours, bool | np.bool_) and bool(ours) == published
    if isinstance(published, int | float) and isinstance(ours, int | float | np.number):
        return math.isclose(float(ours), float(published))
    return ours == published


# ------------------------------------------------------------------------------------------------
# The anchors file


def load_anchors(path: str | Path = ANCHORS) -> tuple[list[Anchor], dict[str, dict]]:
    """Every anchor in `path` (groups expanded into one anchor per point) and the sources by id.
    A malformed file raises ConfigError naming the entry."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    sources = data.get("sources") or {}
    tolerances = {}
    for name, rule in (data.get("tolerances") or {}).items():
        require(
            isinstance(rule, dict) and "floor" in rule,
            f"tolerances.{name}",
            "needs at least a floor",
        )
        tolerances[name] = Tolerance(name, **rule)
        require(
            tolerances[name].scale in ("linear", "log10"),
            f"tolerances.{name}.scale",
            "must be linear or log10",
        )

    anchors = []
    for i, group in enumerate(data.get("anchors") or []):
        where = f"anchors[{i}]"
        missing = [k for k in ("experiments", "task", "model", "score_key", "tolerance", "source")]
        missing = [k for k in missing if k not in group]
        require(not missing, where, f"missing {', '.join(missing)}")
        require(group["tolerance"] in tolerances, f"{where}.tolerance", "unknown rule")
        require(group["source"] in sources, f"{where}.source", "unknown source")
        require(
            ("points" in group) == ("size" in group) and ("points" in group) != ("value" in group),
            where,
            "needs `size` with `points`, or a `value` (a task without a size)",
        )
        experiments = group["experiments"]
        experiments = (experiments,) if isinstance(experiments, str) else tuple(experiments)
        points = (
            {(group["size"], size): v for size, v in group["points"].items()}
            if "points" in group
            else {None: group["value"]}
        )
        tolerance = tolerances[group["tolerance"]]
        for size, published in points.items():
            value, std = (published, None) if np.isscalar(published) else published
            require(
                std is None or tolerance.scale == "linear",
                f"{where}.tolerance",
                "a published std needs a linear-scale rule",
            )
            anchors.append(
                Anchor(
                    experiments=experiments,
                    task=group["task"],
                    model=group["model"],
                    score_key=group["score_key"],
                    value=float(value),
                    std=None if std is None else float(std),
                    size=size,
                    conditions=tuple((group.get("conditions") or {}).items()),
                    tolerance=tolerance,
                    source=group["source"],
                )
            )
    return anchors, sources


def anchors_for(experiment: str, path: str | Path = ANCHORS) -> list[Anchor]:
    """The anchors that apply to `experiment` (and to `<experiment>` without `_quick`)."""
    return [a for a in load_anchors(path)[0] if a.applies_to(experiment)]


def published_points(experiment: str, path: str | Path = ANCHORS) -> pd.DataFrame:
    """The anchors of `experiment` as a table for plots: task, model, label (the model and the
    anchor's model conditions), setting (its task conditions), score_key, size key, size, value,
    std."""
    rows = [
        {
            "task": a.task,
            "model": a.model,
            "label": f"{a.model} {a.conditions_label(task=False)}".strip(),
            "setting": a.conditions_label(task=True),
            "score_key": a.score_key,
            "size_key": a.size[0] if a.size else None,
            "size": a.size[1] if a.size else np.nan,
            "value": a.value,
            "std": np.nan if a.std is None else a.std,
        }
        for a in anchors_for(experiment, path)
    ]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# The comparison


def compare(runs: pd.DataFrame, anchors: list[Anchor]) -> pd.DataFrame:
    """One row per anchor and variant of our matching runs (one `not run` row when none match):
    ours (mean, std with ddof = 1, n, on the tolerance's scale), published (value, std, on the
    same scale), difference, bound and verdict."""
    rows = []
    for a in anchors:
        base = {
            "task": a.task,
            "model": a.model,
            "size": "" if a.size is None else f"{a.size[0].removeprefix('size/')}={a.size[1]:g}",
            "conditions": a.conditions_label(),
            "score_key": a.score_key,
            "published": float(a.tolerance.transform(a.value)),
            "published_std": a.std,
            "tolerance": a.tolerance.name,
            "source": a.source,
        }
        ours = runs[a.matches(runs)] if len(runs) else runs
        if len(ours) and a.score_key in ours:
            ours = ours[ours[a.score_key].notna()]
        if not len(ours) or a.score_key not in ours:
            rows.append(base | {"variant": "", "n": 0, "verdict": "not run"})
            continue
        scores = a.tolerance.transform(ours[a.score_key].astype(float))
        cells = rep.summarise(ours.assign(score=scores, score_key=a.score_key))
        at_limit = (
            ours.assign(hit=ours["stopped"] == "max_epochs").groupby("variant")["hit"].sum()
            if "stopped" in ours
            else {}
        )
        for _, cell in cells.iterrows():
            hit = int(at_limit.get(cell["variant"], 0))
            difference = cell["mean"] - base["published"]
            bound = a.tolerance.bound(cell["std"], a.std)
            rows.append(
                base
                | {
                    "variant": cell["variant"],
                    "mean": cell["mean"],
                    "std": cell["std"],
                    "n": int(cell["n"]),
                    "difference": difference,
                    "bound": bound,
                    "verdict": "within" if abs(difference) <= bound else "outside",
                    # a run cut by its epoch (round) budget did not finish its protocol
                    "note": f"{hit} of {int(cell['n'])} runs hit the epoch limit" if hit else "",
                }
            )
    columns = ["task", "model", "variant", "size", "conditions", "score_key", "mean", "std", "n"]
    columns += ["published", "published_std", "difference", "bound", "verdict", "note", "tolerance"]
    return pd.DataFrame(rows).reindex(columns=columns + ["source"])


def _number(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3g}"


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison as printed: "mean ± std (n)" cells, signed differences."""

    def ours(row) -> str:
        if row["n"] == 0:
            return "–"
        text = _number(row["mean"])
        if not math.isnan(row["std"]):
            text += f" ± {_number(row['std'])}"
        return f"{text} (n={int(row['n'])})"

    def published(row) -> str:
        std = row["published_std"]
        return _number(row["published"]) + ("" if pd.isna(std) else f" ± {_number(std)}")

    shown = pd.DataFrame(
        {
            "task": table["task"],
            "model": table["model"],
            "variant": table["variant"],
            "size": table["size"],
            "conditions": table["conditions"],
            "score": table["score_key"],
            "ours": table.apply(ours, axis=1),
            "published": table.apply(published, axis=1),
            "difference": table["difference"].map(lambda d: "–" if pd.isna(d) else f"{d:+.3g}"),
            "tolerance": [
                "–" if pd.isna(b) else f"{t} ±{_number(b)}"
                for t, b in zip(table["tolerance"], table["bound"], strict=True)
            ],
            "verdict": table["verdict"],
            "note": table["note"].fillna(""),
            "source": table["source"],
        }
    )
    for optional in ("variant", "conditions"):
        if not shown[optional].astype(bool).any():
            shown = shown.drop(columns=optional)
    return shown


def header(experiment: str, anchors: list[Anchor]) -> str:
    base = experiment.removesuffix(QUICK)
    rules = {a.tolerance.name: a.tolerance for a in anchors}
    lines = [
        f"{experiment} against the published numbers (benchmarks/anchors.yaml"
        + (f", the anchors of {base})" if base != experiment else ")"),
        "",
        "Tolerance (a cell is `within` when the rule holds; one rule per anchor):",
        *[f"- {rule.describe()}" for rule in rules.values()],
        f"- our std: the sample std over seeds (ddof = {rep.DDOF}); with one seed it is undefined "
        "and counts as 0. Cells `not run` do not fail.",
    ]
    return "\n".join(lines)


def footer(anchors: list[Anchor], sources: dict[str, dict]) -> str:
    used = dict.fromkeys(a.source for a in anchors)
    lines = ["Sources:"]
    for key in used:
        source = sources[key]
        cite = " ".join(str(source.get("cite", "")).split())
        lines.append(f"- {key}: {cite}" + (f" <{source['url']}>" if source.get("url") else ""))
    return "\n".join(lines)


def verify(
    experiment: str,
    results_dir: str | Path = "results",
    overrides: list[str] = (),
    check_sweep: bool = True,
    anchors_file: str | Path = ANCHORS,
) -> tuple[pd.DataFrame, int]:
    """Compare `experiment`'s stored runs with its anchors; print and write the table. Returns
    the comparison (one row per cell) and the exit status."""
    anchors, sources = load_anchors(anchors_file)
    anchors = [a for a in anchors if a.applies_to(experiment)]
    require(
        bool(anchors),
        "experiment",
        f"no anchor in {anchors_file} applies to {experiment!r} "
        "(anchors list their experiments; `<name>_quick` uses those of `<name>`)",
    )
    runs, notes = rep.select_runs(experiment, results_dir, list(overrides), check_sweep)
    table = compare(runs, anchors)
    counts = table["verdict"].value_counts()
    tally = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
    text = "\n\n".join(
        [
            header(experiment, anchors),
            rep.to_markdown(display(table)),
            f"{len(table)} cells: {tally}.",
            footer(anchors, sources),
        ]
    )
    path = Path(results_dir) / "tables" / f"{experiment}_verify.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(text)
    if notes:
        print("\n" + "\n".join(notes))
    print(f"\nwrote {path}")
    return table, int(counts.get("outside", 0) > 0)


def main(argv: list[str] | None = None) -> int:
    parser = rep.store_parser("benchmarks.verify", __doc__, "tree_neighbors_match")
    parser.add_argument(
        "--anchors",
        default=str(ANCHORS),
        help="the anchors file (default: benchmarks/anchors.yaml)",
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
