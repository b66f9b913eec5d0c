"""A run's directory is the hash of its config: a change to how configs are composed must not move
stored runs. tests/data/config_hashes.json pins the hashes of the one-factor jobs of every
experiment and of plain task x model runs, as composed when they were pinned."""

import json
from pathlib import Path

from hydra import compose, initialize_config_dir

from benchmarks.engine.store import config_hash
from tests.helpers import CONF

PINNED = json.loads((Path(__file__).parent / "data" / "config_hashes.json").read_text())


def test_pinned_config_hashes_are_unchanged():
    moved = {}
    with initialize_config_dir(str(CONF), version_base="1.3"):
        for line, pinned in PINNED.items():
            now = config_hash(compose("config", overrides=line.split()))
            if now != pinned:
                moved[line] = (pinned, now)
    assert not moved, f"{len(moved)} of {len(PINNED)} hashes moved, e.g. {list(moved.items())[:3]}"
