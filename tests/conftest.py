"""Fixtures shared by the tests (helpers live in tests/helpers.py)."""

import shutil

import pytest

from tests.helpers import LRGB_FIXTURE, LRGB_ROOT, TINY_TASKS, compose_config


def pytest_sessionstart(session):
    """A fresh copy of the LRGB fixture for TINY_TASKS["peptides"] (removed at the end)."""
    shutil.rmtree(LRGB_ROOT, ignore_errors=True)
    shutil.copytree(LRGB_FIXTURE, LRGB_ROOT)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(LRGB_ROOT, ignore_errors=True)


@pytest.fixture
def tiny(tmp_path):
    """compose a tiny, fast run of `task` with extra overrides, storing under tmp_path."""

    def make(task: str = "nar", *overrides: str):
        quick = ["train.max_epochs=2", "train.passes_per_epoch=1", "train.batch_size=32"]
        return compose_config([f"task={task}", *TINY_TASKS[task], *quick, *overrides], tmp_path)

    return make
