"""The report on a synthetic store: aggregates match a hand computation, every output is written,
and a partial sweep is reported with what is missing."""

import math
import subprocess

import pandas as pd
import pytest

from benchmarks import report as rep
from benchmarks.analysis import figures, sweeps
from benchmarks.analysis.outputs import output_dirs
from benchmarks.analysis.runs import add_variants, flatten_results, natural_key
from benchmarks.analysis.styles import style
from benchmarks.metrics.capacity import capacity_threshold
from tests.helpers import ROOT
from tests.synthetic_store import write_store

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
    results = [
        result(model, width, n, seed, acc)
        for (model, width, n), accs in ACCS.items()
        for seed, acc in enumerate(accs)
    ]
    return write_store(tmp_path, "synthetic", results)


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

    tables, figs = output_dirs(store)
    md = (tables / "synthetic.md").read_text()
    assert "| nar | glstm | d_k=8 d=16 | 0.980 ± 0.020 (3) | 0.900 ± 0.050 (3) |" in md
    assert "| nar | gcn | d=256 | 0.900 (1) |" in md
    assert "ddof = 1" in md
    assert md.split("\n\n")[0] in capsys.readouterr().out  # the table is printed

    csv = pd.read_csv(tables / "synthetic.csv")
    assert len(csv) == len(ACCS) and {"mean", "std", "n", "params", "capacity_n"} <= set(csv)

    tex = (tables / "synthetic.tex").read_text()
    assert r"\begin{table}" in tex and r"\caption{" in tex and r"\end{tabular}" in tex
    body = [line for line in tex.splitlines() if line.startswith("nar &")]
    assert len(body) == 3  # one row per model and variant
    assert r"nar & glstm & d\_k=8 d=16 & 0.980 $\pm$ 0.020 (3)" in body[1]

    png = figs / "synthetic.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_empty_store_says_so(tmp_path, capsys):
    out = rep.report("nothing", tmp_path, check_sweep=False)
    assert out["runs"].empty and "no finished runs" in capsys.readouterr().out
    assert rep.main(["nothing", "--results-dir", str(tmp_path), "--no-check"]) == 2  # unknown
    assert "unknown experiment 'nothing'" in capsys.readouterr().err
    (tmp_path / "runs" / "nothing").mkdir(parents=True)  # a store without finished runs
    assert rep.main(["nothing", "--results-dir", str(tmp_path), "--no-check"]) == 1


def sweep_run(overrides: list[str], acc: float, name: str, experiment: str, n: int = 4) -> dict:
    """A gcn_depth_quick-like run that recorded the overrides it was started with."""
    r = result("gcn", 128, n, 0, acc)
    r |= {"config_hash": name, "sweep": {"experiment": experiment, "overrides": overrides}}
    return r


def test_partial_sweep_lists_missing_runs(tmp_path, capsys):
    """Two of gcn_depth_quick's runs are stored: the report matches them to the sweep's jobs by
    the overrides they recorded (in another order, with cosmetic keys, True spelled differently),
    lists the other ten, and leaves out a run with another setting and one that recorded none."""
    jobs = sweeps.sweep_jobs("gcn_depth_quick")
    assert isinstance(jobs, list) and len(jobs) == 12
    recorded = [
        ["experiment=gcn_depth_quick", "task.num_keys=4", "model.num_layers=2", "seed=0"],
        ["seed=0", "model.num_layers=5", "task.num_keys=16", "logger=none", "hydra.job.num=3"],
    ]
    other = ["experiment=gcn_depth_quick", "model.num_layers=2", "task.num_keys=4", "seed=0"]
    runs = [
        sweep_run(o, 0.5 + 0.1 * i, f"run{i}", "gcn_depth_quick", 4 ** (i + 1))
        for i, o in enumerate(recorded)
    ]
    runs.append(sweep_run([*other, "model.dim=64"], 0.1, "other", "gcn_depth_quick"))
    runs.append(sweep_run(None, 0.2, "python", "gcn_depth_quick"))
    write_store(tmp_path, "gcn_depth_quick", runs)
    out = rep.report("gcn_depth_quick", tmp_path)
    printed = capsys.readouterr().out
    assert "sweep: 2 of 12 runs done" in printed and "missing 10 runs:" in printed
    assert "model.num_layers=3 task.num_keys=8 seed=0" in printed
    assert "2 stored runs are not in this sweep and are left out" in printed
    assert "1 of them recorded no overrides" in printed
    assert len(out["summary"]) == 2 and set(out["summary"]["mean"]) == {0.5, 0.6}
    assert rep.main(["gcn_depth_quick", "--results-dir", str(tmp_path), "--no-check"]) == 0
    assert "sweep:" not in capsys.readouterr().out


