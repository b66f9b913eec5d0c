"""What a run stores: one declared type, written by the runner, read by every reader.

``result.json`` holds one :class:`RunResult` as a flat JSON object (so that pandas'
``json_normalize`` turns a store into one row per run): the declared fields below, plus the
run's metric values under ``<split>/<metric>`` keys (``test/acc``, ``val/loss``), the task's
problem size under ``size/<key>``, the capacity under ``cap/<key>`` and the sensitivity
measurements under ``sens/<key>``. Report, verify, leaderboard and compare read results through
:func:`read_results`, from a store's run directories or from the tracked reference files alike,
and take the metric's name and direction from the result itself (never from a table of their own).

The sweep a run belongs to is recorded when it runs (:class:`Sweep`): the experiment and the
command line's overrides (a sweep's job lists the values it sweeps), so a reader finds a sweep's
runs without composing any config.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Flat key prefixes of the open-ended parts of a result.
SIZE, CAPACITY, SENSITIVITY = "size/", "cap/", "sens/"
# Directions of the metrics, for results stored before `higher_is_better` was recorded.
STORED_DIRECTIONS = {"acc": True, "ap": True, "mse": False, "log10_mse": False, "mae": False}


@dataclass
class Sweep:
    """The command that made a run: the experiment, its config-group choices and the
    command line's overrides (for a job of a sweep: the values of its swept keys included)."""

    experiment: str | None = None
    choices: dict[str, str] | None = None
    overrides: list[str] | None = None


@dataclass
class RunResult:
    """One finished run.

    Identity: ``experiment`` (the store's folder), ``config_hash`` (of ``config``, the resolved
    config without cosmetic keys), ``task``, ``model`` (the model class, lower case),
    ``model_config`` (the config choice, e.g. ``alon_yahav/gcn``), the seeds.
    Outcome: ``metric`` (the task's reported metric, e.g. ``acc``), ``higher_is_better`` (its
    direction), ``select`` (``best_val`` | ``best_train``), ``score_key`` (``test/acc`` or
    ``train/acc``: the split the protocol reports) and ``score`` (its value at
    ``selected_epoch``); ``metrics``: every ``<split>/<name>`` value of the selected epoch.
    Cost: ``params``, ``width``, ``num_layers``, ``state_floats`` (floats per node carried from
    layer to layer, None where a model has no such state), ``epochs``, ``stopped`` (why training
    ended), ``wall_time_s`` and ``train_time_s`` (over all of a resumed run's attempts),
    ``peak_memory_mb`` with its ``memory_measure``, ``device``.
    """

    experiment: str
    config_hash: str
    task: str
    model: str
    metric: str
    higher_is_better: bool
    select: str
    score_key: str
    score: float
    selected_epoch: int
    epochs: int
    stopped: str
    params: int
    width: int | None
    num_layers: int
    wall_time_s: float
    train_time_s: float
    device: str
    seed: int
    data_seed: int
    model_seed: int
    config: dict[str, Any]
    model_config: str | None = None
    state_floats: int | None = None
    budget: int | None = None
    peak_memory_mb: float | None = None
    memory_measure: str | None = None
    sizes: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    measurements: dict[str, Any] = field(default_factory=dict)
    sweep: Sweep = field(default_factory=Sweep)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON object stored as result.json."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("sizes", "metrics", "measurements"):
            out.pop(name)
        out["sweep"] = dataclasses.asdict(self.sweep)
        return (
            out
            | {f"{SIZE}{k}": v for k, v in self.sizes.items()}
            | self.metrics
            | self.measurements
        )

    @classmethod
    def from_dict(cls, flat: dict[str, Any]) -> RunResult:
        """Read a stored result.json object (one stored before `higher_is_better` and `sweep`
        were recorded gets them from its metric's known direction and its provenance)."""
        declared = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in flat.items() if k in declared}
        values.setdefault("higher_is_better", STORED_DIRECTIONS.get(flat.get("metric"), False))
        provenance = flat.get("provenance") or {}
        sweep = flat.get("sweep") or {
            "experiment": flat.get("experiment"),
            "choices": provenance.get("hydra_choices"),
            "overrides": provenance.get("overrides"),
        }
        values["sweep"] = Sweep(**sweep)
        rest = {k: v for k, v in flat.items() if k not in declared}
        values["sizes"] = {k[len(SIZE) :]: v for k, v in rest.items() if k.startswith(SIZE)}
        values["measurements"] = {
            k: v for k, v in rest.items() if k.startswith((CAPACITY, SENSITIVITY))
        }
        values["metrics"] = {
            k: v
            for k, v in rest.items()
            if "/" in k and not k.startswith((SIZE, CAPACITY, SENSITIVITY))
        }
        return cls(**values)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str))


def read_result(path: str | Path) -> RunResult:
    """One result.json."""
    return RunResult.from_dict(json.loads(Path(path).read_text()))


def read_results(source: str | Path, experiment: str | None = None) -> list[RunResult]:
    """Every finished run of a store (``<source>/runs/<experiment>/*/result.json``; every
    experiment when ``experiment`` is None) or of a reference file (``<source>`` a ``.jsonl``
    file, one result per line), in a stable order."""
    source = Path(source)
    if source.suffix == ".jsonl":
        lines = source.read_text().splitlines()
        results = [RunResult.from_dict(json.loads(line)) for line in lines if line.strip()]
        return [r for r in results if experiment is None or r.experiment == experiment]
    pattern = f"runs/{experiment or '*'}/*/result.json"
    return [read_result(p) for p in sorted(source.glob(pattern))]
