"""The Optuna search driver: trials are runs in the store, the SQLite study continues across
invocations, an interrupted trial is retried and resumes its run, bad input exits 2."""

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from benchmarks import search
from benchmarks.engine.runner import prepare
from benchmarks.engine.store import RunDir, load_results
from tests.helpers import CONF, TINY_TASKS, compose_config

TINY = [
    "task=nar",
    *TINY_TASKS["nar"],
    "model=glstm",
    "train.max_epochs=2",
    "train.batch_size=32",
    "train.stop_loss=null",
    "logger=none",
    "sensitivity.enabled=false",
]
SPACE = {
    "train.lr": {"low": 1e-4, "high": 3e-3, "log": True},
    "model.dim": [8, 16],
    "model.heads": [1, 2],
    "model.dropout": {"low": 0.0, "high": 0.3},
    "model.khop": [False, True],
}


@pytest.fixture
def tiny_search(tmp_path):
    """A two-trial search file on tiny NAR; returns a runner of `python -m benchmarks.search`."""
    file = tmp_path / "tiny.yaml"
    spec = {"overrides": TINY, "direction": "maximize", "n_trials": 2, "sampler": {"seed": 0}}
    file.write_text(yaml.safe_dump(spec | {"params": SPACE}))

    def invoke(*args: str):
        search.main([str(file), f"results_dir={tmp_path}", *args])
        return optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path}/search/tiny.db")

    return invoke


def states(study):
    return [(t.number, t.state) for t in study.trials]


def test_search_files_compose_and_build():
    """Every search file in conf/search/ is valid and its first point builds."""
    for file in sorted((CONF / "search").glob("*.yaml")):
        _, spec = search.load_search(file.stem)
        space = {k: search.distribution(k, v) for k, v in spec.params.items()}
        cfg = compose_config([*spec.overrides, *search.first_point(space)])
        prepare(cfg)
        assert cfg.model._target_ == "glstm.GLSTM" and spec.direction == "maximize"
        assert isinstance(space["train.lr"], optuna.distributions.FloatDistribution)


def test_two_trials_then_continue_the_same_study(tiny_search, tmp_path, capsys):
    study = tiny_search()
    assert states(study) == [(0, TrialState.COMPLETE), (1, TrialState.COMPLETE)]
    first = [(t.params, t.value) for t in study.trials]
    assert len(load_results(tmp_path, "tiny")) == 2
    best = yaml.safe_load((tmp_path / "search" / "tiny_best.yaml").read_text())
    assert best["best_value"] == study.best_value and best["objective"] == "val/acc"

    study = tiny_search("--trials", "3")  # continues: one more trial, numbered 2
    assert [n for n, s in states(study) if s == TrialState.COMPLETE] == [0, 1, 2]
    assert [(t.params, t.value) for t in study.trials[:2]] == first
    assert study.trials[2].params not in [params for params, _ in first]  # sampler seed 0 + 2
    assert len(load_results(tmp_path, "tiny")) == 3

    (tmp_path / "search" / "tiny.db").unlink()  # a lost study: same proposals, runs read back
    capsys.readouterr()
    study = tiny_search()
    assert [(t.params, t.value) for t in study.trials] == first
    assert capsys.readouterr().out.count("skip:") == 2
    assert len(load_results(tmp_path, "tiny")) == 3


def test_interrupted_trial_is_retried_and_resumes(tiny_search, tmp_path, monkeypatch):
    append = RunDir.append_history

    def killed_in_epoch_2(self, row):  # after epoch 1's checkpoint, before epoch 2's
        append(self, row)
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "append_history", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        tiny_search("--trials", "1")
    monkeypatch.undo()
    (checkpoint,) = (tmp_path / "runs" / "tiny").glob("*/checkpoint.pt")

    study = tiny_search("--trials", "1")
    assert states(study) == [(0, TrialState.FAIL), (1, TrialState.COMPLETE)]
    assert study.trials[1].params == study.trials[0].params
    assert study.trials[1].user_attrs["retry_of"] == 0
    assert pd.read_csv(checkpoint.parent / "history.csv")["epoch"].tolist() == [1, 2]
    assert not checkpoint.exists()  # resumed from it, then finished


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_search"], "error: search: no search 'no_such_search'"),
        (["glstm_nar", "task.no_such_key=1"], "error: overrides: Could not override"),
        (["glstm_nar", "model=no_such_model"], "error: overrides:"),
        (["glstm_nar", "train.lr=-1"], "error: train.lr:"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        search.main([*args, f"results_dir={tmp_path}", "logger=none"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "search").exists()  # nothing written


def test_changed_settings_are_refused(tiny_search, tmp_path, capsys):
    tiny_search("--trials", "1")
    with pytest.raises(SystemExit) as exit_:
        tiny_search("--trials", "1", "train.weight_decay=0")
    assert exit_.value.code == 2 and "--study NEW" in capsys.readouterr().err
