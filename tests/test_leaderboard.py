"""The leaderboard on synthetic stores: scores and ranks match a hand computation, a model alone
in a column has no rank, ties are ties, rows split by every setting but the seeds, the mean rank
is over a common set of columns only, the default scope is the experiments' stores, and the
outputs land in the ignored output folder."""

import json
import math

import pandas as pd
import pytest

from benchmarks import leaderboard as lb
from benchmarks.analysis import rows, scope

# (model, task, setting) -> score per seed. Scores are exact binary fractions, so that equal means
# are equal floats (the tie).
SCORES = {
    ("gcn", "nar", None): [0.25, 0.75],  # 0.5
    ("gin", "nar", None): [0.75, 0.75],  # 0.75, tied with mine
    ("glstm", "nar", None): [0.75, 1.0],  # 0.875
    ("mine", "nar", None): [0.5, 1.0],  # 0.75
    ("gcn", "graph_transfer", "ring"): [0.125],  # MSE: lower is better
    ("gin", "graph_transfer", "ring"): [0.25, 0.25],
    ("glstm", "graph_transfer", "ring"): [0.0625],
    ("gcn", "graph_transfer", "line"): [0.5],  # alone on the line: no rank
    ("gcn", "tree_neighbors_match", None): [1.0],
    ("gin", "tree_neighbors_match", None): [0.5],
    ("glstm", "tree_neighbors_match", None): [0.75],
    ("mine", "tree_neighbors_match", None): [0.25],
}
# Hand computation. nar (higher is better): glstm 1, gin and mine tie for 2-3 -> 2.5, gcn 4.
# graph_transfer ring (lower is better): glstm 1, gcn 2, gin 3; line: gcn alone, not ranked.
# tree_neighbors_match: gcn 1, glstm 2, gin 3, mine 4. mine has no graph_transfer run.
NAN = float("nan")
RANKS = {
    "glstm (x/glstm)": {
        "nar N=8": 1,
        "graph_transfer ring d=5": 1,
        "tree_neighbors_match depth=4": 2,
    },
    "gcn (x/gcn)": {
        "nar N=8": 4,
        "graph_transfer line d=5": NAN,
        "graph_transfer ring d=5": 2,
        "tree_neighbors_match depth=4": 1,
    },
    "gin (x/gin)": {
        "nar N=8": 2.5,
        "graph_transfer ring d=5": 3,
        "tree_neighbors_match depth=4": 3,
    },
    "residualgcn (mine)": {"nar N=8": 2.5, "tree_neighbors_match depth=4": 4},
}
# The mean rank is over the ranked columns every model ran: nar and tree_neighbors_match (mine
# ran no graph_transfer), ranks among the four models there as above:
# glstm (1 + 2) / 2, gcn (4 + 1) / 2, gin (2.5 + 3) / 2, mine (2.5 + 4) / 2.
MEAN_RANKS = {
    "glstm (x/glstm)": 1.5,
    "gcn (x/gcn)": 2.5,
    "gin (x/gin)": 2.75,
    "residualgcn (mine)": 3.25,
}
PROTOCOL = {
    "nar": ("size/num_keys", 8, "acc", "test/acc", True),
    "graph_transfer": ("size/distance", 5, "mse", "test/mse", False),
    "tree_neighbors_match": ("size/depth", 4, "acc", "train/acc", True),
}


def result(model: str, task: str, setting: str | None, seed: int, score: float) -> dict:
    """A result.json (:class:`benchmarks.engine.results.RunResult`'s fields)."""
    size_key, size, metric, score_key, higher = PROTOCOL[task]
    task_cfg = {"_target_": f"x.{task}", size_key.removeprefix("size/"): size, "num_train": 100}
    if setting:
        task_cfg["topology"] = setting
    name, config = ("residualgcn", "mine") if model == "mine" else (model, f"x/{model}")
    return {
        "config_hash": f"{model}-{task}-{setting}-{seed}",
        "experiment": "synthetic",
        "task": task,
        size_key: size,
        "model": name,
        "model_config": config,
        "metric": metric,
        "higher_is_better": higher,
        "select": "best_val",
        "score_key": score_key,
        "score": score,
        "selected_epoch": 1,
        "stopped": "max_epochs",
        "params": {"gcn": 1000, "gin": 2000, "glstm": 3000, "mine": 500}[model] + seed,
        "width": 64,
        "num_layers": 4,
        "epochs": 5 if model != "mine" else 1,
        "train_time_s": 10.0 if model != "mine" else 3.0,
        "wall_time_s": 12.0,
        "device": "cpu",
        "seed": seed,
        "data_seed": seed,
        "model_seed": seed,
        "config": {
            "task": task_cfg,
            "model": {"_target_": f"x.{name}", "dim": 64},
            "train": {"lr": 1e-3},
            "seed": seed,
            "data_seed": seed,
            "model_seed": seed,
        },
    }