def test_membership_compares_canonical_override_sets():
    jobs = [["model=a", "model.khop=false", "lr=0.001"], ["model=a", "model.khop=true", "lr=0.001"]]
    runs = pd.DataFrame(
        {
            sweeps.OVERRIDES: [
                ["lr=1e-3", "model.khop=False", "model=a", "results_dir=/tmp/x", "experiment=e"],
                ["model=a", "model.khop=true", "lr=0.001", "+model.extra=1"],
                ["model=a", "model.khop=true"],
                None,
            ]
        }
    )
    member, missing = sweeps.membership(runs, jobs)
    assert member.tolist() == [True, False, False, False]
    assert missing == [jobs[1]]


def test_empty_store_lists_the_sweep(tmp_path, capsys):
    """With nothing stored every job is missing."""
    jobs = len(sweeps.sweep_jobs("nar_capacity"))
    out = rep.report("nar_capacity", tmp_path)
    printed = capsys.readouterr().out
    assert jobs == 504 and out["runs"].empty and "no finished runs" in printed
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
    `experiment=<name>` with the params it inherits; the command line's overrides replace a
    swept key in place; sampled, unknown and misnamed experiments say why they are not listed."""
    jobs = sweeps.sweep_jobs("toy", conf_dir=toy_conf)
    assert jobs[0] == ["model=a", "model.dim=2", "seed=0"] and len(jobs) == 12
    quick = sweeps.sweep_jobs("toy_quick", conf_dir=toy_conf)
    assert len(quick) == 6 and {job[2] for job in quick} == {"seed=0"}
    wider = sweeps.sweep_jobs("toy_quick", ["model.dim=2,5,7", "task.num_train=3"], toy_conf)
    assert len(wider) == 9 and wider[-1] == [
        "model=nested/c",
        "model.dim=7",
        "seed=0",
        "task.num_train=3",
    ]
    assert "sampled sweep (OptunaSweeper)" in sweeps.sweep_jobs("sampled", conf_dir=toy_conf)
    assert "no conf/experiment file" in sweeps.sweep_jobs("my_own_sweep", conf_dir=toy_conf)
    assert "must equal the file stem" in sweeps.sweep_jobs("misnamed", conf_dir=toy_conf)


def test_sweep_membership_on_a_synthetic_store(toy_conf, tmp_path):
    """toy_quick's jobs on a store of runs that recorded their overrides: three done (one of them
    twice, by a rerun with a cosmetic override), one made with another value left out."""
    jobs = sweeps.sweep_jobs("toy_quick", conf_dir=toy_conf)
    done = [
        jobs[0],
        jobs[3],
        jobs[5],
        [*jobs[5], "overwrite=true"],
        ["model=b", "model.dim=9", "seed=0"],
    ]
    results = [
        sweep_run(["experiment=toy_quick", *job], 0.5, f"r{i}", "toy_quick")
        for i, job in enumerate(done)
    ]
    write_store(tmp_path, "toy_quick", results)
    runs, notes = sweeps.select_runs("toy_quick", tmp_path, conf_dir=toy_conf)
    assert sorted(runs["config_hash"]) == ["r0", "r1", "r2", "r3"]
    assert notes[0] == "sweep: 3 of 6 runs done" and "missing 3 runs:" in notes
    assert notes[-1].startswith("1 stored runs are not in this sweep")


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
        r["config"]["task"] = {"_target_": "x.Ring", "distance": distance, "num_classes": 5}
        r["config_hash"] = f"d{distance}"
        write_store(tmp_path, "ring", [r])
    out = rep.report("ring", tmp_path, check_sweep=False)
    assert out["summary"]["sens/farthest"].tolist() == pytest.approx([1e-2, 1e-4])
    assert out["capacity"] is None and (output_dirs(tmp_path)[1] / "ring.png").exists()
    ax = out["figure"].axes[0]
    assert ax.get_xlabel() == "distance d"
    assert "chance = 0.2" in ax.get_legend_handles_labels()[1]  # 1 / num_classes


def test_task_settings_get_their_own_panels_and_published_points(tmp_path, monkeypatch):
    """Graph-transfer-like runs over two topologies: the topology is the setting (not part of
    the series label), each setting's published points are its own."""
    for topology, mse in (("line", 1e-3), ("ring", 1e-2)):
        for distance in (3, 5):
            r = result("gcn", 64, 4, 0, 0.0)
            r |= {"task": "graph_transfer", "size/distance": distance, "metric": "mse"}
            r |= {"score_key": "test/mse", "score": mse * distance, "test/mse": mse * distance}
            del r["size/num_keys"], r["sens/ratio"], r["sens/selected"], r["sens/background"]
            task = {"_target_": "x.T", "distance": distance, "topology": topology}
            r["config"]["task"] = task | {"source_target": "published"}
            r["config_hash"] = f"{topology}{distance}"
            write_store(tmp_path, "graph_transfer", [r])
    drawn = {}

    def record(row, panels, summary, points, *args):
        drawn[summary["setting"].iloc[0]] = (list(figures.series(summary)), points)

    monkeypatch.setattr(figures, "draw_setting", record)
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
            write_store(tmp_path, "study", [r])
    rows = rep.report("study", tmp_path, check_sweep=False)["memory"].set_index("model")

    def bits(acc, n):  # N I(acc) over N classes
        miss = (1 - acc) * math.log2((1 - acc) / (n - 1)) if acc < 1 else 0.0
        return n * (math.log2(n) + acc * math.log2(acc) + miss)

    glstm_peak = max(bits(1.0, 4), bits(0.5, 8))
    assert rows.loc["glstm", "peak_bits"] == pytest.approx(glstm_peak)
    assert rows.loc["glstm", "bits_per_float"] == pytest.approx(glstm_peak / 73)
    assert rows.loc["slstm", "bits_per_float"] == pytest.approx(bits(0.75, 4) / 64)
    assert rows.loc["slstm", "s_per_epoch"] == pytest.approx(0.5)  # 5 s over 10 epochs
    tables, figs = output_dirs(tmp_path)
    assert "bits / float" in (tables / "study_memory.md").read_text()
    png = figs / "study_memory.png"
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
    runs = add_variants(flatten_results([run(), run(virtual_node=True), run(rewiring=fosr)]))
    assert runs["variant"].tolist() == ["", "virtual_node=on", "rewiring=FoSR"]


