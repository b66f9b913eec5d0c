"""Every experiment composes, its sweep expands to the intended number of runs, no two runs of a
sweep share a run directory, and the profiles and launcher presets do what they say."""

import functools
import itertools

import pytest
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from benchmarks.runner import prepare
from benchmarks.store import config_hash
from tests.helpers import CONF

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
GRID = ["nar_capacity", "narr_capacity", "tree_neighbors_match", "ring_transfer", "gcn_depth"]

# The intended number of runs: paper = the published grid, quick = the laptop version.
JOBS = {
    ("nar_capacity", "paper"): 12 * 7 * 2 * 3,  # arms x N x k-hop x seeds
    ("narr_capacity", "paper"): 12 * 7 * 2 * 3,
    ("tree_neighbors_match", "paper"): 4 * 7 * 3,  # models x depths x seeds
    ("ring_transfer", "paper"): 2 * 6 * 3,  # models x distances x seeds
    ("gcn_depth", "paper"): 4 * 7 * 3,  # layers x N x seeds
    ("nar_capacity", "quick"): 3 * 4,
    ("narr_capacity", "quick"): 3 * 4,
    ("tree_neighbors_match", "quick"): 4 * 2,
    ("ring_transfer", "quick"): 2 * 4,
    ("gcn_depth", "quick"): 4 * 3,
}
PARSER = OverridesParser.create()


