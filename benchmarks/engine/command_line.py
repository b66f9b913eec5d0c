"""Check `run.py`'s command line before Hydra runs it, so that bad input is one line and exit 2.

Hydra reports a misspelled option or key as a multi-line message with exit status 1, and a sweep
only finds a bad value when it reaches that job. Here, before anything runs: every config-group
option named on the command line or in the experiment's sweep (`model=...`, `experiment=...`,
`task=...`) must be a file of that group, in conf/ or in a directory that
`hydra.searchpath=[file://DIR]` adds (a user's own configs, README "Your own model"), and with
the first job must compose (Hydra's own composition errors are many lines long); with `-m` it
must also pass the schema (benchmarks/engine/config.py), so a sweep with a bad value fails before
it launches anything. A single run is validated once, by the runner, before it writes anything.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from benchmarks.core.errors import ConfigError, require
from benchmarks.engine.config import CONF_DIR as CONF
from benchmarks.engine.config import check_writable, first_line, validate

# Hydra flags after which we leave the command line to Hydra (another config, help, info).
HYDRA_FLAGS = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--help",
               "-h", "--hydra-help", "--info", "-i", "--cfg", "-c", "--package", "-p",
               "--experimental-rerun", "--shell-completion", "-sc")  # fmt: skip


def check_command_line(argv: list[str]) -> None:
    """Exit 2 with one `error: ...` line if the overrides in `argv` name a missing option or make
    a config the schema refuses."""
    if any(arg.split("=")[0] in HYDRA_FLAGS for arg in argv):
        return
    overrides = [arg for arg in argv if not arg.startswith("-")]
    try:
        check_overrides(overrides, sweep=any(arg in ("-m", "--multirun") for arg in argv))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def check_overrides(overrides: list[str], sweep: bool = True) -> None:
    """The options every override and the experiment's sweep name exist and the first job
    composes; with `sweep`, it also passes the schema."""
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
    except Exception as err:  # noqa: BLE001 - Hydra's grammar errors
        raise ConfigError(f"command line: {first_line(err)}") from None
    if not sweep:
        for override in parsed:
            require(
                not override.is_sweep_override(),
                override.input_line,
                "is a sweep (several values): add -m to run one job per value "
                f"(python run.py -m ... {override.input_line})",
            )
    dirs = config_dirs(parsed)
    check_options(parsed, dirs)
    first_job = [first_value(o) for o in parsed]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        try:
            cfg = compose("config", overrides=first_job, return_hydra_config=True)
        except Exception as err:  # noqa: BLE001 - Hydra's composition errors
            unknown = unknown_key(err, first_job)
            raise ConfigError(unknown or composition_message(err)) from None
    params = cfg.hydra.sweeper.get("params")
    params = OmegaConf.to_container(params) if params else {}
    check_options(parser.parse_overrides([f"{k}={v}" for k, v in params.items()]), dirs)
    if sweep:
        validate(cfg)
    else:  # Hydra creates its output folder under results_dir before the run's own checks
        check_writable("results_dir", Path(cfg.results_dir))


def config_dirs(overrides) -> list[Path]:
    """conf/ and, after it, the directories that a `hydra.searchpath=[file://DIR, ...]` override
    adds (Hydra resolves a relative DIR against the working directory, as Path does)."""
    dirs = [CONF]
    for override in overrides:
        if override.key_or_group == "hydra.searchpath" and not override.is_delete():
            value = override.value()
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, str) and entry.startswith("file://"):
                    dirs.append(Path(entry.removeprefix("file://")))
    return dirs


def check_options(overrides, dirs: list[Path] = (CONF,)) -> None:
    """Every value of a config-group override names a file in that group (`<dir>/<group>/` for
    one of `dirs`)."""
    for override in overrides:
        group = override.key_or_group
        group_dirs = [d / group for d in dirs if (d / group).is_dir()]
        if override.is_delete() or group.startswith("hydra") or not group_dirs:
            continue
        values = (
            list(override.sweep_string_iterator())
            if override.is_sweep_override()
            else [override.value()]
        )
        for value in values:
            if value is None or value == "null":
                continue
            if not any((d / f"{value}.yaml").is_file() for d in group_dirs):
                options = sorted(
                    {
                        str(p.relative_to(d).with_suffix(""))
                        for d in group_dirs
                        for p in d.rglob("*.yaml")
                    }
                )
                places = " or ".join(
                    f"{'conf' if d.parent == CONF else d.parent}/{group}/" for d in group_dirs
                )
                close = closest(str(value), options)
                hint = f" did you mean {' or '.join(close)}?" if close else ""
                raise ConfigError(
                    f"{group}={value}: no such option in {places};{hint} "
                    f"(options: {', '.join(options)})"
                )


# Names users type for the keys the suite calls otherwise.
SYNONYMS = {
    "learning_rate": "lr",
    "epochs": "max_epochs",
    "bs": "batch_size",
    "wd": "weight_decay",
    "layers": "num_layers",
    "width": "dim",
    "hidden_dim": "dim",
}


def closest(name: str, names: list[str]) -> list[str]:
    """Up to three of `names` that look like `name`: its anagrams first (a swapped pair of
    letters, `gnc` -> `gcn`), then difflib's close matches."""
    anagrams = [n for n in names if sorted(n) == sorted(name) and n != name]
    similar = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    return list(dict.fromkeys(anagrams + similar))[:3]


