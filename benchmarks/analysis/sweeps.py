"""Which stored runs belong to an experiment's sweep, and which of its jobs are missing.

A sweep is ``python run.py -m experiment=<name>``: Hydra's basic sweeper expands
``hydra.sweeper.params`` of ``conf/experiment/<name>.yaml`` (inherited params merged), followed by
the command line's overrides, into the cartesian product of their values. Each run records the
overrides it was started with (``RunResult.sweep.overrides``), so a run is matched to a job by
comparing the two as sets of canonical ``key=value`` lines (Hydra's override parser renders each
value, so ``model.khop=True`` and ``model.khop=true`` are one line), without the keys that do not
change a result (``benchmarks.engine.store.COSMETIC_KEYS``, ``hydra.*``) and without
``experiment=<name>`` itself. No config is composed per job.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import pandas as pd
import yaml

from benchmarks.analysis.runs import add_variants, load_runs
from benchmarks.engine.config import CONF_DIR
from benchmarks.engine.store import COSMETIC_KEYS

OVERRIDES = "sweep.overrides"
MISSING_SHOWN = 20


def _parser():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def sweep_source(experiment: str, conf_dir: Path = CONF_DIR) -> Path | None:
    """The experiment file of a store name: ``conf/experiment/<experiment>.yaml`` (an
    experiment's store name is its file stem, ``<name>_quick`` included), or None."""
    path = Path(conf_dir) / "experiment" / f"{experiment}.yaml"
    return path if path.is_file() else None


@functools.cache
def lineage(experiment: str, conf_dir: Path = CONF_DIR) -> tuple[str, ...]:
    """`experiment` and the experiments it extends through its ``defaults:`` list, nearest first
    (``graph_transfer_line`` -> ``graph_transfer_line, graph_transfer``): an experiment shares the
    anchors and the fidelity entry of the one it extends."""
    path = sweep_source(experiment, conf_dir)
    if path is None:
        return (experiment,)
    defaults = (yaml.safe_load(path.read_text()) or {}).get("defaults") or []
    parents = [d for d in defaults if isinstance(d, str) and sweep_source(d, conf_dir)]
    return (experiment, *itertools.chain.from_iterable(lineage(p, conf_dir) for p in parents))


def sweep_params(experiment: str, conf_dir: Path = CONF_DIR) -> list[str] | str:
    """``hydra.sweeper.params`` of ``experiment=<experiment>`` as override lines, with what it
    inherits through ``defaults:`` (composed with Hydra's public compose API); or a line saying
    why there is no such list."""
    from hydra import compose, initialize_config_dir

    if sweep_source(experiment, conf_dir) is None:
        return f"no conf/experiment file gives experiment_name={experiment}"
    with initialize_config_dir(str(Path(conf_dir).resolve()), version_base="1.3"):
        cfg = compose("config", [f"experiment={experiment}"], return_hydra_config=True)
    if cfg.experiment_name != experiment:
        return (
            f"conf/experiment/{experiment}.yaml sets experiment_name={cfg.experiment_name} "
            "(it must equal the file stem)"
        )
    sweeper = cfg.hydra.sweeper
    if not str(sweeper._target_).endswith("BasicSweeper"):
        return f"experiment={experiment} is a sampled sweep ({sweeper._target_.rsplit('.', 1)[-1]})"
    return [f"{key}={value}" for key, value in (sweeper.params or {}).items()]


def expand(lines: list[str]) -> list[list[str]]:
    """The jobs of a basic sweep over override `lines`: one list of ``key=value`` per element of
    the cartesian product of their values; a key given twice keeps its first position and its
    last values (as Hydra's basic sweeper does). Identical jobs are listed once."""
    parser = _parser()
    values: dict[str, list[str]] = {}
    for override in parser.parse_overrides(list(lines)):
        key = override.get_key_element()
        if override.is_sweep_override():
            values[key] = [f"{key}={v}" for v in override.sweep_string_iterator()]
        elif override.is_delete() and override.value() is None:
            values[key] = [key]
        else:
            values[key] = [f"{key}={override.get_value_element_as_str()}"]
    jobs = (list(job) for job in itertools.product(*values.values()))
    return [list(job) for job in dict.fromkeys(tuple(job) for job in jobs)]


def sweep_jobs(
    experiment: str, overrides: list[str] = (), conf_dir: Path = CONF_DIR
) -> list[list[str]] | str:
    """The jobs of ``experiment=<experiment>``'s sweep, each as its list of overrides: the
    sweeper's params, then the command line's `overrides` (which may sweep too, e.g.
    "task.num_keys=4,8"); or a line saying why they cannot be listed."""
    params = sweep_params(experiment, conf_dir)
    if isinstance(params, str):
        return params
    return expand([*params, *overrides])


def _is_cosmetic(key: str) -> bool:
    top = key.lstrip("+~").split(".", 1)[0].split("@", 1)[0]
    return top in COSMETIC_KEYS or top == "experiment"


def job_key(lines) -> frozenset[str] | None:
    """A job's or a run's overrides as the set of canonical ``key=value`` lines that change its
    result (cosmetic keys, ``hydra.*`` and ``experiment=`` left out); the last value of a key
    wins. None for a run that recorded no overrides."""
    if lines is None or (not isinstance(lines, list | tuple) and pd.isna(lines)):
        return None
    parser = _parser()
    canonical: dict[str, str] = {}
    for override in parser.parse_overrides(list(lines)):
        key = override.get_key_element()
        if _is_cosmetic(key):
            continue
        if override.is_delete() and override.value() is None:
            canonical[key] = key
        else:
            canonical[key] = f"{key}={override.get_value_element_as_str()}"
    return frozenset(canonical.values())


def membership(runs: pd.DataFrame, jobs: list[list[str]]) -> tuple[pd.Series, list[list[str]]]:
    """(which runs are jobs of the sweep, the jobs with no run), matching each run's recorded
    overrides (``sweep.overrides``) with the jobs' as sets (:func:`job_key`)."""
    keys = [job_key(job) for job in jobs]
    wanted = set(keys)
    if runs.empty or OVERRIDES not in runs:
        return pd.Series(False, index=runs.index, dtype=bool), list(jobs)
    recorded = runs[OVERRIDES].map(job_key)
    member = recorded.map(lambda key: key is not None and key in wanted).astype(bool)
    done = set(recorded[member])
    return member, [job for job, key in zip(jobs, keys, strict=True) if key not in done]


def select_runs(
    experiment: str,
    results_dir: str | Path = "results",
    overrides: list[str] = (),
    check_sweep: bool = True,
    conf_dir: Path = CONF_DIR,
) -> tuple[pd.DataFrame, list[str]]:
    """The finished runs of `experiment` that belong to its sweep (all of them with
    `check_sweep=False`), and notes: how many of its jobs are done, which are missing, how many
    stored runs were left out."""
    runs = load_runs(results_dir, experiment)
    if not check_sweep:
        return runs, []
    jobs = sweep_jobs(experiment, list(overrides), conf_dir)
    if isinstance(jobs, str):
        return runs, [f"sweep not checked: {jobs}"]
    member, missing = membership(runs, jobs)
    total = len({job_key(job) for job in jobs})
    notes = [f"sweep: {total - len(missing)} of {total} runs done"]
    if missing:
        notes.append(f"missing {len(missing)} runs:")
        notes += ["  " + " ".join(job) for job in missing[:MISSING_SHOWN]]
        if len(missing) > MISSING_SHOWN:
            notes.append(f"  ... and {len(missing) - MISSING_SHOWN} more")
    extra = int((~member).sum())
    if extra:
        unrecorded = int(runs[OVERRIDES].map(job_key).isna().sum()) if OVERRIDES in runs else extra
        notes.append(
            f"{extra} stored runs are not in this sweep and are left out (run with other "
            "overrides? pass them with --override, or --no-check to report every run)"
            + (f"; {unrecorded} of them recorded no overrides" if unrecorded else "")
        )
        runs = runs[member]
        runs = add_variants(runs) if len(runs) else pd.DataFrame()
    return runs, notes
