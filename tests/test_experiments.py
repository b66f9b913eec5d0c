"""Every experiment composes, its sweep expands to the intended number of runs, no two runs of a
sweep share a run directory, the published settings reach the runs, and the launcher presets do
what they say."""

import functools
import itertools

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from benchmarks.engine.runner import prepare
from benchmarks.engine.store import config_hash
from tests.helpers import CONF, config_note

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
PAPER = ["gcn_depth", "nar_capacity", "narr_capacity", "ring_transfer", "tree_neighbors_match"]

# The intended number of runs of each experiment: its file's `# jobs:` line.
JOBS = {e: int(config_note(CONF / "experiment" / f"{e}.yaml", "jobs") or -1) for e in EXPERIMENTS}
PARSER = OverridesParser.create()


def compose_sweep(experiment: str, *overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(
            "config",
            overrides=[f"experiment={experiment}", "logger=none", *overrides],
            return_hydra_config=True,
        )


def sweep_jobs(cfg) -> list[list[str]]:
    """The jobs Hydra's basic sweeper launches for this config (no command-line sweeps): the
    cartesian product of the swept values, in the order of the params."""
    params = PARSER.parse_overrides([f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()])
    values = [
        [f"{p.get_key_element()}={v}" for v in p.sweep_string_iterator()]
        if p.is_sweep_override()
        else [p.input_line]
        for p in params
    ]
    return [list(job) for job in itertools.product(*values)]


@functools.cache
def _job_config(experiment: str, job: tuple[str, ...]):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"experiment={experiment}", "logger=none", *job])


def job_config(experiment: str, job: list[str]):
    """One job's config, composed once per test session (tests only read it)."""
    return _job_config(experiment, tuple(job))


def one_factor_jobs(cfg) -> list[list[str]]:
    """Jobs that change one swept key at a time from the grid's first point: every value of the
    model choice, the first two values of any other key."""
    params = PARSER.parse_overrides([f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()])
    keys = [p.get_key_element() for p in params]
    values = [list(p.sweep_string_iterator()) for p in params]
    first = [f"{k}={v[0]}" for k, v in zip(keys, values, strict=True)]
    jobs = [first]
    for i, (key, vals) in enumerate(zip(keys, values, strict=True)):
        others = vals[1:] if key == "model" else vals[1:2]
        jobs += [[*first[:i], f"{key}={value}", *first[i + 1 :]] for value in others]
    return jobs


def test_every_experiment_states_its_job_count():
    missing = [e for e, jobs in JOBS.items() if jobs < 0]
    assert not missing, f"add a '# jobs: N' line to conf/experiment/{missing[0]}.yaml"


@pytest.mark.parametrize("experiment", sorted(JOBS))
def test_sweep_expands_to_intended_jobs(experiment):
    cfg = compose_sweep(experiment)
    assert cfg.experiment_name == experiment  # the store name is the file name
    assert len(sweep_jobs(cfg)) == JOBS[experiment]


@pytest.mark.parametrize("experiment", PAPER)
def test_quick_jobs_build_and_never_share_a_run_dir(experiment):
    """Every quick job composes, builds its task and network, and has its own config hash."""
    quick = f"{experiment}_quick"
    jobs = sweep_jobs(compose_sweep(quick))
    hashes = set()
    for job in jobs:
        cfg = job_config(quick, job)
        prepare(cfg)
        hashes.add(config_hash(cfg))
    assert len(hashes) == len(jobs)


@pytest.mark.parametrize("experiment", PAPER)
def test_paper_sweep_values_all_change_the_run(experiment):
    """One factor at a time over the paper grid: each swept value gives another config hash, so
    no two jobs of the full product collapse onto one run directory."""
    jobs = one_factor_jobs(compose_sweep(experiment))
    hashes = {config_hash(job_config(experiment, job)) for job in jobs}
    assert len(hashes) == len(jobs)


def test_nar_models_pair_memory_and_width():
    """gLSTM: one head and d = 2 d_k; baselines: the published widths, GELU, no residual/norm."""
    seen = {}
    for job in one_factor_jobs(compose_sweep("nar_capacity")):
        m = job_config("nar_capacity", job).model
        model = m._target_.rsplit(".", 1)[-1]
        if model == "GLSTM":
            assert m.dim == 2 * m.memory_dim and m.heads == 1 and m.act == "none"
            assert m.value_dim is None  # d_v = d_k on NAR
            seen.setdefault(model, set()).add(m.memory_dim)
        else:
            assert (m.act, m.residual, m.norm) == ("gelu", False, "none")
            seen.setdefault(model, set()).add(m.dim)
    assert seen == {
        "GLSTM": {8, 16, 32},
        "GCN": {64, 128, 256},
        "GIN": {64, 128, 256},
        "GATv2": {64, 128, 256},
    }