def write(root, experiment: str, r: dict) -> None:
    path = root / "runs" / experiment / r["config_hash"]
    path.mkdir(parents=True)
    (path / "result.json").write_text(json.dumps(r))


@pytest.fixture
def store(tmp_path):
    for (model, task, setting), scores in SCORES.items():
        for seed, score in enumerate(scores):
            write(tmp_path, "synthetic", result(model, task, setting, seed, score))
    # the same run stored by a second experiment counts once
    write(tmp_path, "synthetic_again", result("gcn", "nar", None, 0, 0.25))
    return tmp_path


def board(root, experiments=("synthetic",), **kwargs):
    return lb.leaderboard(root, list(experiments), **kwargs)


def test_ranks_match_hand_computation(store, capsys):
    out = board(store, ["synthetic", "synthetic_again"])
    cells = out["cells"].set_index(["row", "column"])
    ranks = {row: dict(group.droplevel(0)["rank"]) for row, group in cells.groupby(level=0)}
    assert ranks.keys() == RANKS.keys()
    for row, expected in RANKS.items():
        assert ranks[row] == pytest.approx(expected, nan_ok=True), row

    nar = cells.xs("nar N=8", level="column")
    assert nar["mean"].to_dict() == {
        "gcn (x/gcn)": 0.5,
        "gin (x/gin)": 0.75,
        "glstm (x/glstm)": 0.875,
        "residualgcn (mine)": 0.75,
    }
    assert nar.loc["gcn (x/gcn)", "n"] == 2  # the duplicate in synthetic_again is not a seed
    assert nar.loc["gcn (x/gcn)", "std"] == pytest.approx(0.3535534, rel=1e-6)  # ddof = 1
    assert nar["tie"].to_dict() == {
        "gcn (x/gcn)": False,
        "gin (x/gin)": True,
        "glstm (x/glstm)": False,
        "residualgcn (mine)": True,
    }
    # 2 seeds each: too few for the paired t-test against the best (glstm)
    assert nar["vs_best"].to_dict() == {
        "gcn (x/gcn)": "too few seeds",
        "gin (x/gin)": "too few seeds",
        "glstm (x/glstm)": "best",
        "residualgcn (mine)": "too few seeds",
    }

    totals = out["totals"].set_index("model")
    assert list(totals.index) == list(MEAN_RANKS)
    assert totals["mean rank"].to_dict() == pytest.approx(MEAN_RANKS)
    assert out["summary"].columns == ["nar N=8", "tree_neighbors_match depth=4"]
    assert totals["coverage"].to_dict() == {
        "glstm (x/glstm)": "3/4",
        "gcn (x/gcn)": "4/4",
        "gin (x/gin)": "3/4",
        "residualgcn (mine)": "2/4",
    }
    assert totals.loc["gcn (x/gcn)", "params"] == 1000  # median of 1000, 1001, 1000, 1000, 1000
    assert totals.loc["gin (x/gin)", "params"] == 2000  # of 2000, 2001, 2000, 2001, 2000
    assert totals.loc["gcn (x/gcn)", "s / epoch"] == 2.0
    assert totals.loc["residualgcn (mine)", "s / epoch"] == 3.0

    table = out["table"].set_index("model")
    assert list(table.columns[:4]) == ["mean rank", "coverage", "params", "s / epoch"]
    assert list(table.columns[4:]) == [  # task instances by task, setting, size
        "graph_transfer line d=5",
        "graph_transfer ring d=5",
        "nar N=8",
        "tree_neighbors_match depth=4",
    ]
    mine = table.loc["residualgcn (mine)"]
    assert mine["graph_transfer ring d=5"] == "–" and mine["graph_transfer line d=5"] == "–"
    assert mine["nar N=8"] == "0.750 ± 0.354 (2) [=2.5]?"  # std of 0.5, 1.0: sqrt(0.125)
    assert mine["mean rank"] == "3.25"
    assert table.loc["glstm (x/glstm)", "graph_transfer ring d=5"] == "0.0625 (1) [1]"
    assert table.loc["gcn (x/gcn)", "graph_transfer line d=5"] == "0.5 (1)"  # alone: no rank

    tables, figures = store / "out" / "tables", store / "out" / "figures"
    md = (tables / "leaderboard.md").read_text()
    assert md.split("\n\n")[0] in capsys.readouterr().out  # the table is printed
    assert (
        "| residualgcn (mine) | 3.25 | 2/4 | 500 | 3 | – | – | 0.750 ± 0.354 (2) [=2.5]? "
        "| 0.250 (1) [4]? |" in md
    )
    assert "graph_transfer: test/mse (MSE, lower is better)" in md
    assert "over the 2 task instances that all 4 models" in md
    csv = pd.read_csv(tables / "leaderboard.csv")
    assert len(csv) == sum(len(r) for r in RANKS.values())
    assert {"model", "task instance", "mean", "std", "n", "rank", "tie", "vs_best"} <= set(csv)
    assert {"mean rank", "coverage", "higher_is_better"} <= set(csv)
    png = figures / "leaderboard.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert (figures / "leaderboard_cd.png").stat().st_size > 5_000  # 4 models: Friedman, CD
    assert not (store / "tables").exists() and not (store / "figures").exists()


