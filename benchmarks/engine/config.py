"""The run config's one schema: the type, range and allowed values of every key, checked before
anything runs.

Hydra composes `conf/` into one config; `validate(cfg)` checks it and raises one `ConfigError`
naming the first bad key, so the runner can refuse it with one line and exit status 2 before the
store is touched. The fixed groups (`train`, `logger`, `sensitivity`) and the top-level keys are the
dataclasses below: a field's type is checked by OmegaConf, its range or options by the `metadata`
of the field. `task` and `model` vary by `_target_`: their keys must be arguments of the class
(`check_target`), with the annotated types; their ranges are checked by the class when the runner
builds it (before anything is written), and the keys every model shares (`MODEL_KEYS`) here.

Also registers the `pick` resolver, with which a YAML file writes a published table keyed by an
explicit setting (Alon & Yahav's batch per depth and model class, the gLSTM code's config per
GPP target).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import tempfile
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmarks.core.errors import ConfigError, require

SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout, when run from one
CONF_DIR = SOURCE_ROOT / "conf"  # the Hydra config groups


def option(*choices, default=MISSING):
    return field(default=default, metadata={"choices": choices})


def number(low=None, high=None, *, low_open=False, high_open=False, default=MISSING):
    """A number in [low, high] (an end may be open or absent); None passes where the type allows."""
    return field(
        default=default,
        metadata={"low": low, "high": high, "low_open": low_open, "high_open": high_open},
    )


@dataclass
class TrainSchema:
    optimizer: str = option("adamw", "adam")
    lr: float = number(0, low_open=True)
    weight_decay: float = number(0)
    batch_size: int = number(1)
    accumulate: int = number(1)
    max_epochs: int = number(1)
    passes_per_epoch: int = number(1)
    scheduler: str = option("cosine", "plateau", "none")
    warmup_epochs: int = number(0)
    plateau_factor: float = number(0, 1, low_open=True, high_open=True)
    plateau_patience: int = number(0)
    # Absent from the train files: the defaults are the schedule as it always ran.
    # plateau_monitor: select (the selection metric) | loss (the selection split's loss)
    plateau_monitor: str = option("select", "loss", default="select")
    plateau_threshold_mode: str = option("abs", "rel", default="abs")  # as ReduceLROnPlateau's
    plateau_threshold: float | None = number(0, default=None)  # null: min_delta
    min_lr: float = number(0, default=0.0)  # plateau: the LR floor
    grad_clip: float | None = number(0, low_open=True)
    select: str = option("best_val", "best_train")
    patience: int = number(1)
    min_delta: float = number(0)
    stop_loss: float | None = number(0)
    stop_acc: float | None = number(0, 1)


@dataclass
class LoggerSchema:
    name: str = option("wandb", "none")
    mode: str | None = option("offline", "online", "disabled", None, default=None)
    project: str | None = None
    entity: str | None = None
    group: str | None = None
    dir: str | None = None


@dataclass
class SensitivitySchema:
    enabled: bool = MISSING
    num_graphs: int = number(1)
    mixing: bool = MISSING


@dataclass
class RunSchema:
    task: Any = MISSING  # checked against its `_target_` class
    model: Any = MISSING
    train: TrainSchema = field(default_factory=TrainSchema)
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    sensitivity: SensitivitySchema = field(default_factory=SensitivitySchema)
    experiment_name: str = MISSING
    seed: int = number(0)
    data_seed: int = number(0)
    model_seed: int = number(0)
    device: str = MISSING  # auto | cpu | cuda | cuda:N (availability: runner.resolve_device)
    threads: Any = MISSING  # auto (cores // parallel jobs) | a positive integer
    overwrite: bool = MISSING
    wait_for_running: bool = MISSING
    results_dir: str = MISSING
    progress: Any = MISSING  # auto (only on a terminal) | true | false
    budget: int | None = number(1)  # parameters; null: use model.dim
    amp: str | None = MISSING  # null (float32) | bf16
    deterministic: bool | None = MISSING  # true: torch's deterministic algorithms (null: off)
    rewiring: Any = None  # a conf/rewiring/ transform (checked when it is built) or absent
    virtual_node: bool | None = MISSING  # true: one virtual node per graph (null: none)


# Keys every model shares, wherever a model has them: [low, high] (dropout: [0, 1)).
MODEL_KEYS = {"dim": (1, None), "num_layers": (1, None), "heads": (1, None), "dropout": (0, 1)}


def validate(cfg: DictConfig) -> None:
    """Check the whole run config; raise ConfigError("<key>: <why>") for the first bad key.
    Task and model first, since the protocol's values may be computed from theirs."""
    keys = ["task", "model", *(k for k in cfg if k not in ("task", "model", "hydra"))]
    values = {}
    for key in keys:
        try:
            node = cfg[key]
            values[key] = (
                OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
            )
        except OmegaConfBaseException as err:
            raise ConfigError(
                f"{err.full_key or key}: {first_line(err)}{belongs_to(err)}"
            ) from None
        if key in ("task", "model"):
            check_target(key, values[key])
    try:
        checked = OmegaConf.merge(OmegaConf.structured(RunSchema), values)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{err.full_key}: {first_line(err)}") from None
    missing = sorted(OmegaConf.missing_keys(checked))
    require(not missing, missing[0] if missing else "", "is missing a value")
    check_fields(RunSchema, checked, "")
    check_run_keys(checked)
    for key, (low, high) in MODEL_KEYS.items():
        value = values["model"].get(key)
        if value is not None:
            check_number(f"model.{key}", value, low, high, high_open=key == "dropout")


