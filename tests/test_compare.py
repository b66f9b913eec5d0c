"""Compare and its statistics on synthetic numbers and a synthetic store: a known large effect is
covered by its interval and rejected, identical results are not, too few seeds are said, and
Friedman, Nemenyi, Holm, the sign test and ranks with ties match hand computations."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from benchmarks import compare as cmp
from benchmarks.analysis import cd_diagram
from benchmarks.analysis import statistics as st

# ------------------------------------------------------------------------------------------------
# Paired differences


def test_large_effect_is_covered_and_rejected():
    rng = np.random.default_rng(1)
    b = rng.normal(0.6, 0.05, size=10)
    a = b + 0.2 + rng.normal(0, 0.01, size=10)
    for test in ("t", "wilcoxon"):
        out = st.paired_difference(a, b, test)
        assert out.n == 10 and out.testable
        assert out.low < 0.2 < out.high and out.high - out.low < 0.05
        assert out.difference == pytest.approx(np.mean(a - b))
        assert out.p < 0.01 and out.verdict() == "significant"
    # Wilcoxon, 10 pairs all positive: exact two-sided p = 2 / 2**10
    assert st.paired_difference(a, b, "wilcoxon").p == pytest.approx(2 / 1024)


def test_identical_results_are_not_rejected():
    a = np.array([0.5, 0.625, 0.75, 0.875, 1.0])
    out = st.paired_difference(a, a.copy())
    assert (out.difference, out.low, out.high, out.p) == (0.0, 0.0, 0.0, 1.0)
    assert out.verdict() == "not significant"
    # differences symmetric around zero: the interval covers 0, the test does not reject
    b = a + np.array([0.01, -0.01, 0.02, -0.02, 0.005])
    noisy = st.paired_difference(a, b)
    assert noisy.low < 0 < noisy.high and noisy.p > 0.05


def test_too_few_seeds():
    out = st.paired_difference([0.9, 0.8], [0.1, 0.2])
    assert out.n == 2 and not out.testable and out.verdict() == "too few seeds"
    assert math.isnan(out.p) and math.isnan(out.low)
    assert out.difference == pytest.approx(0.7)
    # Wilcoxon needs 6 pairs: with 5 its smallest two-sided p is 2 / 2**5 = 1 / 16 > 0.05
    assert st.paired_difference([1, 2, 3, 4, 5], [0] * 5, "wilcoxon").verdict() == "too few seeds"


def test_pair_by_seed_keeps_shared_seeds():
    a = pd.DataFrame({"seed": [0, 1, 2], "data_seed": [0, 1, 2], "model_seed": [0, 1, 2]})
    b = a.iloc[[2, 0]].copy()
    pairs = st.pair_by_seed(
        a.assign(score=[0.5, 0.6, 0.7]),
        b.assign(score=[0.1, 0.3]),
        ["seed", "data_seed", "model_seed"],
    )
    assert pairs["a"].tolist() == [0.5, 0.7] and pairs["b"].tolist() == [0.3, 0.1]


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, max(0.06, 1 * 0.04) = 0.06
    adjusted = st.holm([0.01, 0.04, 0.03, np.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and np.isnan(adjusted[3])


# ------------------------------------------------------------------------------------------------
# Ranks over cells


def test_average_ranks_with_ties():
    means = pd.Series({"a": 0.75, "b": 0.75, "c": 0.75, "d": 0.5})
    # a three-way tie for first: (1 + 2 + 3) / 3 = 2 each
    assert st.rank_scores(means, True).to_dict() == {"a": 2, "b": 2, "c": 2, "d": 4}
    # lower is better: d first, then the three share (2 + 3 + 4) / 3 = 3
    assert st.rank_scores(means, False).to_dict() == {"a": 3, "b": 3, "c": 3, "d": 1}
    # means equal but for the last bits of a float sum tie
    assert st.rank_scores(pd.Series([0.1 + 0.2, 0.3]), True).tolist() == [1.5, 1.5]


# Four cells, three models (1 = best):
#   cell 1: A 1, B 2, C 3;  cell 2: A 1, B 3, C 2;  cell 3: A 1, B 2, C 3;  cell 4: A 2, B 1, C 3.
RANKS = pd.DataFrame({"A": [1, 1, 1, 2], "B": [2, 3, 2, 1], "C": [3, 2, 3, 3]}, dtype=float)


def test_friedman_and_nemenyi_by_hand():
    out = st.friedman(RANKS)
    # rank sums R = 5, 8, 11; mean ranks 1.25, 2, 2.75.
    # chi2_F = 12 / (N k (k + 1)) sum R^2 - 3 N (k + 1) = 12 / 48 * (25 + 64 + 121) - 48 = 4.5
    # chi2 with k - 1 = 2 df: p = exp(-4.5 / 2)
    assert (out.k, out.n) == (3, 4)
    assert out.statistic == pytest.approx(4.5)
    assert out.p == pytest.approx(math.exp(-2.25))
    assert out.mean_ranks.to_dict() == {"A": 1.25, "B": 2.0, "C": 2.75}
    # Nemenyi: q_0.05 for k = 3 is 2.343 (Demsar 2006, table 5);
    # CD = 2.343 * sqrt(3 * 4 / (6 * 4)) = 2.343 * 0.7071 = 1.657
    assert out.critical_difference == pytest.approx(1.657, abs=1e-3)
    # A - C = 1.5 < CD: not significant; the studentized range at q = 1.5 / 0.7071 * sqrt(2) = 3
    assert out.pairwise_p.loc["A", "C"] > 0.05
    assert out.pairwise_p.loc["A", "C"] == pytest.approx(out.pairwise_p.loc["C", "A"])
    assert out.pairwise_p.loc["A", "B"] > out.pairwise_p.loc["A", "C"]


def test_friedman_rejects_a_consistent_order():
    ranks = pd.DataFrame({"A": [1.0] * 10, "B": [2.0] * 10, "C": [3.0] * 10})
    out = st.friedman(ranks)
    # chi2_F = 12 / (10 * 3 * 4) * (10^2 + 20^2 + 30^2) - 3 * 10 * 4 = 140 - 120 = 20
    assert out.statistic == pytest.approx(20.0) and out.p == pytest.approx(math.exp(-10))
    # CD = 2.343 * sqrt(12 / 60) = 1.048: A - C = 2 differs, A - B = 1 does not
    assert out.critical_difference == pytest.approx(1.048, abs=1e-3)
    assert out.pairwise_p.loc["A", "C"] < 0.05 < out.pairwise_p.loc["A", "B"]
    with pytest.raises(ValueError, match="Friedman needs >= 3 models"):
        st.friedman(ranks[["A", "B"]])


def test_sign_test_and_cliques_by_hand():
    # 3 wins, 1 loss, 1 tie: p = 2 * P(X >= 3 | n = 4) = 2 * (4 + 1) / 16 = 0.625
    wins = st.sign_test(pd.Series([1, 1, 1, 2, 1.5]), pd.Series([2, 2, 2, 1, 1.5]))
    assert wins[:3] == (3, 1, 1) and wins[3] == pytest.approx(0.625)
    ranks = pd.Series({"a": 1.0, "b": 1.5, "c": 2.8, "d": 3.0})
    assert st.cliques(ranks, 1.0) == [(0, 1), (2, 3)]
    assert st.cliques(ranks, 2.0) == [(0, 3)]


def test_common_block_leaves_out_the_model_that_blocks_most():
    present = pd.DataFrame(
        {"t1": [1, 1, 1, 1], "t2": [1, 1, 1, 0], "t3": [1, 1, 1, 0]},
        index=["a", "b", "c", "solo"],
    ).astype(bool)
    assert st.common_block(present) == (["a", "b", "c"], ["t1", "t2", "t3"])
    assert st.common_block(present, keep=("solo",)) == ([], [])  # solo shares one column only
    assert st.common_block(present.loc[["a", "solo"]]) == ([], [])


def test_cd_diagram_draws(tmp_path):
    path = cd_diagram.draw(
        pd.Series({"glstm": 1.2, "gcn": 2.4, "gin": 2.6, "gat": 3.8}), 1.5, tmp_path / "cd.png"
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------------
# The command on a synthetic store

# score of a model on (task, size) for seed s: BASE + offset + NOISE[s]; glstm is 0.25 above
# gcn in every cell, twin equals gcn seed by seed, gin is 0.125 below gcn, and few (2 seeds)
# scores 0.0625 below gcn's mean.
NOISE = [0.0, 0.03125, -0.03125, 0.0625, -0.0625]
OFFSET = {"glstm": 0.25, "gcn": 0.0, "twin": 0.0, "gin": -0.125}


def run_result(model: str, size: int, seed: int, score: float) -> dict:
    return {
        "experiment": "exp",
        "config_hash": f"{model}-{size}-{seed}",
        "task": "nar",
        "model": model,
        "model_config": f"x/{model}",
        "metric": "acc",
        "higher_is_better": True,
        "select": "best_val",
        "score_key": "test/acc",
        "score": score,
        "selected_epoch": 1,
        "epochs": 5,
        "stopped": "max_epochs",
        "params": 1000,
        "width": 64,
        "num_layers": 4,
        "wall_time_s": 1.0,
        "train_time_s": 1.0,
        "device": "cpu",
        "seed": seed,
        "data_seed": seed,
        "model_seed": seed,
        "size/num_keys": size,
        "config": {
            "task": {"_target_": "x.nar", "num_keys": size},
            "model": {"_target_": f"x.{model}", "dim": 64},
            "train": {"lr": 0.001},
            "seed": seed,
            "data_seed": seed,
            "model_seed": seed,
        },
    }


@pytest.fixture
def store(tmp_path):
    def write(r):
        path = tmp_path / "runs" / "exp" / r["config_hash"]
        path.mkdir(parents=True)
        (path / "result.json").write_text(json.dumps(r))

    for i, size in enumerate((4, 8, 16, 32)):
        base = 0.5 - 0.0625 * i
        for model, offset in OFFSET.items():
            for seed, noise in enumerate(NOISE):
                score = base + offset + noise + (0.001 * seed if model == "glstm" else 0)
                write(run_result(model, size, seed, score))
        for seed in range(2):
            write(run_result("few", size, seed, base - 0.0625))
    return tmp_path


def test_compare_two_models(store, capsys):
    assert cmp.main(["glstm", "gcn", "--experiment", "exp", "--results-dir", str(store)]) == 0
    out = capsys.readouterr().out
    assert "A = glstm (x/glstm) against B = gcn (x/gcn)" in out
    assert "paired t-test" in out and "fewer than 3 pairs" in out
    cells = pd.read_csv(store / "out" / "tables" / "compare_exp_glstm_x_glstm_gcn_x_gcn.csv")
    assert cells["cell"].tolist() == ["nar N=4", "nar N=8", "nar N=16", "nar N=32"]
    assert (cells["n"] == 5).all() and (cells["verdict"] == "A better").all()
    # the differences are 0.25 + 0.001 * seed: mean 0.252, inside every interval
    assert cells["difference"].to_numpy() == pytest.approx(0.252)
    assert ((cells["low"] < 0.252) & (0.252 < cells["high"])).all()
    assert (cells["p"] < 1e-6).all()
    # over cells: glstm better in 4 of 4, sign test p = 2 / 2**4
    assert "A better in 4, B better in 0, tied in 0" in out and "p = 0.125" in out


def test_compare_identical_and_too_few(store):
    twin = cmp.compare("twin", "gcn", "exp", store)["cells"]
    assert (twin["difference"] == 0).all() and (twin["p"] == 1).all()
    assert (twin["verdict"] == "not significant").all()
    few = cmp.compare("few", "gcn", "exp", store)["cells"]
    assert (few["n"] == 2).all() and (few["verdict"] == "too few seeds").all()
    assert few["p"].isna().all()


def test_compare_against_every_other_model(store, capsys):
    out = cmp.compare("gcn (x/gcn)", None, "exp", store)
    assert sorted(set(out["cells"]["B"])) == [
        "few (x/few)",
        "gin (x/gin)",
        "glstm (x/glstm)",
        "twin (x/twin)",
    ]
    friedman = out["overall"].friedman
    # means per cell (NOISE sums to 0): glstm base + 0.252, gcn = twin = base, few base - 0.0625,
    # gin base - 0.125: ranks glstm 1, gcn and twin (2 + 3) / 2 = 2.5, few 4, gin 5 in all 4.
    assert friedman.k == 5 and friedman.n == 4
    assert friedman.mean_ranks.to_dict() == {
        "glstm (x/glstm)": 1.0,
        "gcn (x/gcn)": 2.5,
        "twin (x/twin)": 2.5,
        "few (x/few)": 4.0,
        "gin (x/gin)": 5.0,
    }
    printed = capsys.readouterr().out
    assert "Friedman chi2" in printed and "Nemenyi" in printed
    assert (store / "out" / "figures" / "compare_exp_gcn_x_gcn_cd.png").stat().st_size > 5_000


def test_compare_unknown_model_says_so(store, capsys):
    assert cmp.main(["mlp", "--experiment", "exp", "--results-dir", str(store)]) == 2
    printed = capsys.readouterr().err.strip()
    assert printed.startswith("error: compare: no model 'mlp' in these runs; models: few (x/few);")
    assert len(printed.splitlines()) == 1
    assert cmp.main(["gcn", "--experiment", "none", "--results-dir", str(store)]) == 2