def test_experiments_option_selects_runs(store):
    assert lb.main(["--results-dir", str(store), "--experiments", "synthetic"]) == 0
    out = board(store, ["synthetic_again"], name="subset")
    assert list(out["totals"]["model"]) == ["gcn (x/gcn)"]
    assert out["cells"]["n"].tolist() == [1]
    assert out["cells"]["rank"].isna().all() and out["summary"] is None
    tables = store / "out" / "tables"
    subset = (tables / "subset.md").read_text()
    assert "gcn (x/gcn)" in subset and "gin" not in subset
    assert "gin" in (tables / "leaderboard.md").read_text()  # not overwritten
    assert (store / "out" / "figures" / "subset.png").stat().st_size > 0


def test_default_scope_is_the_experiments_stores(store, tmp_path_factory, capsys):
    """Only stores with a conf/experiment file; not `default`, not search stores (a
    conf/search file or a study database), whatever their runs; named stores are read."""
    conf = tmp_path_factory.mktemp("conf")
    (conf / "experiment").mkdir()
    (conf / "search").mkdir()
    for name in ("synthetic", "glstm_nar", "my_study"):
        (conf / "experiment" / f"{name}.yaml").write_text("# @package _global_\n")
    (conf / "search" / "glstm_nar.yaml").write_text("n_trials: 1\n")
    (store / "search").mkdir()
    (store / "search" / "my_study.db").write_text("")
    for experiment, model in [("default", "gat"), ("glstm_nar", "sage"), ("my_study", "gine")]:
        r = result("gcn", "nar", None, 0, 0.5)
        r["model"], r["model_config"], r["config_hash"] = model, f"x/{model}", model
        write(store, experiment, r)

    assert scope.default_scope(store, conf) == (
        ["synthetic"],
        ["default", "glstm_nar", "my_study", "synthetic_again"],
    )
    out = lb.leaderboard(store, conf_dir=conf)
    assert set(out["totals"]["model"]) == set(RANKS)
    assert "left out (not experiments; name them with --experiments): default, glstm_nar" in (
        capsys.readouterr().out
    )
    named = lb.leaderboard(store, ["default", "my_study"], name="named", conf_dir=conf)
    assert set(named["totals"]["model"]) == {"gat (x/gat)", "gine (x/gine)"}


