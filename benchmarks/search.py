"""Hyperparameter search with Optuna: a resumable study whose trials are ordinary runs.

    python -m benchmarks.search NAME [--trials N] [--study STUDY] [OVERRIDE ...]

NAME names ``conf/search/NAME.yaml`` (or is the path of such a file), which states

- ``overrides``: the Hydra overrides of every trial, e.g. ``[task=nar, model=glstm]``;
- ``params``: the search space, one entry per config key: a list is a choice among its values,
  ``{low, high}`` a uniform range (``log: true``: log-uniform; ``step``: a grid), integer if both
  bounds are integers;
- ``direction`` (``maximize`` for accuracy, ``minimize`` for MSE), ``n_trials`` (how many
  trials should complete) and ``sampler`` (options of Optuna's TPE sampler, e.g. ``seed``).

Trial :math:`t` composes ``conf/`` with ``experiment_name=STUDY progress=false``, then the file's
overrides, then its sampled parameters, then the command line's overrides (last, so they win),
and calls :func:`benchmarks.engine.runner.main` with the composed choices and overrides (what
the run records as its command): a run already in the store is read back, not retrained.
Its objective is the selected epoch's validation metric ``val/<metric>`` (the selection score
for tasks without a validation split).

The study lives in SQLite at ``<results_dir>/search/STUDY.db`` (STUDY defaults to NAME), so the
same command run again continues it until ``n_trials`` trials are COMPLETE (``--trials`` sets
another target). A trial left RUNNING by a killed process is marked FAIL and its parameters are
enqueued again, so its run resumes from its checkpoint. With :math:`k` trials already in the
study the sampler's seed is ``seed + k``: deterministic, and a restart does not propose the first
trials again. One process per study (a lock file). The best trial is printed and written, with
the overrides that reproduce its run, to ``<results_dir>/search/STUDY_best.yaml``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

import optuna
from filelock import FileLock, Timeout
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState
from tqdm import tqdm

from benchmarks.core.errors import ConfigError, require
from benchmarks.engine import runner
from benchmarks.engine.config import CONF_DIR as CONF
from benchmarks.engine.provenance import sweep_of
from benchmarks.engine.results import Sweep
from benchmarks.engine.store import RunDir

SEARCHES = CONF / "search"
DIRECTIONS = ("maximize", "minimize")


def load_search(name: str) -> tuple[str, DictConfig]:
    """The search file for NAME (a file in conf/search/ or a path), checked; and its stem."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else SEARCHES / f"{name}.yaml"
    known = sorted(p.stem for p in SEARCHES.glob("*.yaml"))
    require(path.is_file(), "search", f"no search {name!r} (conf/search/ has {known}, or a path)")
    try:
        spec = OmegaConf.load(path)
    except Exception as err:  # noqa: BLE001 - any parse failure is a bad search file
        raise ConfigError(f"search: {path}: {type(err).__name__}: {err}") from None
    require(isinstance(spec, DictConfig), "search", f"{path} must hold a mapping")
    unknown = set(spec) - {"overrides", "params", "direction", "n_trials", "sampler"}
    require(not unknown, "search", f"{path}: unknown keys {sorted(unknown)}")
    require(
        isinstance(spec.get("overrides", []), ListConfig),
        "search.overrides",
        "must be a list of Hydra overrides",
    )
    require(spec.get("direction") in DIRECTIONS, "search.direction", f"must be one of {DIRECTIONS}")
    n = spec.get("n_trials")
    require(isinstance(n, int) and n > 0, "search.n_trials", f"must be a positive integer, got {n}")
    require(
        isinstance(spec.get("sampler", {}), DictConfig),
        "search.sampler",
        "must be a mapping of TPESampler options",
    )
    require(isinstance(spec.get("params"), DictConfig) and spec.params, "search.params", "empty")
    return path.stem, spec


def distribution(key: str, space) -> BaseDistribution:
    """An Optuna distribution from a search file entry: a list of choices or {low, high, ...}."""
    if isinstance(space, ListConfig):
        require(len(space) > 0, f"search.params.{key}", "no choices")
        return CategoricalDistribution(OmegaConf.to_container(space))
    require(
        isinstance(space, DictConfig) and {"low", "high"} <= set(space),
        f"search.params.{key}",
        "must be a list of choices or a range {low, high[, log, step]}",
    )
    options = OmegaConf.to_container(space)
    unknown = set(options) - {"low", "high", "log", "step"}
    require(not unknown, f"search.params.{key}", f"unknown options {sorted(unknown)}")
    integer = all(isinstance(options[b], int) for b in ("low", "high"))
    try:
        return (IntDistribution if integer else FloatDistribution)(**options)
    except ValueError as err:
        raise ConfigError(f"search.params.{key}: {err}") from None


