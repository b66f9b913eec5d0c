"""A new task is its module, its config and its protocol (a train file that inherits a published
one): written to a temporary directory, it runs through the generic model x task tests, a real run
and the report, without editing any test table."""

import os
import subprocess
import sys
import textwrap

from tests.helpers import ROOT

MODULE = '''
"""PathEcho: a path of `length` nodes; the last node holds a class, node 0 reads it out."""

import torch
from torch import nn

from benchmarks.tasks.base import Task, split_sizes, uniform_labels
from benchmarks.tasks.graphs import GraphSet, Topology, split_generator, undirected
from benchmarks.tasks.nar import FeatureEncoder
from benchmarks.tasks.readouts import NodeReadout


class PathEcho(Task):
    name = "path_echo"

    def __init__(self, length: int = 4, num_classes: int = 3, num_train: int = 64,
                 num_val: int = 16, num_test: int = 16, num_layers: int | None = None):
        self.length, self.num_classes = length, num_classes
        self.sizes = split_sizes(num_train, num_val, num_test)
        self.num_layers = num_layers or length - 1
        self.size = {"length": length}
        path = torch.stack([torch.arange(length - 1), torch.arange(1, length)])
        self.topology = Topology(undirected(path), length, readout=0,
                                 roles=torch.zeros(length, dtype=torch.long))

    def generate(self, seed: int) -> dict[str, GraphSet]:
        out = {}
        for split, count in self.sizes.items():
            y = uniform_labels(count, self.num_classes, split_generator(seed, split))
            x = torch.zeros(count, self.length, self.num_classes)
            x[:, -1] = nn.functional.one_hot(y, self.num_classes).float()
            out[split] = GraphSet(self.topology, x, y)
        return out

    def make_encoder(self, dim: int) -> nn.Module:
        return FeatureEncoder(self.num_classes, dim)

    def make_readout(self, dim: int) -> nn.Module:
        return NodeReadout(dim, self.num_classes)
'''

CONFIG = """\
_target_: path_echo.PathEcho
length: 4
num_classes: 3
num_train: 64
num_val: 16
num_test: 16
num_layers: null
# tiny: task.length=3
"""


def test_a_new_task_runs_through_the_generic_tests_and_the_report(tmp_path):
    (tmp_path / "path_echo.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "conf" / "task").mkdir(parents=True)
    (tmp_path / "conf" / "task" / "path_echo.yaml").write_text(CONFIG)
    (tmp_path / "conf" / "train").mkdir()
    (tmp_path / "conf" / "train" / "path_echo.yaml").write_text("defaults:\n  - paper\n")
    env = os.environ | {
        "OVERSQUASH_TEST_CONF": str(tmp_path / "conf"),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    generic = ["tests/test_models.py", "-k", "path_echo and (gcn- or glstm- or gin-)"]
    out = run("-m", "pytest", "-n", "0", "-p", "no:cacheprovider", *generic)
    assert "4 passed" in out, out[-500:]

    store = tmp_path / "results"
    run(
        "run.py",
        f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
        "task=path_echo",
        "model=gcn",
        "train.max_epochs=2",
        "logger=none",
        "progress=false",
        f"results_dir={store}",
    )
    report = run("-m", "benchmarks.report", "default", "--results-dir", str(store), "--no-check")
    assert "path_echo" in report or "gcn" in report.lower()