def test_published_settings_reach_the_runs():
    nar = job_config("nar_capacity", [])
    assert (nar.task.num_train, nar.task.num_val, nar.task.num_test) == (8000, 1000, 1000)
    assert (nar.train.max_epochs, nar.train.patience, nar.train.batch_size) == (200, 50, 64)
    narr = job_config("narr_capacity", ["model=glstm_paper/glstm_dk8"])
    assert narr.model.value_dim == 16 and narr.model.memory_dim == 8
    ring = job_config("ring_transfer", ["model=glstm_paper/glstm_ring"])
    assert (ring.model.dim, ring.model.heads, ring.model.memory_dim, ring.model.khop) == (
        16,
        1,
        21,
        True,
    )
    assert (ring.train.lr, ring.train.batch_size, ring.train.warmup_epochs) == (5e-4, 16, 5)
    assert ring.train.patience == 60 and ring.train.max_epochs == 200
    tree = job_config("tree_neighbors_match", ["model=alon_yahav/gin", "task.depth=5"])
    assert (tree.model.dim, tree.model.residual, tree.model.norm) == (32, True, "layer")
    assert (tree.train.select, tree.train.passes_per_epoch, tree.train.max_epochs) == (
        "best_train",
        100,
        500,
    )
    depth = job_config("gcn_depth", ["model.num_layers=4"])
    assert (depth.model.dim, depth.model.num_layers) == (128, 4)


@pytest.mark.parametrize("experiment", PAPER)
def test_weight_decay_as_published(experiment):
    """Every public config trains without weight decay (Alon & Yahav, the gLSTM paper, SWAN,
    LRGB) except GPP's, A-DGN's and gLSTM's 1e-6 (A-DGN's graph_prop_pred)."""
    published = 1e-6 if experiment.startswith("gpp") else 0.0
    for job in one_factor_jobs(compose_sweep(experiment))[:3]:
        assert job_config(experiment, job).train.weight_decay == published


# Alon & Yahav's table: (batch size, accumulation) per depth for GCN/GAT and for GIN/GGNN.
TREE_BATCHES = {
    2: ((64, 1), (64, 1)),
    3: ((64, 1), (64, 1)),
    4: ((1024, 1), (1024, 1)),
    5: ((1024, 1), (1024, 1)),
    6: ((1024, 1), (1024, 1)),
    7: ((2048, 1), (1024, 2)),
    8: ((1024, 2), (512, 4)),
}


@pytest.mark.parametrize("depth", sorted(TREE_BATCHES))
def test_tree_protocol_per_depth_and_family(depth):
    """The composed Tree-NeighborsMatch configs carry the published batch, accumulation and
    evaluation round (1000 passes at r = 2, else 100; at most 50000 passes)."""
    for family, models in enumerate([("gcn", "gat"), ("gin", "ggnn")]):
        for model in models:
            job = [f"model=alon_yahav/{model}", f"task.depth={depth}"]
            train = job_config("tree_neighbors_match", job).train
            assert (train.batch_size, train.accumulate) == TREE_BATCHES[depth][family]
            assert train.passes_per_epoch == (1000 if depth == 2 else 100)
            assert train.passes_per_epoch * train.max_epochs == 50000
            assert (train.optimizer, train.lr, train.weight_decay) == ("adam", 1e-3, 0.0)


def test_quick_experiments_state_only_what_differs():
    """A quick experiment inherits its paper experiment: same task and protocol, smaller."""
    for experiment in PAPER:
        quick, paper = job_config(f"{experiment}_quick", []), job_config(experiment, [])
        assert quick.task._target_ == paper.task._target_
        assert quick.train.optimizer == paper.train.optimizer
        assert quick.train.max_epochs <= paper.train.max_epochs, experiment


def test_single_run_defaults():
    """Without an experiment: the gLSTM paper's NAR gLSTM, stored under `default`."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        base = compose("config")
    assert base.experiment_name == "default"
    assert (base.model.heads, base.model.memory_dim, base.model.dim) == (1, 16, 32)
    assert OmegaConf.to_container(base.task)["num_train"] == 8000


def test_launcher_presets():
    local = compose_sweep("nar_capacity_quick", "hydra/launcher=local").hydra
    assert local.launcher._target_.endswith("JoblibLauncher") and local.launcher.n_jobs == 2
    slurm = compose_sweep(
        "nar_capacity",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.timeout_min=30",
        "hydra.launcher.gpus_per_node=1",
    ).hydra
    assert slurm.launcher._target_.endswith("SlurmLauncher")
    assert (slurm.launcher.partition, slurm.launcher.timeout_min) == ("gpu", 30)
    assert slurm.launcher.gpus_per_node == 1
