"""Fixtures shared by the tests (helpers live in tests/helpers.py)."""

import pytest

from tests.helpers import TINY_TASKS, compose_config


@pytest.fixture
def tiny(tmp_path):
    """compose a tiny, fast run of `task` with extra overrides, storing under tmp_path."""

    def make(task: str = "nar", *overrides: str):
        quick = ["train.max_epochs=2", "train.passes_per_epoch=1", "train.batch_size=32"]
        return compose_config([f"task={task}", *TINY_TASKS[task], *quick, *overrides], tmp_path)

    return make