def nar_runs(widths, sizes, accs, seeds=1, **config) -> list[dict]:
    """gLSTM runs per memory width and N with accuracy accs[width][i] (per size), `seeds` each;
    `config` updates every run's task config."""
    runs = []
    for width in widths:
        for n, acc in zip(sizes, accs[width], strict=True):
            for seed in range(seeds):
                r = result("glstm", width, n, seed, acc)
                r["config"]["task"] |= config
                r["config_hash"] += "".join(f"{k}{v}" for k, v in config.items())
                runs.append(r)
    return runs


def series_styles(fig) -> dict[str, tuple]:
    """(colour, marker, line style) of each labelled line of a figure's first panel."""
    return {
        line.get_label(): (tuple(line.get_color()), line.get_marker(), line.get_linestyle())
        for line in fig.axes[0].get_lines()
        if not line.get_label().startswith("_")
    }


def test_variants_of_one_model_get_their_own_styles(tmp_path):
    """Both gLSTM variants of a nar_capacity_quick-like store differ in colour or marker, and
    the figure says n per point and draws no band for one seed, beside the 1/N chance line."""
    accs = {8: [1.0, 0.6], 16: [1.0, 0.95]}
    write_store(tmp_path, "quick", nar_runs([8, 16], [4, 8], accs))
    out = rep.report("quick", tmp_path, check_sweep=False)
    styles = series_styles(out["figure"])
    a, b = styles["glstm d_k=8 d=16"], styles["glstm d_k=16 d=32"]
    assert a[:2] != b[:2]
    assert "chance (1/N)" in styles
    assert "n = 1 seed per point, no band" in out["figure"]._suptitle.get_text()
    assert "std" not in out["figure"]._suptitle.get_text()
    assert not out["figure"].axes[0].collections  # no band
    assert out["figure"].axes[0].get_xlabel() == "N (keys)"


def test_the_same_variant_looks_the_same_in_two_figures(tmp_path):
    """d_k=8 in a store beside d_k=16 and in one beside d_k=32 (another experiment): one look."""
    accs = {8: [1.0, 0.6], 16: [1.0, 0.9], 32: [1.0, 1.0]}
    write_store(tmp_path, "one", nar_runs([8, 16], [4, 8], accs, seeds=2))
    write_store(tmp_path, "two", nar_runs([32, 8], [4, 8], accs))
    first = series_styles(rep.report("one", tmp_path, check_sweep=False)["figure"])
    second = series_styles(rep.report("two", tmp_path, check_sweep=False)["figure"])
    assert first["glstm d_k=8 d=16"] == second["glstm d_k=8 d=16"]
    assert first["glstm d_k=8 d=16"][:2] == tuple(style("glstm d_k=8 d=16").values())[:2]
    assert (
        "band ± 1 std over seeds (ddof = 1)"
        in rep.report("one", tmp_path, False, False)["figure"]._suptitle.get_text()
    )


def test_published_points_of_fa_on_and_off_differ():
    on, off = style("gcn last_layer_fa=on"), style("gcn last_layer_fa=off")
    assert (on["color"], on["marker"], on["ls"]) != (off["color"], off["marker"], off["ls"])
    assert on["marker"] != off["marker"] or on["color"] != off["color"]


