"""The report on a synthetic store: aggregates match a hand computation, every output is written,
and a partial sweep is reported with what is missing."""

import json
import math

import pandas as pd
import pytest

from benchmarks import report as rep
from benchmarks.engine.store import config_hash
from benchmarks.metrics.capacity import capacity_threshold
from tests.helpers import compose_config

# (model, memory_dim or width, N) -> test accuracy per seed
ACCS = {
    ("glstm", 8, 4): [1.0, 0.98, 0.96],
    ("glstm", 8, 8): [0.95, 0.9, 0.85],
    ("glstm", 8, 16): [0.5, 0.4, 0.3],
    ("glstm", 16, 4): [1.0, 1.0, 1.0],
    ("glstm", 16, 8): [1.0, 0.99, 0.98],
    ("glstm", 16, 16): [0.93, 0.91],  # a seed is missing: n = 2
    ("gcn", 256, 4): [0.9],  # one seed: std undefined
    ("gcn", 256, 8): [0.2],
    ("gcn", 256, 16): [0.1],
}


def result(model: str, width: int, n: int, seed: int, acc: float) -> dict:
    """A result.json as the runner writes it (the keys the report reads)."""
    model_cfg = {"_target_": f"x.{model}", "khop": True}
    if model == "glstm":
        model_cfg |= {"memory_dim": width, "dim": 2 * width, "heads": 1}
    else:
        model_cfg |= {"dim": width}
    config = {
        "task": {"_target_": "x.NAR", "num_keys": n, "num_train": 100},
        "model": model_cfg,
        "train": {"lr": 1e-3},
        "seed": seed,
        "data_seed": seed,
        "model_seed": seed,
    }
    return {
        "config_hash": f"{model}{width}n{n}s{seed}",
        "task": "nar",
        "size/num_keys": n,
        "model": model,
        "metric": "acc",
        "score_key": "test/acc",
        "score": acc,
        "test/acc": acc,
        "val/acc": acc,
        "train/acc": 1.0,
        "params": 1000 * width + n,
        "epochs": 10,
        "wall_time_s": 1.0,
        "seed": seed,
        "sens/ratio": 10.0 * acc,
        "sens/selected": acc,
        "sens/background": 0.1,
        "config": config,
    }


@pytest.fixture
def store(tmp_path):
    for (model, width, n), accs in ACCS.items():
        for seed, acc in enumerate(accs):
            r = result(model, width, n, seed, acc)
            path = tmp_path / "runs" / "synthetic" / r["config_hash"]
            path.mkdir(parents=True)
            (path / "result.json").write_text(json.dumps(r))
    return tmp_path


def test_aggregates_match_hand_computation(store, capsys):
    out = rep.report("synthetic", store, check_sweep=False)
    summary = out["summary"].set_index(["model", "variant", "size/num_keys"])
    assert set(summary.index.get_level_values("variant")) == {"d_k=8 d=16", "d_k=16 d=32", "d=256"}

    row = summary.loc[("glstm", "d_k=8 d=16", 8)]
    assert row["mean"] == pytest.approx(0.9)
    assert row["std"] == pytest.approx(0.05)  # sqrt(((.05)^2 + 0 + (.05)^2) / (3 - 1))
    assert row["n"] == 3 and row["params"] == 8008
    row = summary.loc[("glstm", "d_k=16 d=32", 16)]
    assert (row["mean"], row["n"]) == (pytest.approx(0.92), 2)
    assert row["std"] == pytest.approx(math.sqrt(2 * 0.01**2))
    row = summary.loc[("gcn", "d=256", 4)]
    assert row["n"] == 1 and math.isnan(row["std"])
    assert summary.loc[("glstm", "d_k=8 d=16", 16), "sens/ratio"] == pytest.approx(4.0)

    cap = out["capacity"]
    expected = capacity_threshold([4, 8, 16], [0.98, 0.9, 0.4])
    assert cap.loc[("nar", "glstm", "d_k=8 d=16"), "capacity_n"] == pytest.approx(expected)
    assert cap.loc[("nar", "gcn", "d=256"), "capacity_n"] == pytest.approx(4.0)

    md = (store / "tables" / "synthetic.md").read_text()
    assert "| nar | glstm | d_k=8 d=16 | 0.980 ± 0.020 (3) | 0.900 ± 0.050 (3) |" in md
    assert "| nar | gcn | d=256 | 0.900 (1) |" in md
    assert "ddof = 1" in md
    assert md.split("\n\n")[0] in capsys.readouterr().out  # the table is printed

    csv = pd.read_csv(store / "tables" / "synthetic.csv")
    assert len(csv) == len(ACCS) and {"mean", "std", "n", "params", "capacity_n"} <= set(csv)

    tex = (store / "tables" / "synthetic.tex").read_text()
    assert r"\begin{table}" in tex and r"\caption{" in tex and r"\end{tabular}" in tex
    body = [line for line in tex.splitlines() if line.startswith("nar &")]
    assert len(body) == 3  # one row per model and variant
    assert r"nar & glstm & d\_k=8 d=16 & 0.980 $\pm$ 0.020 (3)" in body[1]

    png = store / "figures" / "synthetic.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_empty_store_says_so(tmp_path, capsys):
    out = rep.report("nothing", tmp_path, check_sweep=False)
    assert out["runs"].empty and "no finished runs" in capsys.readouterr().out
    assert rep.main(["nothing", "--results-dir", str(tmp_path), "--no-check"]) == 1