def unknown_key(err: Exception, overrides: list[str]) -> str | None:
    """For an override of a key the config does not have ("Could not override 'train.learning_rate'"
    or "Key 'x' is not in struct"): the key and the closest known keys beside it, without Hydra's
    advice to add it with '+' (a key no class reads would be refused anyway)."""
    found = re.search(r"Could not override '([^']+)'", str(err)) or re.search(
        r"Could not append to config\. An item is already at '([^']+)'", str(err)
    )
    if not found:
        return None
    key = found.group(1)
    parent, _, name = key.rpartition(".")
    known = [o for o in overrides if not o.lstrip("+~").startswith(f"{key}=")]
    try:
        base = compose("config", overrides=known)
        node = OmegaConf.select(base, parent) if parent else base
        names = [str(k) for k in node.keys()] if OmegaConf.is_dict(node) else []
    except Exception:  # noqa: BLE001 - no suggestion then
        names = []
    close = closest(name, names)
    if SYNONYMS.get(name) in names:
        close = [SYNONYMS[name]]
    prefix = f"{parent}." if parent else ""
    hint = f" (did you mean {' or '.join(prefix + c for c in close)}?)" if close else ""
    listed = (
        f"; {prefix or 'top-level '}keys: {', '.join(sorted(names))}" if names and not close else ""
    )
    return f"{key}: no such key{hint}{listed}"


def first_value(override) -> str:
    """The override of the sweep's first job (`a=1,2` -> `a=1`)."""
    if not override.is_sweep_override():
        return override.input_line
    value = next(iter(override.sweep_string_iterator()))
    return f"{override.get_key_element()}={value}"


def composition_message(err: Exception) -> str:
    """Hydra's message in one line, with its cause's first line (e.g. "Key 'x' is not in
    struct") where it has one; a task without a protocol file says how to add one."""
    missing = re.search(r"Could not find 'train/([^']+)'", str(err))
    if missing:
        task = missing.group(1)
        return (
            f"task={task}: no protocol conf/train/{task}.yaml (the protocol of a task is its "
            "train file: add one that inherits a published protocol, e.g. 'defaults: [paper]' "
            "and what differs, or choose one with train=paper)"
        )
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines else type(err).__name__
    cause = err.__cause__
    return f"{text} ({first_line(cause)})" if cause is not None and str(cause).strip() else text