def test_censored_capacity(tmp_path, capsys):
    """Still above 0.9 at the largest N: ">= N"; below at the smallest N: "< N"."""
    accs = {8: [0.95, 0.92, 0.91], 16: [0.5, 0.3, 0.2], 32: [0.99, 0.8, 0.5]}
    write_store(tmp_path, "cap", nar_runs([8, 16, 32], [4, 8, 16], accs))
    out = rep.report("cap", tmp_path, check_sweep=False)
    cap = out["capacity"].droplevel("task")
    assert cap.loc[("glstm", "d_k=8 d=16"), "capacity"] == ">= 16"
    assert cap.loc[("glstm", "d_k=8 d=16"), "censored"] == "above"
    assert cap.loc[("glstm", "d_k=16 d=32"), "capacity"] == "< 4"
    assert cap.loc[("glstm", "d_k=32 d=64"), "censored"] == ""
    expected = capacity_threshold([4, 8, 16], [0.99, 0.8, 0.5])
    assert cap.loc[("glstm", "d_k=32 d=64"), "capacity"] == f"{expected:.1f}"
    md = (output_dirs(tmp_path)[0] / "cap.md").read_text()
    assert "| >= 16 |" in md and "| < 4 |" in md and "'>= N'" in md
    assert r"$\geq$ 16" in (output_dirs(tmp_path)[0] / "cap.tex").read_text()


def test_sweep_values_sort_as_numbers(tmp_path):
    assert sorted(["lr=0.01", "lr=0.003", "lr=0.001", "lr=1e-4"], key=natural_key) == [
        "lr=1e-4",
        "lr=0.001",
        "lr=0.003",
        "lr=0.01",
    ]
    runs = []
    for lr in (0.01, 0.001, 0.003):
        r = result("gcn", 64, 4, 0, 0.5)
        r["config"]["train"]["lr"] = lr
        r["config_hash"] = f"lr{lr}"
        runs.append(r)
    out = rep.report("lr", write_store(tmp_path, "lr", runs), check_sweep=False)
    assert out["table"]["variant"].tolist() == ["lr=0.001", "lr=0.003", "lr=0.01"]
    assert out["summary"]["variant"].tolist() == ["lr=0.001", "lr=0.003", "lr=0.01"]


def test_runs_that_differ_in_a_setting_are_not_merged(tmp_path, capsys):
    """An ad-hoc store (`default`) holding the same model with 100 and 1000 training graphs: two
    rows, and the report says which setting varies."""
    runs = nar_runs([8], [4], {8: [0.9]}, seeds=2) + nar_runs(
        [8], [4], {8: [0.5]}, seeds=2, num_train=1000
    )
    out = rep.report("default", write_store(tmp_path, "default", runs), check_sweep=False)
    assert out["table"]["variant"].tolist() == ["num_train=100", "num_train=1000"]
    assert out["summary"]["n"].tolist() == [2, 2]
    assert "settings that vary: task.num_train" in out["varied"]
    assert "task.num_train" in capsys.readouterr().out


def tracked_or_not_ignored(paths: list[str]) -> list[str]:
    """The repository paths among `paths` that git tracks or does not ignore."""
    tracked = subprocess.run(
        ["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "--", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    return sorted(set(tracked) | (set(paths) - set(ignored)))


def test_outputs_never_touch_tracked_files(tmp_path, store):
    """Every file report, verify and the depth-width study write lies in the ignored output
    folder: written under a temporary results dir, each path taken as if it were `results/`
    is neither tracked nor unignored, and git status shows no tracked file changed."""
    from benchmarks import verify
    from benchmarks.studies import depth_width

    before = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rep.report("synthetic", store, check_sweep=False)
    depth_width.main(["--quick", "--results-dir", str(store), "--activations", "tanh"])
    write_store(store, "tree_neighbors_match_quick", [result("gcn", 64, 4, 0, 0.5)])
    verify.verify("tree_neighbors_match_quick", store, check_sweep=False)
    runs = set((store / "runs").rglob("*"))
    written = [p for p in store.rglob("*") if p.is_file() and p not in runs]
    assert {p.name for p in written} >= {
        "synthetic.md",
        "synthetic.png",
        "depth_width_quick.csv",
        "depth_width_quick.png",
        "tree_neighbors_match_quick_verify.md",
    }
    as_repo = [f"results/{p.relative_to(store)}" for p in written]
    assert all(p.startswith("results/out/") for p in as_repo), as_repo
    assert tracked_or_not_ignored(as_repo + ["results/runs/x/y/result.json"]) == []
    after = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert not {line for line in after.splitlines() if line[3:].startswith("results/")} - {
        line for line in before.splitlines()
    }