def first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


def belongs_to(err: Exception) -> str:
    """For a preset that reads a key of another task (`${task.target}` on NAR): which tasks
    have that key, e.g. " (this setting reads task.target, which only task gpp has)"."""
    missing = re.search(r"Interpolation key 'task\.(\w+)' not found", str(err))
    if not missing:
        return ""
    key = missing.group(1)
    tasks = sorted(
        p.stem
        for p in (CONF_DIR / "task").glob("*.yaml")
        if re.search(rf"^{key}:", p.read_text(), flags=re.M)
    )
    where = f"only task {' or '.join(tasks)} has" if tasks else "no task has"
    return (
        f" (this setting reads task.{key}, which {where}: use it with task={tasks[0]})"
        if tasks
        else f" (this setting reads task.{key}, which {where})"
    )


def check_fields(schema, values: DictConfig, prefix: str) -> None:
    """Ranges and options from each field's metadata, recursively into the fixed groups."""
    for f in dataclasses.fields(schema):
        key, value = f"{prefix}{f.name}", values[f.name]
        if f.name in GROUPS and schema is RunSchema:
            check_fields(GROUPS[f.name], value, f"{key}.")
        elif "choices" in f.metadata:
            choices = [c for c in f.metadata["choices"] if c is not None]
            require(value in f.metadata["choices"], key, f"must be one of {choices}, got {value!r}")
        elif "low" in f.metadata and value is not None:
            m = f.metadata
            check_number(key, value, m["low"], m["high"], m["low_open"], m["high_open"])


GROUPS = {"train": TrainSchema, "logger": LoggerSchema, "sensitivity": SensitivitySchema}


def check_number(key, value, low=None, high=None, low_open=False, high_open=False) -> None:
    require(
        isinstance(value, int | float) and not isinstance(value, bool),
        key,
        f"must be a number, got {value!r}",
    )
    lower = "(" if low_open else "["
    upper = ")" if high_open else "]"
    span = f"{lower}{'-inf' if low is None else low}, {'inf' if high is None else high}{upper}"
    ok = (low is None or (value > low if low_open else value >= low)) and (
        high is None or (value < high if high_open else value <= high)
    )
    require(ok, key, f"must be in {span}, got {value!r}")


DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_run_keys(cfg: DictConfig) -> None:
    """The top-level keys whose check is more than a type and a range."""
    require(cfg.amp in (None, "bf16"), "amp", f"must be null or bf16, got {cfg.amp!r}")
    require(
        DEVICE.fullmatch(cfg.device) is not None,
        "device",
        f"must be auto, cpu, cuda or cuda:N, got {cfg.device!r}",
    )
    threads = cfg.threads
    require(
        threads == "auto" or (isinstance(threads, int) and not isinstance(threads, bool)),
        "threads",
        f"must be auto or a positive integer, got {threads!r}",
    )
    require(
        threads == "auto" or threads > 0,
        "threads",
        f"must be auto or a positive integer, got {threads!r}",
    )
    require(
        cfg.progress in ("auto", True, False),
        "progress",
        f"must be auto, true or false, got {cfg.progress!r}",
    )
    require(
        bool(cfg.experiment_name) and "/" not in cfg.experiment_name,
        "experiment_name",
        f"must be a non-empty name without '/', got {cfg.experiment_name!r}",
    )
    require(
        cfg.logger.name != "wandb" or cfg.logger.mode is not None,
        "logger.mode",
        "must be one of ['offline', 'online', 'disabled'] for logger wandb, got None",
    )
    check_writable("results_dir", Path(cfg.results_dir))