def compose_sweep(experiment: str, profile: str, *overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(
            "config",
            overrides=[f"experiment={experiment}", f"profile={profile}", "logger=none", *overrides],
            return_hydra_config=True,
        )


def sweep_jobs(cfg) -> list[list[str]]:
    """The jobs Hydra's basic sweeper launches for this config (no command-line sweeps)."""
    params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    return BasicSweeper.split_arguments(PARSER.parse_overrides(params), None)[0]


@functools.cache
def _job_config(experiment: str, profile: str, job: tuple[str, ...]):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(
            "config",
            overrides=[f"experiment={experiment}", f"profile={profile}", "logger=none", *job],
        )


def job_config(experiment: str, profile: str, job: list[str]):
    """One job's config, composed once per test session (tests only read it)."""
    return _job_config(experiment, profile, tuple(job))


def one_factor_jobs(cfg) -> list[list[str]]:
    """Jobs that change one swept key at a time from the grid's first point: every value of a
    group choice (arm, model), the first two values of any other key."""
    params = PARSER.parse_overrides([f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()])
    keys = [p.get_key_element() for p in params]
    values = [list(p.sweep_string_iterator()) for p in params]
    first = [f"{k}={v[0]}" for k, v in zip(keys, values, strict=True)]
    jobs = [first]
    for i, (key, vals) in enumerate(zip(keys, values, strict=True)):
        others = vals[1:] if key in ("arm", "model") else vals[1:2]
        jobs += [[*first[:i], f"{key}={value}", *first[i + 1 :]] for value in others]
    return jobs


def test_every_experiment_is_listed():
    assert set(EXPERIMENTS) == set(GRID)


@pytest.mark.parametrize(("experiment", "profile"), sorted(JOBS))
def test_sweep_expands_to_intended_jobs(experiment, profile):
    cfg = compose_sweep(experiment, profile)
    assert cfg.experiment_name == experiment + ("_quick" if profile == "quick" else "")
    assert len(sweep_jobs(cfg)) == JOBS[experiment, profile]


@pytest.mark.parametrize("experiment", GRID)
def test_default_profile_is_the_paper_sweep(experiment):
    default, paper = compose_sweep(experiment, "default"), compose_sweep(experiment, "paper")
    assert sweep_jobs(default) == sweep_jobs(paper)
    assert OmegaConf.to_container(default, resolve=False).keys() == paper.keys()
    assert default.task == paper.task and default.train == paper.train


@pytest.mark.parametrize("experiment", GRID)
def test_quick_jobs_build_and_never_share_a_run_dir(experiment):
    """Every quick job composes, builds its task and network, and has its own config hash."""
    jobs = sweep_jobs(compose_sweep(experiment, "quick"))
    hashes = set()
    for job in jobs:
        cfg = job_config(experiment, "quick", job)
        prepare(cfg)
        hashes.add(config_hash(cfg))
    assert len(hashes) == len(jobs)


@pytest.mark.parametrize("experiment", GRID)
def test_paper_sweep_values_all_change_the_run(experiment):
    """One factor at a time over the paper grid: each swept value gives another config hash, so
    no two jobs of the full product collapse onto one run directory."""
    jobs = one_factor_jobs(compose_sweep(experiment, "paper"))
    hashes = {config_hash(job_config(experiment, "paper", job)) for job in jobs}
    assert len(hashes) == len(jobs)


def test_nar_arms_pair_memory_and_width():
    """gLSTM arms: one head and d = 2 d_k; baseline arms: the published widths."""
    seen = {}
    for job in one_factor_jobs(compose_sweep("nar_capacity", "paper")):
        m = job_config("nar_capacity", "paper", job).model
        model = m._target_.rsplit(".", 1)[-1]
        if model == "GLSTM":
            assert m.dim == 2 * m.memory_dim and m.heads == 1 and m.act == "none"
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
    nar = job_config("nar_capacity", "paper", [])
    assert (nar.task.num_train, nar.task.num_val, nar.task.num_test) == (8000, 1000, 1000)
    assert (nar.train.max_epochs, nar.train.patience, nar.train.batch_size) == (200, 50, 64)
    narr = job_config("narr_capacity", "paper", ["arm=glstm_dk8"])
    assert narr.model.value_dim == 16 and narr.model.memory_dim == 8
    ring = job_config("ring_transfer", "paper", ["model=glstm"])
    assert (ring.model.dim, ring.model.heads, ring.model.memory_dim, ring.model.khop) == (
        16,
        1,
        21,
        True,
    )
    assert (ring.train.lr, ring.train.batch_size, ring.train.warmup_epochs) == (5e-4, 16, 5)
    tree = job_config("tree_neighbors_match", "paper", ["model=gin", "task.depth=5"])
    assert (tree.model.dim, tree.model.residual, tree.model.norm) == (32, True, "layer")
    assert (tree.train.select, tree.train.passes_per_epoch, tree.train.max_epochs) == (
        "best_train",
        100,
        500,
    )
    depth = job_config("gcn_depth", "paper", ["model.num_layers=4"])
    assert (depth.model.dim, depth.model.num_layers) == (128, 4)


def test_quick_profile_is_smaller_than_paper():
    for experiment, (quick, paper) in itertools.product(GRID, [("quick", "paper")]):
        q, p = job_config(experiment, quick, []), job_config(experiment, paper, [])
        assert q.train.max_epochs < p.train.max_epochs, experiment
        if "num_train" in p.task:
            assert q.task.num_train < p.task.num_train, experiment


def test_profiles_apply_to_single_runs():
    """Without an experiment: default leaves the run alone; quick and paper set its scale."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        base = compose("config", overrides=["task=nar"])
        default = compose("config", overrides=["task=nar", "profile=default"])
        quick = compose("config", overrides=["task=nar", "profile=quick"])
        paper = compose("config", overrides=["task=nar", "profile=paper"])
        tree = compose("config", overrides=["task=tree_neighbors_match", "profile=quick"])
    assert base == default and base.experiment_name == "default"
    assert quick.task.num_train < paper.task.num_train == 8000
    assert "num_train" not in tree.task and tree.train.passes_per_epoch < 100


def test_launcher_presets():
    local = compose_sweep("nar_capacity", "quick", "hydra/launcher=local").hydra
    assert local.launcher._target_.endswith("JoblibLauncher") and local.launcher.n_jobs == 2
    assert local.job.env_set.OMP_NUM_THREADS == "1"  # the quick profile: one thread per run
    slurm = compose_sweep(
        "nar_capacity",
        "paper",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.timeout_min=30",
        "hydra.launcher.gpus_per_node=1",
    ).hydra
    assert slurm.launcher._target_.endswith("SlurmLauncher")
    assert (slurm.launcher.partition, slurm.launcher.timeout_min) == ("gpu", 30)
    assert slurm.launcher.gpus_per_node == 1
    assert slurm.job.env_set.OMP_NUM_THREADS == str(slurm.launcher.cpus_per_task)
