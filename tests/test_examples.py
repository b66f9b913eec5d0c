"""README "Your own model": the example model outside the package (examples/my_model.py and
examples/conf/model/mine.yaml) runs through `hydra.searchpath` without editing conf/, its keys are
checked like any model's, and its run lands in the leaderboard."""

import os
import subprocess
import sys

import pytest

from benchmarks import leaderboard as lb
from benchmarks.core.errors import ConfigError
from benchmarks.engine.command_line import check_overrides
from benchmarks.engine.runner import run
from tests.helpers import ROOT

EXAMPLES = ROOT / "examples"
SEARCHPATH = f"hydra.searchpath=[file://{EXAMPLES / 'conf'}]"


@pytest.fixture
def importable(monkeypatch):
    """examples/ on the import path, as PYTHONPATH=examples does for run.py."""
    monkeypatch.syspath_prepend(str(EXAMPLES))


@pytest.mark.parametrize("khop", ["false", "true"])
def test_example_model_composes_and_trains_one_step(tiny, importable, khop):
    cfg = tiny("nar", SEARCHPATH, "model=mine", f"model.khop={khop}", "train.max_epochs=1")
    assert cfg.model._target_ == "my_model.ResidualGCN"
    result = run(cfg)
    assert result["epochs"] == 1 and result["model"] == "residualgcn" and result["params"] > 0


def test_command_line_check_finds_options_on_the_searchpath(importable):
    check_overrides([SEARCHPATH, "model=mine", "task.num_keys=4"])
    with pytest.raises(ConfigError, match="model.hidden_factr: is not an argument of my_model"):
        check_overrides([SEARCHPATH, "model=mine", "+model.hidden_factr=3"])
    with pytest.raises(ConfigError, match=r"model=mien: no such option in conf/model/ or .*mine"):
        check_overrides([SEARCHPATH, "model=mien"])
    with pytest.raises(ConfigError, match="model=mine: no such option in conf/model/"):
        check_overrides(["model=mine"])  # without the search path


def test_readme_path_end_to_end(tmp_path, capsys):
    """The README's command, then the leaderboard shows the run."""
    env = {**os.environ, "PYTHONPATH": "examples", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "run.py",
        "hydra.searchpath=[file://examples/conf]",
        "model=mine",
        "task=nar",
        "task.num_keys=4",
        "task.num_train=64",
        "task.num_val=16",
        "task.num_test=16",
        "train.max_epochs=1",
        "logger=none",
        "progress=false",
        f"results_dir={tmp_path}",
    ]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # a run outside an experiment lands in the `default` store, read when named
    assert lb.main(["--results-dir", str(tmp_path), "--experiments", "default"]) == 0
    assert "| residualgcn (mine) | – | 1/1 |" in capsys.readouterr().out  # alone: no rank
