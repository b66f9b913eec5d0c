"""The leaderboard on a synthetic store: scores, ranks and mean ranks match a hand computation, a
model missing on a task is shown as missing (not last), every output is written, and an empty
store says so in one line."""

import json

import pandas as pd
import pytest

from benchmarks import leaderboard as lb

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
    ("gcn", "graph_transfer", "line"): [0.5],  # alone on the line
    ("gcn", "tree_neighbors_match", None): [1.0],
    ("gin", "tree_neighbors_match", None): [0.5],
    ("glstm", "tree_neighbors_match", None): [0.75],
    ("mine", "tree_neighbors_match", None): [0.25],
}
# Hand computation. nar (higher is better): glstm 1, gin and mine tie for 2-3 -> 2.5, gcn 4.
# graph_transfer ring (lower is better): glstm 1, gcn 2, gin 3; line: gcn 1.
# tree_neighbors_match: gcn 1, glstm 2, gin 3, mine 4. mine has no graph_transfer run.
RANKS = {
    "glstm (x/glstm)": {
        "nar N=8": 1,
        "graph_transfer ring d=5": 1,
        "tree_neighbors_match depth=4": 2,
    },
    "gcn (x/gcn)": {
        "nar N=8": 4,
        "graph_transfer line d=5": 1,
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
MEAN_RANKS = {"glstm (x/glstm)": 4 / 3, "gcn (x/gcn)": 2.0, "gin (x/gin)": 8.5 / 3}
MEAN_RANKS["residualgcn (mine)"] = 6.5 / 2  # over its 2 tasks; 10.5 / 3 if ranked last
PROTOCOL = {
    "nar": ("size/num_keys", 8, "acc", "test/acc"),
    "graph_transfer": ("size/distance", 5, "mse", "test/mse"),
    "tree_neighbors_match": ("size/depth", 4, "acc", "train/acc"),
}


def result(model: str, task: str, setting: str | None, seed: int, score: float) -> dict:
    """A result.json with the keys the leaderboard reads."""
    size_key, size, metric, score_key = PROTOCOL[task]
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
        "score_key": score_key,
        "score": score,
        "params": {"gcn": 1000, "gin": 2000, "glstm": 3000, "mine": 500}[model] + seed,
        "epochs": 5 if model != "mine" else 1,
        "train_time_s": 10.0 if model != "mine" else 3.0,
        "config": {
            "task": task_cfg,
            "model": {"_target_": f"x.{name}", "dim": 64},
            "train": {"lr": 1e-3},
            "seed": seed,
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


def test_ranks_match_hand_computation(store, capsys):
    out = lb.leaderboard(store)
    cells = out["cells"].set_index(["row", "column"])
    ranks = {row: dict(group.droplevel(0)["rank"]) for row, group in cells.groupby(level=0)}
    assert ranks == RANKS

    nar = cells.xs("nar N=8", level="column")
    assert nar["mean"].to_dict() == {
        "gcn (x/gcn)": 0.5,
        "gin (x/gin)": 0.75,
        "glstm (x/glstm)": 0.875,
        "residualgcn (mine)": 0.75,
    }
    assert nar.loc["gcn (x/gcn)", "n"] == 2  # the duplicate in synthetic_again is not a seed
    assert nar.loc["gcn (x/gcn)", "std"] == pytest.approx(0.3535534, rel=1e-6)  # ddof = 1

    totals = out["totals"].set_index("model")
    assert list(totals.index) == [
        "glstm (x/glstm)",
        "gcn (x/gcn)",
        "gin (x/gin)",
        "residualgcn (mine)",
    ]
    assert totals["mean rank"].to_dict() == pytest.approx(MEAN_RANKS)
    assert totals["tasks"].to_dict() == {m: len(r) for m, r in RANKS.items()}
    assert totals.loc["gcn (x/gcn)", "params"] == 1000  # median of 1000, 1001, 1000, 1000, 1000
    assert totals.loc["gin (x/gin)", "params"] == 2000  # of 2000, 2001, 2000, 2001, 2000
    assert totals.loc["gcn (x/gcn)", "s / epoch"] == 2.0
    assert totals.loc["residualgcn (mine)", "s / epoch"] == 3.0

    table = out["table"].set_index("model")
    assert list(table.columns[:4]) == ["mean rank", "tasks", "params", "s / epoch"]
    assert list(table.columns[4:]) == [  # task instances by task, setting, size
        "graph_transfer line d=5",
        "graph_transfer ring d=5",
        "nar N=8",
        "tree_neighbors_match depth=4",
    ]
    mine = table.loc["residualgcn (mine)"]
    assert mine["graph_transfer ring d=5"] == "–" and mine["graph_transfer line d=5"] == "–"
    assert mine["nar N=8"] == "0.750 [2.5]" and mine["mean rank"] == "3.25"
    assert table.loc["glstm (x/glstm)", "graph_transfer ring d=5"] == "0.0625 [1]"

    md = (store / "tables" / "leaderboard.md").read_text()
    assert md.split("\n\n")[0] in capsys.readouterr().out  # the table is printed
    assert "| residualgcn (mine) | 3.25 | 2 | 500 | 3 | – | – | 0.750 [2.5] | 0.250 [4] |" in md
    assert "graph_transfer: test/mse (MSE, lower is better)" in md
    csv = pd.read_csv(store / "tables" / "leaderboard.csv")
    assert len(csv) == sum(len(r) for r in RANKS.values())
    assert {"model", "task instance", "mean", "std", "n", "rank", "mean rank"} <= set(csv)
    png = store / "figures" / "leaderboard.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_experiments_option_selects_runs(store):
    assert lb.main(["--results-dir", str(store)]) == 0
    out = lb.leaderboard(store, ["synthetic_again"], name="subset")
    assert list(out["totals"]["model"]) == ["gcn (x/gcn)"]
    assert out["cells"]["n"].tolist() == [1]
    subset = (store / "tables" / "subset.md").read_text()
    assert "gcn (x/gcn)" in subset and "gin" not in subset
    assert "gin" in (store / "tables" / "leaderboard.md").read_text()  # not overwritten
    assert (store / "figures" / "subset.png").stat().st_size > 0


def test_model_key_that_varies_within_a_task_splits_rows(tmp_path):
    """A sweep over model.khop on one task instance: two rows, each labelled on every task."""
    for seed, (khop, score) in enumerate([(True, 1.0), (False, 0.5)]):
        r = result("glstm", "nar", None, seed, score)
        r["config"]["model"]["khop"] = khop
        write(tmp_path, "synthetic", r)
    r = result("glstm", "tree_neighbors_match", None, 0, 0.5)
    r["config"]["model"]["khop"] = False
    write(tmp_path, "synthetic", r)
    out = lb.leaderboard(tmp_path)
    totals = out["totals"].set_index("model")
    assert totals["tasks"].to_dict() == {
        "glstm (x/glstm) khop=on": 1,
        "glstm (x/glstm) khop=off": 2,
    }
    assert totals["mean rank"].to_dict() == {
        "glstm (x/glstm) khop=on": 1.0,
        "glstm (x/glstm) khop=off": 1.5,
    }


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
    ranks = lb.leaderboard(tmp_path)["cells"].set_index("row")["rank"].to_dict()
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
    assert not (tmp_path / "tables").exists()