def test_lr_sweep_gives_one_row_per_lr(tmp_path):
    """Three learning rates x three seeds: three rows of three seeds each, not one of nine; an
    Optuna-style learning rate is rounded to the digits that keep the values apart."""
    lrs = {0.001: [0.5, 0.5, 0.5], 0.003: [0.75, 0.75, 0.75], 0.0012345678901234567: [1, 1, 1]}
    for lr, scores in lrs.items():
        for seed, score in enumerate(scores):
            r = result("gcn", "nar", None, seed, score)
            r["config"]["train"]["lr"] = lr
            r["config_hash"] += f"-{lr}"
            write(tmp_path, "synthetic", r)
    for seed in range(3):
        write(tmp_path, "synthetic", result("gin", "nar", None, seed, 0.875))
    cells = board(tmp_path)["cells"].set_index("row")
    assert cells["n"].to_dict() == {
        "gcn (x/gcn) lr=0.001": 3,
        "gcn (x/gcn) lr=0.00123": 3,
        "gcn (x/gcn) lr=0.003": 3,
        "gin (x/gin)": 3,
    }
    assert cells["mean"].to_dict()["gcn (x/gcn) lr=0.003"] == 0.75
    assert cells["rank"].to_dict()["gcn (x/gcn) lr=0.00123"] == 1


def test_label_digits_keep_values_apart():
    assert rows.label_digits([0.0012345678901234567, 0.003]) == 3
    assert rows.label_digits([0.00012345678901234567, 0.00012349]) == 5
    assert rows.word("lr", 0.00012345678901234567, 5) == "lr=0.00012346"
    assert rows.word("khop", True) == "khop=on" and rows.word("dim", 64) == "d=64"


def test_three_way_tie_for_first_ranks_two_each(tmp_path):
    """Three models at 0.75 and one at 0.5: ranks (1 + 2 + 3) / 3 = 2 for each, labelled =2."""
    for model, score in [("gcn", 0.75), ("gin", 0.75), ("glstm", 0.75), ("mine", 0.5)]:
        write(tmp_path, "synthetic", result(model, "nar", None, 0, score))
    out = board(tmp_path)
    cells = out["cells"].set_index("row")
    assert cells["rank"].to_dict() == {
        "gcn (x/gcn)": 2,
        "gin (x/gin)": 2,
        "glstm (x/glstm)": 2,
        "residualgcn (mine)": 4,
    }
    assert cells["tie"].sum() == 3
    column = out["table"].set_index("model")["nar N=8"]
    assert column["gin (x/gin)"] == "0.750 (1) [=2]?"
    assert column["residualgcn (mine)"] == "0.500 (1) [4]?"


def test_a_model_that_ran_one_task_does_not_top_the_board(tmp_path):
    """solo is best on the one task it ran: rank 1 there, but no mean rank; the mean rank is
    over the three tasks that gcn, gin and glstm all ran, and solo is listed after them."""
    for model, scores in [("gcn", (0.5, 0.5, 0.5)), ("gin", (0.25, 0.75, 0.25))]:
        for task, score in zip(PROTOCOL, scores, strict=True):
            write(tmp_path, "synthetic", result(model, task, None, 0, score))
    for task, score in zip(PROTOCOL, (0.75, 0.0625, 0.75), strict=True):
        write(tmp_path, "synthetic", result("glstm", task, None, 0, score))
    r = result("mine", "nar", None, 0, 1.0)
    write(tmp_path, "synthetic", r)
    out = board(tmp_path)
    totals = out["totals"].set_index("model")
    # nar: mine 1 (not in the summary); among the three: glstm 1, gcn 2, gin 3.
    # graph_transfer (MSE): glstm 1, gcn 2, gin 3. tree_neighbors_match: glstm 1, gcn 2, gin 3.
    assert totals["mean rank"].to_dict() == pytest.approx(
        {"glstm (x/glstm)": 1.0, "gcn (x/gcn)": 2.0, "gin (x/gin)": 3.0, "residualgcn (mine)": NAN},
        nan_ok=True,
    )
    assert list(totals.index)[-1] == "residualgcn (mine)"
    assert out["table"].set_index("model").loc["residualgcn (mine)", "mean rank"] == "–"
    assert (
        out["cells"].set_index(["row", "column"]).loc[("residualgcn (mine)", "nar N=8"), "rank"]
        == 1
    )
    friedman = out["summary"].friedman
    assert friedman.k == 3 and friedman.n == 3
    # ranks 1, 2, 3 in all 3 columns: chi2 = 12 / (3 * 3 * 4) * (9 + 36 + 81) - 3 * 3 * 4 = 6
    assert friedman.statistic == pytest.approx(6.0)
    assert friedman.p == pytest.approx(math.exp(-3.0))  # chi2 with 2 df: exp(-x / 2)