def test_partial_sweep_lists_missing_runs(tmp_path, capsys):
    """Two of gcn_depth_quick's runs are stored: the report finds the sweep from the experiment
    name (conf/experiment/gcn_depth_quick.yaml), counts them as done and lists the other ten."""
    jobs = rep.expected_runs("gcn_depth_quick")
    assert isinstance(jobs, dict) and len(jobs) == 12
    for i, overrides in enumerate(
        [["model.num_layers=2", "task.num_keys=4"], ["model.num_layers=5", "task.num_keys=16"]]
    ):
        cfg = compose_config(["experiment=gcn_depth_quick", *overrides])
        r = result("gcn", 128, cfg.task.num_keys, 0, 0.5 + 0.1 * i)
        r["config_hash"] = config_hash(cfg)
        assert r["config_hash"] in jobs
        path = tmp_path / "runs" / "gcn_depth_quick" / r["config_hash"]
        path.mkdir(parents=True)
        (path / "result.json").write_text(json.dumps(r))
    other = result("gcn", 64, 4, 0, 0.1)  # a run with other settings in the same store
    (tmp_path / "runs" / "gcn_depth_quick" / "other").mkdir()
    (tmp_path / "runs" / "gcn_depth_quick" / "other" / "result.json").write_text(json.dumps(other))
    out = rep.report("gcn_depth_quick", tmp_path)
    printed = capsys.readouterr().out
    assert "sweep: 2 of 12 runs done" in printed and "missing 10 runs:" in printed
    assert "model.num_layers=3 task.num_keys=8 seed=0" in printed
    assert "1 stored runs are not in this sweep and are left out" in printed
    assert len(out["summary"]) == 2 and set(out["summary"]["mean"]) == {0.5, 0.6}


def test_empty_store_lists_the_sweep_without_hashing(tmp_path, capsys, monkeypatch):
    """With nothing stored every job is missing: no config is composed per job."""

    def no_hashing(*args, **kwargs):
        raise AssertionError("an empty store needs no hashes")

    jobs = len(rep.sweep_jobs("nar_capacity"))
    monkeypatch.setattr(rep, "job_hashes", no_hashing)
    out = rep.report("nar_capacity", tmp_path)
    printed = capsys.readouterr().out
    assert out["runs"].empty and "no finished runs" in printed
    assert f"sweep: 0 of {jobs} runs done" in printed and f"... and {jobs - 20} more" in printed
    assert "  model=glstm_paper/glstm_dk8 task.num_keys=4 model.khop=" in printed


# A small config tree of the same shape as conf/: groups with an inherited and an interpolated
# value, an experiment sweeping a group and values, its quick version, and two bad experiments.
TOY = {
    "config.yaml": """
defaults:
  - model: a
  - task: t
  - _self_
  - experiment: null
experiment_name: default
seed: 0
data_seed: ${seed}
results_dir: results
""",
    "model/base.yaml": "dim: 4\nwidth: ${.dim}\nkhop: false\n",
    "model/a.yaml": "defaults:\n  - base@_here_\n  - _self_\n_target_: A\n",
    "model/b.yaml": "defaults:\n  - base@_here_\n  - _self_\n_target_: B\ndim: 8\nextra: 1\n",
    "model/nested/c.yaml": "defaults:\n  - /model/a@_here_\n  - _self_\n_target_: C\n",
    "task/t.yaml": "size: 2\nnum_train: 10\n",
    "task/u.yaml": "size: 3\nnum_train: 10\n",
    "experiment/toy.yaml": """# @package _global_
defaults:
  - override /task: u
experiment_name: toy
hydra:
  sweeper:
    params:
      model: a,b,nested/c
      model.dim: 2,3
      seed: 0,1
""",
    "experiment/toy_quick.yaml": """# @package _global_
defaults:
  - toy
  - _self_
experiment_name: toy_quick
task:
  num_train: 5
hydra:
  sweeper:
    params:
      seed: 0
""",
    "experiment/sampled.yaml": """# @package _global_
experiment_name: sampled
hydra:
  sweeper:
    _target_: my.OptunaSweeper
""",
    "experiment/misnamed.yaml": "# @package _global_\nexperiment_name: other\n",
}


