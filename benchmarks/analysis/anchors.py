"""The published numbers our experiments are checked against: ``anchors.yaml`` beside this
module, with their sources and tolerance rules.

An anchor names the experiments it applies to; an experiment that extends another through its
``defaults:`` (``<name>_quick``, ``graph_transfer_line``) is checked against the anchors of the one
it extends. An anchor group is one model on one
task, with one published value per problem size (``size`` and ``points``) or one ``value`` for a
task without a size, the ``conditions`` a run must have (flattened result keys, e.g.
``config.model.last_layer_fa``), a tolerance rule and a source; optionally what the published
number was trained on (``published_as``), a ``note`` on how it was produced, its
reproducibility ``status`` with the ``evidence`` for it (:data:`STATUSES`), and how the published
number was ``selected`` (:data:`SELECTIONS`): ``mean``, the mean over seeds of one setting (the
default), or ``best``, the best of a grid of settings by the score itself (the published value of
a grid search that selected on the test set), which verify compares with the best of our
variants.

The file's ``absent`` map gives the value a run ran with when its result lacks a key (an option
added after it was stored, whose default it ran with). Its ``claims`` are the qualitative
statements of papers that published a figure only (:class:`Claim`).
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.analysis.runs import format_value, size_column
from benchmarks.analysis.sweeps import lineage
from benchmarks.core.errors import require

ANCHORS = Path(__file__).with_name("anchors.yaml")
QUICK = "_quick"
# An anchor's reproducibility: its public code has not been run on it; its public code reproduces
# it; its public code, run as released on its own data, does not (with the evidence).
STATUSES = {
    "unchecked": "not checked against its public code",
    "reproducible": "reproduced by its public code",
    "not_reproducible": "not reproducible by its public code",
}
# How a published number was selected: one setting's mean over seeds; the best of a grid of
# settings by the score itself.
SELECTIONS = ("mean", "best")


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

    def transform_std(self, value: float, std: float | None) -> float | None:
        """A published std on the rule's scale: as given (linear), or to first order
        std / (value ln 10) in decades (log10)."""
        if std is None or self.scale == "linear":
            return std
        return std / (value * math.log(10))

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
    published_as: str | None = None
    note: str | None = None
    status: str = "unchecked"
    evidence: str | None = None
    absent: tuple[tuple[str, object], ...] = ()
    selected: str = "mean"

    @property
    def reproducible(self) -> bool:
        """False when the public code does not reproduce the published number."""
        return self.status != "not_reproducible"

    def applies_to(self, experiment: str) -> bool:
        return any(name in self.experiments for name in lineage(experiment))

    def matches(self, runs: pd.DataFrame) -> pd.Series:
        """Which rows of a report run table (one row per run) this anchor is about."""
        if runs.empty:
            return pd.Series(dtype=bool)
        keys = [("task", self.task), ("model", self.model), *self.conditions]
        if self.size is not None:
            keys.append(self.size)
        mask = pd.Series(True, index=runs.index)
        absent = dict(self.absent)
        for key, value in keys:
            column = runs[key] if key in runs else pd.Series(np.nan, index=runs.index)
            if key in absent:  # a run stored before the option existed ran with its default
                column = column.map(lambda v, d=absent[key]: d if _missing(v) else v)
            elif key not in runs:
                return pd.Series(False, index=runs.index)
            mask &= column.map(lambda v, value=value: _equal(v, value))
        return mask

    def conditions_label(self, task: bool | None = None) -> str:
        """The conditions as "khop=on topology=ring"; `task` True / False keeps only the
        task's (config.task.*) / the other conditions."""
        return " ".join(
            format_value(key.rsplit(".", 1)[-1], value)
            for key, value in self.conditions
            if task is None or key.startswith("config.task.") == task
        )


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _equal(ours, published) -> bool:
    if isinstance(published, bool) or isinstance(ours, bool | np.bool_):
        return isinstance(ours, bool | np.bool_) and bool(ours) == published
    if isinstance(published, int | float) and isinstance(ours, int | float | np.number):
        return math.isclose(float(ours), float(published))
    return ours == published


# ------------------------------------------------------------------------------------------------
# The anchors file