def as_override(key: str, value) -> str:
    """`key=value` in Hydra's grammar (lower-case booleans, null for None)."""
    if isinstance(value, bool) or value is None:
        value = {True: "true", False: "false", None: "null"}[value]
    return f"{key}={value}"


def first_point(space: dict[str, BaseDistribution]) -> list[str]:
    """Overrides for one point of the space: each first choice or lower bound."""
    return [
        as_override(k, d.choices[0] if isinstance(d, CategoricalDistribution) else d.low)
        for k, d in space.items()
    ]


def compose_run(overrides: list[str]) -> tuple[DictConfig, Sweep]:
    """The config run.py would see for these overrides, and the command (choices and
    overrides) a run records, as run.py passes it."""
    try:
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"overrides: {str(err).splitlines()[0]}") from None
    sweep = sweep_of(cfg.experiment_name, cfg.hydra)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, sweep


def open_study(
    db: Path, study_name: str, spec: DictConfig, base: list[str], overrides: tuple[str, ...]
) -> optuna.Study:
    """Create or load the study; a loaded study must have been run with the same settings."""
    settings = {
        "overrides": base,
        "command_line": list(overrides),
        "direction": spec.direction,
        "params": OmegaConf.to_container(spec.params),
    }
    study = optuna.create_study(
        storage=f"sqlite:///{db}",
        study_name=study_name,
        direction=spec.direction,
        load_if_exists=True,
    )
    stored = study.user_attrs.get("settings")
    if stored is None:
        study.set_user_attr("settings", json.loads(json.dumps(settings)))
    else:
        differ = [k for k in settings if json.loads(json.dumps(settings[k])) != stored.get(k)]
        require(
            not differ,
            "search",
            f"{db} holds study {study_name!r} run with other {', '.join(differ)} "
            f"(stored: {'; '.join(f'{k}={stored.get(k)}' for k in differ)}); "
            "use the same ones, --study NEW for a new study, or delete the file",
        )
    sampler = OmegaConf.to_container(spec.get("sampler", {}))
    if sampler.get("seed") is not None:
        sampler["seed"] += len(study.trials)
    try:
        study.sampler = optuna.samplers.TPESampler(**sampler)
    except TypeError as err:
        raise ConfigError(f"search.sampler: {err}") from None
    return study