def check_writable(key: str, path: Path) -> None:
    """`path` is a directory this process can create files in, or can be created: its nearest
    existing ancestor is a writable directory. Nothing is created, so a refused command leaves
    no folder behind."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir():
        try:
            with tempfile.TemporaryFile(dir=existing):
                return
        except OSError as err:
            reason = err.strerror or str(err)
    else:
        reason = f"{existing} is not a directory"
    raise ConfigError(f"{key}: cannot write to {path} ({reason})")


def check_target(group: str, values: dict) -> None:
    """`values` (a task or model config) names an importable `_target_` class and only keys its
    constructor takes (following **kwargs up the class hierarchy), each of the annotated type."""
    target = values.get("_target_")
    require(isinstance(target, str), f"{group}._target_", "must name a class")
    module, _, name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as err:
        hint = ""
        if err.name and module.split(".")[0] == err.name.split(".")[0]:
            hint = f": is the directory holding {err.name.split('.')[0]!r} on PYTHONPATH?"
        raise ConfigError(f"{group}._target_: cannot import {target!r} ({err}){hint}") from None
    except (AttributeError, ValueError):
        raise ConfigError(f"{group}._target_: {module!r} has no class {name!r}") from None
    params = constructor_parameters(cls)
    for key, value in values.items():
        if key == "_target_" or params is None or (key == "num_layers" and value is None):
            continue  # num_layers: null is the task's default, filled in by the runner
        require(
            key in params,
            f"{group}.{key}",
            f"is not an argument of {target} (it takes: {', '.join(sorted(params))})",
        )
        check_type(f"{group}.{key}", value, params[key])


def constructor_parameters(cls) -> dict[str, Any] | None:
    """{argument: annotation} of cls.__init__, merged with the base classes' while an __init__
    passes **kwargs on; None when the arguments cannot be listed."""
    params: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            hints = typing.get_type_hints(init)
        except Exception:  # noqa: BLE001 - unresolvable annotations: names only
            hints = {}
        signature = inspect.signature(init)
        for p in list(signature.parameters.values())[1:]:
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                params.setdefault(p.name, hints.get(p.name, Any))
        if not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            return params
    return None


def check_type(key: str, value, annotation) -> None:
    """Strict scalar checks for int, float, bool and str annotations (and their Optional)."""
    allowed = typing.get_args(annotation) if typing.get_origin(annotation) else (annotation,)
    if value is None:
        require(type(None) in allowed or annotation is Any, key, "must not be null")
        return
    scalars = [t for t in allowed if t in (int, float, bool, str)]
    if not scalars or len(scalars) < len([t for t in allowed if t is not type(None)]):
        return  # a type we do not check (a list, a module, ...)
    ok = any(
        isinstance(value, bool)
        if t is bool
        else (isinstance(value, int | float) and not isinstance(value, bool))
        if t is float
        else (isinstance(value, int) and not isinstance(value, bool))
        if t is int
        else isinstance(value, t)
        for t in scalars
    )
    names = " or ".join(t.__name__ for t in scalars)
    require(ok, key, f"must be {names}, got {value!r}")


# ------------------------------------------------------------------------------------------------
# Published tables in YAML: `${pick:${task.target},{diameter: 10, sssp: 20}}`, with an optional
# default for the choices the table leaves out: `${pick:${task.depth},{2: 1000},100}`.

_NO_DEFAULT = object()


def pick(choice, table, default=_NO_DEFAULT) -> Any:
    """`table[choice]` (or `default` when the table has no row for `choice`): a published value
    that depends on an explicit setting, written as one table in the YAML file that uses it
    (e.g. the gLSTM code's separate config per GPP target, Alon & Yahav's batch per depth)."""
    if choice in table:
        return table[choice]
    if default is _NO_DEFAULT:
        raise ConfigError(f"no value for {choice!r} in {dict(table)} (pick)")
    return default


# Registered when the schema module loads: everything that composes a run config imports it.
if not OmegaConf.has_resolver("pick"):
    OmegaConf.register_new_resolver("pick", pick)