def read_anchors_file(path: str | Path) -> dict:
    """The parsed anchors file, parsed once per version of the file (its path and mtime)."""
    path = Path(path)
    return copy.deepcopy(_parsed(str(path.resolve()), path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _parsed(path: str, mtime_ns: int) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def load_anchors(path: str | Path = ANCHORS) -> tuple[list[Anchor], dict[str, dict]]:
    """Every anchor in `path` (groups expanded into one anchor per point) and the sources by id.
    A malformed file raises ConfigError naming the entry."""
    data = read_anchors_file(path)
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

    absent = tuple((data.get("absent") or {}).items())
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
        status = group.get("status", "unchecked")
        require(status in STATUSES, f"{where}.status", f"must be one of {', '.join(STATUSES)}")
        require(
            status == "unchecked" or bool(group.get("evidence")),
            f"{where}.evidence",
            f"a status of {status} needs its evidence",
        )
        selected = group.get("selected", "mean")
        require(selected in SELECTIONS, f"{where}.selected", f"must be one of {SELECTIONS}")
        for size, published in points.items():
            value, std = (published, None) if np.isscalar(published) else published
            require(
                std is None or tolerance.scale == "linear" or float(value) > 0,
                f"{where}.tolerance",
                "a published std on a log10-scale rule needs a positive value",
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
                    published_as=group.get("published_as"),
                    note=_text(group.get("note")),
                    status=status,
                    evidence=_text(group.get("evidence")),
                    absent=absent,
                    selected=selected,
                )
            )
    return anchors, sources


def _text(value) -> str | None:
    return None if value is None else " ".join(str(value).split())


def anchors_for(experiment: str, path: str | Path = ANCHORS) -> list[Anchor]:
    """The anchors that apply to `experiment` (and to the experiments it extends)."""
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


def published(experiment: str, summary: pd.DataFrame, path: str | Path = ANCHORS) -> pd.DataFrame:
    """The published points that belong in `experiment`'s figure: its anchors for a task of
    `summary`, with its score key and size key. Columns: model, label, setting, size, value,
    std (see :func:`published_points`)."""
    columns = ["model", "label", "setting", "size", "value", "std"]
    points = published_points(experiment, path)
    if points.empty:
        return pd.DataFrame(columns=columns)
    size = size_column(summary)
    keep = (
        points["task"].isin(summary["task"])
        & (points["score_key"] == summary["score_key"].iloc[0])
        & (points["size_key"] == size if size else points["size_key"].isna())
    )
    points = points.loc[keep, columns].reset_index(drop=True)
    # A panel is named by the task settings that vary in the store; an anchor's other task
    # conditions (e.g. the graph-transfer data's targets) are those the experiment runs.
    shown = {
        w.split("=")[0]
        for s in summary.get("setting", pd.Series(dtype=str))
        for w in str(s).split()
    }
    points["setting"] = [
        " ".join(w for w in setting.split() if w.split("=")[0] in shown)
        for setting in points["setting"]
    ]
    return points


# ------------------------------------------------------------------------------------------------
# Claims: what a paper states about a figure whose numbers it did not publish

CLAIM_RULES = {
    "at_least": "mean ≥ {threshold:g} at every {size} in range",
    "below": "mean < {threshold:g} at every {size} in range",
    "eventually_below": "mean < {threshold:g} from some {size} of the range on",
}


@dataclass(frozen=True)
class Claim:
    """A qualitative statement checked on our cells: for `model` on `task` (among runs with the
    `conditions`), each variant's mean `score_key` per size must follow `rule` against
    `threshold` over the sizes in range: from `min` up to `max`, or up to the run's own value of
    the config key `max_key` (e.g. gLSTM's ``config.model.memory_dim``)."""

    id: str
    experiments: tuple[str, ...]
    text: str
    task: str
    model: str
    score_key: str
    size: str
    rule: str
    threshold: float
    conditions: tuple[tuple[str, object], ...]
    min: float | None
    max: float | None
    max_key: str | None
    source: str

    def applies_to(self, experiment: str) -> bool:
        return any(name in self.experiments for name in lineage(experiment))

    def describe(self) -> str:
        rule = CLAIM_RULES[self.rule].format(
            threshold=self.threshold, size=self.size.removeprefix("size/")
        )
        span = [f"≥ {self.min:g}"] if self.min is not None else []
        span += [f"≤ {self.max:g}"] if self.max is not None else []
        span += [f"≤ {self.max_key.rsplit('.', 1)[-1]}"] if self.max_key else []
        return f"{rule}" + (f" ({', '.join(span)})" if span else "")

    def matches(self, runs: pd.DataFrame) -> pd.Series:
        anchor = Anchor(
            experiments=self.experiments,
            task=self.task,
            model=self.model,
            score_key=self.score_key,
            value=0.0,
            std=None,
            size=None,
            conditions=self.conditions,
            tolerance=Tolerance("claim", 0.0),
            source=self.source,
        )
        return anchor.matches(runs)


def load_claims(path: str | Path = ANCHORS) -> list[Claim]:
    """The ``claims`` of the anchors file; a malformed entry raises ConfigError naming it."""
    data = read_anchors_file(path)
    sources = data.get("sources") or {}
    claims = []
    for i, entry in enumerate(data.get("claims") or []):
        where = f"claims[{i}]"
        needed = ("id", "experiments", "text", "task", "model", "score_key", "size", "rule")
        missing = [k for k in (*needed, "threshold", "source") if k not in entry]
        require(not missing, where, f"missing {', '.join(missing)}")
        require(entry["rule"] in CLAIM_RULES, f"{where}.rule", f"one of {', '.join(CLAIM_RULES)}")
        require(entry["source"] in sources, f"{where}.source", "unknown source")
        experiments = entry["experiments"]
        claims.append(
            Claim(
                id=entry["id"],
                experiments=(experiments,) if isinstance(experiments, str) else tuple(experiments),
                text=_text(entry["text"]),
                task=entry["task"],
                model=entry["model"],
                score_key=entry["score_key"],
                size=entry["size"],
                rule=entry["rule"],
                threshold=float(entry["threshold"]),
                conditions=tuple((entry.get("conditions") or {}).items()),
                min=entry.get("min"),
                max=entry.get("max"),
                max_key=entry.get("max_key"),
                source=entry["source"],
            )
        )
    return claims


def claims_for(experiment: str, path: str | Path = ANCHORS) -> list[Claim]:
    return [c for c in load_claims(path) if c.applies_to(experiment)]