def retry_interrupted(study: optuna.Study) -> None:
    """Mark trials left RUNNING by a killed process FAIL and enqueue their parameters again."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        study.tell(trial.number, state=TrialState.FAIL)
        print(f"trial {trial.number} was interrupted: enqueued again (its run resumes)")


def describe(trial: FrozenTrial) -> str:
    params = " ".join(as_override(k, v) for k, v in trial.params.items())
    return f"trial {trial.number}: {trial.user_attrs.get('objective')}={trial.value:.4f}  {params}"


def write_best(study: optuna.Study, path: Path) -> FrozenTrial:
    """Print the best trial and write it, with the overrides that reproduce its run, to `path`."""
    best = study.best_trial
    settings = study.user_attrs["settings"]
    sampled = [as_override(k, v) for k, v in best.params.items()]
    summary = {
        "study": study.study_name,
        "direction": study.direction.name.lower(),
        "objective": best.user_attrs.get("objective"),
        "best_value": best.value,
        "best_trial": best.number,
        "params": best.params,
        "complete_trials": len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))),
        "run": best.user_attrs.get("run"),
        "score": {best.user_attrs.get("score_key"): best.user_attrs.get("score")},
        # python run.py <these> gives the same run
        "overrides": [*settings["overrides"], *sampled, *settings["command_line"]],
    }
    OmegaConf.save(OmegaConf.create(summary), path)
    print(f"best {describe(best)}\n  -> {path}")
    return best


def search(
    name: str,
    trials: int | None = None,
    overrides: tuple[str, ...] = (),
    study_name: str | None = None,
) -> FrozenTrial:
    """Run (or continue) the search NAME until `trials` (default: the file's n_trials) trials
    are complete; return the best trial."""
    stem, spec = load_search(name)
    study_name = study_name or stem
    n_trials = spec.n_trials if trials is None else trials
    require(n_trials > 0, "--trials", f"must be a positive integer, got {n_trials}")
    space = {key: distribution(key, values) for key, values in spec.params.items()}
    base = [f"experiment_name={study_name}", "progress=false", *spec.get("overrides", [])]

    with initialize_config_dir(str(CONF), version_base="1.3"):
        return run_study(study_name, spec, space, n_trials, base, overrides)


def run_study(
    study_name: str,
    spec: DictConfig,
    space: dict[str, BaseDistribution],
    n_trials: int,
    base: list[str],
    overrides: tuple[str, ...],
) -> FrozenTrial:
    """Open the study under its lock, retry interrupted trials, run trials until `n_trials`
    are complete, write the best one."""
    cfg, _ = compose_run([*base, *first_point(space), *overrides])
    runner.prepare(cfg)  # a bad command fails here, before the study is touched
    out = Path(cfg.results_dir) / "search"
    out.mkdir(parents=True, exist_ok=True)
    try:
        lock = FileLock(out / f"{study_name}.lock", timeout=0).acquire()
    except Timeout:
        raise ConfigError(f"search: study {study_name!r} is run by another process") from None
    with lock:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = open_study(out / f"{study_name}.db", study_name, spec, base, overrides)
        retry_interrupted(study)
        complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        failed = 0
        initial = min(complete, n_trials)
        bar = tqdm(total=n_trials, initial=initial, desc=study_name, unit="trial")
        with bar, contextlib.redirect_stdout(AboveTheBar(bar, sys.stdout)):
            while complete < n_trials:
                done = run_trial(study, space, base, overrides)
                complete, failed = complete + done, failed + (not done)
                require(failed < n_trials, "search", f"{failed} trials failed (NaN or busy)")
                bar.update(min(complete, n_trials) - bar.n)
        return write_best(study, out / f"{study_name}_best.yaml")


def run_trial(study: optuna.Study, space: dict, base: list[str], overrides: tuple[str, ...]) -> int:
    """Ask for a trial, run it, tell its objective; 1 if it completed, else 0."""
    trial = study.ask(space)
    sampled = [as_override(k, v) for k, v in trial.params.items()]
    cfg, sweep = compose_run([*base, *sampled, *overrides])
    try:
        result = runner.main(
            cfg, sweep=sweep
        )  # as run.py: bad input is one line on stderr and exit 2
    except SystemExit:
        study.tell(trial, state=TrialState.FAIL)
        raise
    if result is None:
        study.tell(trial, state=TrialState.FAIL)
        print(f"trial {trial.number}: its run is being trained by another process: FAIL")
        return 0
    objective = f"val/{result['metric']}"
    if objective not in result:
        objective = result["score_key"]
    trial.set_user_attr("objective", objective)
    trial.set_user_attr("run", str(RunDir(cfg.results_dir, cfg.experiment_name, cfg).path))
    trial.set_user_attr("score_key", result["score_key"])
    trial.set_user_attr("score", result["score"])
    frozen = study.tell(trial, result[objective])
    if frozen.state != TrialState.COMPLETE:
        print(f"trial {trial.number}: objective {result[objective]} is not a number: FAIL")
        return 0
    print(describe(frozen) + f"  (best: trial {study.best_trial.number})")
    return 1


class AboveTheBar(io.TextIOBase):
    """The runs' stdout during a search: whole lines, written above the progress bar."""

    def __init__(self, bar: tqdm, stream):
        self.bar, self.stream, self.partial = bar, stream, ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        if lines:
            with tqdm.external_write_mode(file=self.bar.fp):  # clear the bar, write, redraw
                self.stream.write("".join(line + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.search",
        description="Resumable Optuna search; each trial is an ordinary run in the store.",
    )
    parser.add_argument("name", help="conf/search/NAME.yaml, or the path of a search file")
    parser.add_argument("--trials", type=int, help="complete trials to reach (default: n_trials)")
    parser.add_argument("--study", help="study name (default: NAME): its DB, best file, runs")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every trial (last)")
    args = parser.parse_intermixed_args(argv)
    try:
        search(args.name, args.trials, tuple(args.overrides), args.study)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