@pytest.fixture
def toy_conf(tmp_path):
    for name, text in TOY.items():
        (tmp_path / "conf" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "conf" / name).write_text(text)
    return tmp_path / "conf"


def test_sweep_is_the_experiment_file(toy_conf):
    """A store name is an experiment file stem, `_quick` included: its sweep is
    `experiment=<name>`; sampled, unknown and misnamed experiments say why they are not listed."""
    assert rep.sweep_jobs("toy", conf_dir=toy_conf)[0] == ["model=a", "model.dim=2", "seed=0"]
    assert len(rep.sweep_jobs("toy", conf_dir=toy_conf)) == 12
    assert len(rep.sweep_jobs("toy_quick", conf_dir=toy_conf)) == 6
    assert len(rep.sweep_jobs("toy_quick", ["model.dim=2,5,7"], toy_conf)) == 9
    assert "sampled sweep (OptunaSweeper)" in rep.expected_runs("sampled", conf_dir=toy_conf)
    assert "no conf/experiment file" in rep.expected_runs("my_own_sweep", conf_dir=toy_conf)
    assert "must equal the file stem" in rep.expected_runs("misnamed", conf_dir=toy_conf)


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model.dim=2,5", "+model.note=x", "~task.num_train", "hydra.job.name=x"],
        ["task=t", "data_seed=7", "model.khop=true"],
    ],
)
def test_fast_hashes_equal_full_composition(toy_conf, overrides):
    """Composing once per set of group overrides and applying the value overrides after gives
    the hashes of composing every job (group and value sweeps, +key, ~key, hydra keys,
    interpolations, a group override among the fixed ones)."""
    for experiment in ("toy", "toy_quick"):
        jobs = rep.sweep_jobs(experiment, overrides, toy_conf)
        fast = rep.job_hashes(experiment, jobs, toy_conf)
        full = rep.job_hashes(experiment, jobs, toy_conf, compose_each=True)
        assert fast == full and len(set(fast)) == len(jobs)


@pytest.mark.parametrize(
    "experiment, overrides, size",
    [
        ("nar_capacity_quick", ["task.num_train=100"], 12),  # model presets x sizes
        ("tree_neighbors_match_quick", [], 10),  # batch sizes resolved from depth and model
    ],
)
def test_fast_hashes_equal_full_composition_on_conf(experiment, overrides, size):
    """The same on the real conf/, checked against the composition run.py sees."""
    jobs = rep.sweep_jobs(experiment, overrides)
    assert len(jobs) == size
    fast = rep.job_hashes(experiment, jobs)
    assert fast == rep.job_hashes(experiment, jobs, compose_each=True)
    for job, h in zip(jobs, fast, strict=True):
        assert h == config_hash(compose_config([f"experiment={experiment}", *job]))


def test_distance_sweeps_plot_the_farthest_hop(tmp_path):
    """RingTransfer-like runs: the Jacobian panel uses each run's sensitivity at hop L."""
    for distance in (2, 4):
        r = result("gcn", 64, 4, 0, 1.0 / distance)
        r |= {
            "task": "ring_transfer",
            "size/distance": distance,
            f"sens/hop_{distance}": 0.1**distance,
        }
        del r["size/num_keys"], r["sens/ratio"], r["sens/selected"], r["sens/background"]
        r["config"]["task"] = {"_target_": "x.Ring", "distance": distance}
        path = tmp_path / "runs" / "ring" / f"d{distance}"
        path.mkdir(parents=True)
        (path / "result.json").write_text(json.dumps(r))
    out = rep.report("ring", tmp_path, check_sweep=False)
    assert out["summary"]["sens/farthest"].tolist() == pytest.approx([1e-2, 1e-4])
    assert out["capacity"] is None and (tmp_path / "figures" / "ring.png").exists()