def test_significant_difference_from_the_best_is_marked(tmp_path):
    """Five seeds each: gin is 0.25 below glstm on every seed (p < 0.05), gcn equals glstm
    seed by seed (not significant), sage has two seeds (too few)."""
    base = [0.5, 0.625, 0.75, 0.875, 0.75]
    for seed, score in enumerate(base):
        write(tmp_path, "synthetic", result("glstm", "nar", None, seed, score))
        write(tmp_path, "synthetic", result("gcn", "nar", None, seed, score - 0.0625 * (seed % 2)))
        write(tmp_path, "synthetic", result("gin", "nar", None, seed, score - 0.25 - seed / 64))
    for seed in range(2):
        r = result("gcn", "nar", None, seed, 0.25)
        r["model"], r["model_config"], r["config_hash"] = "sage", "x/sage", f"sage-{seed}"
        write(tmp_path, "synthetic", r)
    cells = board(tmp_path)["cells"].set_index("row")
    assert cells["vs_best"].to_dict() == {
        "glstm (x/glstm)": "best",
        "gcn (x/gcn)": "not significant",
        "gin (x/gin)": "significant",
        "sage (x/sage)": "too few seeds",
    }
    assert cells.loc["sage (x/sage)", "vs_best_n"] == 2
    table = board(tmp_path)["table"].set_index("model")["nar N=8"]
    assert table["gin (x/gin)"].endswith("[3]*") and table["gcn (x/gcn)"].endswith("[2]")


def test_model_key_that_varies_within_a_task_splits_rows(tmp_path):
    """A sweep over model.khop on one task instance: two rows, each labelled on every task."""
    for seed, (khop, score) in enumerate([(True, 1.0), (False, 0.5)]):
        r = result("glstm", "nar", None, seed, score)
        r["config"]["model"]["khop"] = khop
        write(tmp_path, "synthetic", r)
    r = result("glstm", "tree_neighbors_match", None, 0, 0.5)
    r["config"]["model"]["khop"] = False
    write(tmp_path, "synthetic", r)
    out = board(tmp_path)
    totals = out["totals"].set_index("model")
    assert totals["tasks"].to_dict() == {
        "glstm (x/glstm) khop=on": 1,
        "glstm (x/glstm) khop=off": 2,
    }
    ranks = out["cells"].set_index(["row", "column"])["rank"]
    assert ranks[("glstm (x/glstm) khop=on", "nar N=8")] == 1
    assert ranks[("glstm (x/glstm) khop=off", "nar N=8")] == 2
    assert math.isnan(ranks[("glstm (x/glstm) khop=off", "tree_neighbors_match depth=4")])
    assert totals["mean rank"].isna().all()  # no two models share two ranked columns


def test_graph_remedies_are_rows_of_their_own(tmp_path):
    """The same GCN config plain, with a virtual node and with FoSR / SDRF rewiring: four rows
    ranked against each other, not one pooled row."""
    remedies = [
        ({"virtual_node": None, "rewiring": None}, 0.2),
        ({"virtual_node": True, "rewiring": None}, 0.6),
        (
            {"virtual_node": None, "rewiring": {"_target_": "baselines.rewiring.FoSR", "seed": 0}},
            1.0,
        ),
        (
            {"virtual_node": None, "rewiring": {"_target_": "baselines.rewiring.SDRF", "tau": 1.0}},
            0.4,
        ),
    ]
    for i, (options, score) in enumerate(remedies):
        r = result("gcn", "nar", None, 0, score)
        r["config"] |= options
        r["config_hash"] += f"-{i}"
        write(tmp_path, "synthetic", r)
    ranks = board(tmp_path)["cells"].set_index("row")["rank"].to_dict()
    assert ranks == {
        "gcn (x/gcn) rewiring=FoSR": 1.0,
        "gcn (x/gcn) virtual_node=on": 2.0,
        "gcn (x/gcn) rewiring=SDRF": 3.0,
        "gcn (x/gcn)": 4.0,
    }


def test_empty_store_one_line_exit_1(tmp_path, capsys):
    assert lb.main(["--results-dir", str(tmp_path)]) == 1
    printed = capsys.readouterr().out.strip()
    assert printed == f"leaderboard: no finished runs in {tmp_path / 'runs'}"
    assert not (tmp_path / "out").exists()
