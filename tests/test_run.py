"""`python run.py` end to end: the smoke run, the protocols, and bad input."""

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from benchmarks.core.errors import ConfigError
from benchmarks.engine.runner import build, count_parameters, main, prepare, run
from benchmarks.engine.store import load_results
from tests.helpers import ROOT

TINY = [
    "task.num_keys=4",
    "task.num_train=128",
    "task.num_val=64",
    "task.num_test=64",
    "train.max_epochs=2",
]


def run_cli(tmp_path, *overrides):
    args = [sys.executable, "run.py", f"results_dir={tmp_path}", "progress=false", *overrides]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_cli_smoke(tmp_path):
    out = run_cli(tmp_path, "logger=none", *TINY)
    assert out.returncode == 0, out.stderr
    assert "nar (num_keys=4)" in out.stdout and "test/acc=" in out.stdout
    (result,) = load_results(tmp_path, "default")
    assert result["epochs"] == 2 and result["task"] == "nar"


def test_cli_wandb_offline_writes_run_files(tmp_path):
    out = run_cli(tmp_path, *TINY)  # the default logger: wandb, offline
    assert out.returncode == 0, out.stderr
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1


@pytest.mark.parametrize(
    "task, override, message",
    [
        ("nar", "task.num_keys=0", "task.num_keys: must be a positive integer"),
        ("nar", "task.num_classes=1", "task.num_classes: must be an integer >= 2"),
        ("tree_neighbors_match", "task.depth=11", "task.depth: must be an integer in 2..10"),
        ("ring_transfer", "task.distance=-2", "task.distance: must be a positive integer"),
        ("nar", "model=gat model.dim=30", "model.dim: must be divisible by heads=4"),
        ("nar", "model.dim=31", "model.dim: must be even for task nar"),
        ("nar", "train.batch_size=0", "train.batch_size: must be in [1, inf], got 0"),
        ("nar", "model=gcn model.dim=-8", "model.dim: must be in [1, inf], got -8"),
        ("nar", "train.lr=fast", "train.lr: Value 'fast' of type 'str' could not be converted"),
        ("nar", "train.weight_decay=-1", "train.weight_decay: must be in [0, inf]"),
        ("nar", "sensitivity.num_graphs=0", "sensitivity.num_graphs: must be in [1, inf]"),
        ("nar", "threads=0", "threads: must be auto or a positive integer"),
        ("nar", "train.optimizer=sgd", "train.optimizer: must be one of"),
        ("nar", "logger=wandb logger.mode=sometimes", "logger.mode: must be one of"),
        ("nar", "device=tpu", "device: must be auto, cpu, cuda or cuda:N"),
        ("nar", "model=gcn model.act=swishy", "model.act: unknown activation"),
        ("nar", "model=glstm model.input_gate=sideways", "model"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_stored(tiny, tmp_path, capsys, task, override, message):
    with pytest.raises(SystemExit) as exit_:
        main(tiny(task, *override.split()))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("task.num_keys=-1", "error: task.num_keys: must be a positive integer, got -1"),
        (
            "experiment=nar_capacty",
            "error: experiment=nar_capacty: no such option in conf/experiment/",
        ),
        ("model=alon_yahav/gnc", "error: model=alon_yahav/gnc: no such option in conf/model/"),
        ("task.num_kyes=3", "error: task.num_kyes: no such key (did you mean task.num_keys"),
        ("results_dir=/proc/nope", "error: results_dir: cannot write to /proc/nope"),
        (
            "train.learning_rate=0.1",
            "error: train.learning_rate: no such key (did you mean train.lr?)",
        ),
        ("model=gnc", "error: model=gnc: no such option in conf/model/; did you mean gcn or gin?"),
        ("task.num_keys=1", "error: task.num_keys: must be an integer >= 2, got 1"),
        ("task.num_keys=4,8", "error: task.num_keys=4,8: is a sweep (several values): add -m"),
        (
            "model=glstm_paper/glstm_gpp",
            "error: model.dim: Interpolation key 'task.target' not found (this setting reads "
            "task.target, which only task gpp has: use it with task=gpp)",
        ),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, override, message):
    """What Hydra alone would let through (a misspelled experiment, an unknown key) or report in
    many lines: one line naming it, exit 2, no run stored."""
    out = run_cli(tmp_path, "logger=none", *TINY, override)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(message) and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_cli_bad_sweep_value_fails_before_any_job(tmp_path):
    out = run_cli(tmp_path, "-m", "logger=none", *TINY, "model=gcn,gni")
    assert out.returncode == 2 and out.stderr.startswith("error: model=gni: no such option")
    assert not (tmp_path / "runs").exists()


def test_tree_protocol_reports_best_train_accuracy(tiny):
    result = run(
        tiny("tree_neighbors_match", "model=gcn", "train.max_epochs=3", "train.passes_per_epoch=2")
    )
    assert result["select"] == "best_train" and result["score_key"] == "train/acc"
    assert result["score"] == result["train/acc"]
    assert "val/acc" not in result and "test/acc" in result


def test_paper_protocol_stops_early_on_val_loss(tiny):
    result = run(tiny("nar", "train.max_epochs=50", "train.stop_loss=100"))
    assert result["epochs"] == 1 and result["stopped"].startswith("val/loss <")


class Rejects:
    """A model class that rejects its options with `message`."""

    def __init__(self, message: str, error: type[Exception] = ConfigError):
        raise error(message)


@pytest.mark.parametrize(
    "message, error, expected",
    [
        ("dim: must be even", ConfigError, "model.dim: must be even"),
        ("model.dim: must be even", ConfigError, "model.dim: must be even"),
        ("heads: must divide dim", ConfigError, "model.heads: must divide dim"),
        ("no way", ValueError, "model: no way"),
    ],
)
def test_build_names_the_config_key(message, error, expected):
    cfg = OmegaConf.create({"_target_": f"{__name__}.Rejects", "message": message})
    with pytest.raises(ConfigError) as raised:
        build("model", cfg, error=error)
    assert str(raised.value) == expected


def derived_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("derived:")]


def test_derived_values_are_printed_at_run_start(tiny, capsys):
    fast = ["model=gcn", "sensitivity.enabled=false"]
    run(tiny("nar", *fast))
    assert derived_lines(capsys.readouterr().out) == ["derived: num_layers=2 (task default)"]

    cfg = tiny("nar", *fast, "model.num_layers=3", "budget=20000")
    _, net, _, _ = prepare(cfg)
    result = run(cfg)
    (line,) = derived_lines(capsys.readouterr().out)
    assert line == f"derived: dim={net.width} (budget 20000 -> {count_parameters(net):,} params)"
    assert result["width"] == net.width and result["params"] == count_parameters(net)

    run(tiny("nar", *fast, "model.num_layers=2"))  # nothing derived: no line
    assert derived_lines(capsys.readouterr().out) == []


def test_refused_command_creates_no_folder(tmp_path):
    """A refused run leaves no trace: not even its results_dir."""
    store = tmp_path / "new" / "store"
    out = subprocess.run(
        [sys.executable, "run.py", f"results_dir={store}", "logger=none", "task.num_keys=0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and not (tmp_path / "new").exists()


def test_own_model_without_its_directory_on_the_path_says_so(tmp_path):
    searchpath = f"hydra.searchpath=[file://{ROOT / 'examples' / 'conf'}]"
    out = run_cli(tmp_path, "logger=none", searchpath, "model=mine", *TINY)
    assert out.returncode == 2
    assert "cannot import 'my_model.ResidualGCN' (No module named 'my_model')" in out.stderr
    assert "on PYTHONPATH?" in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("tool", ["verify", "report"])
def test_tools_name_an_unknown_experiment(tmp_path, tool):
    out = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{tool}", "nar_capacty", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert (
        out.stderr.startswith("error: experiment:") and "did you mean nar_capacity?" in out.stderr
    )


def test_load_run_rebuilds_the_model_and_its_test_metric(tiny):
    from benchmarks.engine.stored_run import load_run

    cfg = tiny("nar", "model=gcn", "train.max_epochs=3")
    stored = run(cfg)
    loaded = load_run(Path(cfg.results_dir) / "runs" / "default" / stored["config_hash"])
    assert loaded.result.config_hash == stored["config_hash"] and len(loaded.history) == 3
    metrics = loaded.evaluate("test")
    assert metrics["test/acc"] == pytest.approx(stored["test/acc"], abs=1e-6)
    assert metrics["test/loss"] == pytest.approx(stored["test/loss"], rel=1e-5)


def test_ctrl_c_says_what_was_saved_and_exits_130(tmp_path):
    """Ctrl-C during a run: one line naming the checkpoint kept, exit status 130."""
    import signal
    import time

    args = [sys.executable, "run.py", f"results_dir={tmp_path}", "progress=false", "logger=none"]
    args += [*TINY, "task.num_train=2000", "train.max_epochs=200", "train.stop_loss=null"]
    child = subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    history = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait for the first epoch's checkpoint
        history = next(tmp_path.glob("runs/default/*/history.csv"), None)
        if history is not None and len(history.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("interrupted: ") and "keeps its checkpoint after epoch" in err
    assert err.rstrip().endswith("the same command resumes it")