def test_task_settings_get_their_own_panels_and_published_points(tmp_path, monkeypatch):
    """Graph-transfer-like runs over two topologies: the topology is the setting (not part of
    the series label), each setting's published points are its own."""
    for topology, mse in (("line", 1e-3), ("ring", 1e-2)):
        for distance in (3, 5):
            r = result("gcn", 64, 4, 0, 0.0)
            r |= {"task": "graph_transfer", "size/distance": distance, "metric": "mse"}
            r |= {"score_key": "test/mse", "score": mse * distance, "test/mse": mse * distance}
            del r["size/num_keys"], r["sens/ratio"], r["sens/selected"], r["sens/background"]
            r["config"]["task"] = {"_target_": "x.T", "distance": distance, "topology": topology}
            r["config_hash"] = f"{topology}{distance}"
            path = tmp_path / "runs" / "graph_transfer" / r["config_hash"]
            path.mkdir(parents=True)
            (path / "result.json").write_text(json.dumps(r))
    drawn = {}

    def record(row, panels, summary, points, *args):
        drawn[summary["setting"].iloc[0]] = (list(rep._series(summary)), points)

    monkeypatch.setattr(rep, "_draw_setting", record)
    out = rep.report("graph_transfer", tmp_path, check_sweep=False)
    assert sorted(out["summary"]["setting"]) == ["topology=line"] * 2 + ["topology=ring"] * 2
    assert sorted(drawn) == ["topology=line", "topology=ring"]
    for setting, (series, points) in drawn.items():
        assert [label for label, _ in series] == ["gcn"]
        assert set(points["setting"]) == {setting} and set(points["model"]) >= {"gcn", "adgn"}
        published = points[points["model"] == "gcn"].set_index("size")["value"]
        expected = {"topology=line": 1.66e-4, "topology=ring": 4.57e-3}[setting]
        assert published[3] == pytest.approx(expected)


def test_memory_study_table_matches_hand_computation(tmp_path):
    """Runs that record state floats get the memory study: peak bits / state floats per model and
    variant (stored bits N I(acc), C = N classes), and seconds per epoch."""
    accs = {  # (model, width, state floats) -> accuracy at N = 4, 8
        ("glstm", 8, 73): [1.0, 0.5],
        ("slstm", 16, 64): [0.75, 0.125],  # chance at N = 8: 0 bits there
    }
    for (model, width, floats), per_n in accs.items():
        for n, acc in zip([4, 8], per_n, strict=True):
            r = result(model, width, n, 0, acc) | {"state_floats": floats, "train_time_s": 5.0}
            path = tmp_path / "runs" / "study" / r["config_hash"]
            path.mkdir(parents=True)
            (path / "result.json").write_text(json.dumps(r))
    rows = rep.report("study", tmp_path, check_sweep=False)["memory"].set_index("model")

    def bits(acc, n):  # N I(acc) over N classes
        miss = (1 - acc) * math.log2((1 - acc) / (n - 1)) if acc < 1 else 0.0
        return n * (math.log2(n) + acc * math.log2(acc) + miss)

    glstm_peak = max(bits(1.0, 4), bits(0.5, 8))
    assert rows.loc["glstm", "peak_bits"] == pytest.approx(glstm_peak)
    assert rows.loc["glstm", "bits_per_float"] == pytest.approx(glstm_peak / 73)
    assert rows.loc["slstm", "bits_per_float"] == pytest.approx(bits(0.75, 4) / 64)
    assert rows.loc["slstm", "s_per_epoch"] == pytest.approx(0.5)  # 5 s over 10 epochs
    assert "bits / float" in (tmp_path / "tables" / "study_memory.md").read_text()
    png = tmp_path / "figures" / "study_memory.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_graph_remedies_are_variants_of_their_own():
    """A plain GCN, the same with a virtual node and with FoSR rewiring: three variants, where
    the plain one has no label word for the remedies it did not use."""

    def run(**options) -> dict:
        config = {"model": {"_target_": "x.GCN", "dim": 16}, "virtual_node": None, "rewiring": None}
        return {
            "task": "ring_transfer",
            "model": "gcn",
            "size/distance": 4,
            "config": config | options,
        }

    fosr = {"_target_": "baselines.rewiring.FoSR", "num_iterations": 10}
    runs = rep.add_variants(
        rep.flatten_results([run(), run(virtual_node=True), run(rewiring=fosr)])
    )
    assert runs["variant"].tolist() == ["", "virtual_node=on", "rewiring=FoSR"]
