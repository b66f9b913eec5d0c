"""`verify` on a synthetic store: cells within, outside and not run, the exit status, the
tolerance rules, condition matching, and the published points in the report's figure."""

import math

import pytest

from benchmarks import report as rep
from benchmarks import verify as ver
from benchmarks.analysis.anchors import published
from benchmarks.analysis.outputs import output_dirs
from benchmarks.analysis.styles import published_style
from benchmarks.core.errors import ConfigError
from tests.synthetic_store import write_store


def result(model: str, depth: int, seed: int, acc: float, fa: bool = False) -> dict:
    """A Tree-NeighborsMatch result.json with the keys verify and the report read."""
    return {
        "config_hash": f"{model}r{depth}s{seed}{'fa' if fa else ''}",
        "task": "tree_neighbors_match",
        "size/depth": depth,
        "model": model,
        "metric": "acc",
        "score_key": "train/acc",
        "score": acc,
        "train/acc": acc,
        "params": 5000,
        "epochs": 10,
        "wall_time_s": 1.0,
        "seed": seed,
        "config": {
            "task": {"_target_": "x.Tree", "depth": depth},
            "model": {"_target_": f"x.{model}", "dim": 32, "last_layer_fa": fa},
            "train": {"batch_size": 64 if depth < 4 else 1024},  # varies with the size only
            "seed": seed,
        },
    }


def cells(table, model: str, size: str, conditions: str = ""):
    rows = table[
        (table["model"] == model) & (table["size"] == size) & (table["conditions"] == conditions)
    ]
    return rows.to_dict("records")


def test_within_outside_and_not_run(tmp_path, capsys):
    """The quick experiment is checked against tree_neighbors_match's anchors."""
    write_store(
        tmp_path,
        "tree_neighbors_match_quick",
        [
            result("gcn", 2, 0, 1.0),
            result("gcn", 2, 1, 1.0),
            *[result("gcn", 4, s, a) for s, a in enumerate([0.50, 0.52, 0.48])],
            result("gat", 5, 0, 0.43),  # one seed: std undefined, counts as 0
            result("gin", 5, 0, 0.95, fa=True),  # matches the FA anchor (~0.92), not 0.29
        ],
    )
    table, status = ver.verify("tree_neighbors_match_quick", tmp_path, check_sweep=False)
    assert status == 1  # gcn at r = 4 is outside

    (gcn2,) = cells(table, "gcn", "depth=2", "last_layer_fa=off")
    assert (gcn2["verdict"], gcn2["n"], gcn2["mean"]) == ("within", 2, 1.0)
    (gcn4,) = cells(table, "gcn", "depth=4", "last_layer_fa=off")
    assert gcn4["verdict"] == "outside" and gcn4["published"] == 0.70
    assert gcn4["std"] == pytest.approx(0.02)  # ddof = 1
    assert gcn4["difference"] == pytest.approx(-0.20)
    assert gcn4["bound"] == pytest.approx(0.05)  # max(0.05, 2 x 0.02)
    (gat5,) = cells(table, "gat", "depth=5", "last_layer_fa=off")
    assert gat5["verdict"] == "within" and gat5["bound"] == 0.05 and gat5["n"] == 1
    (gin_fa,) = cells(table, "gin", "depth=5", "last_layer_fa=on")
    assert gin_fa["verdict"] == "within" and gin_fa["tolerance"] == "approximate"
    (gin5,) = cells(table, "gin", "depth=5", "last_layer_fa=off")
    assert gin5["verdict"] == "not run" and gin5["n"] == 0
    assert cells(table, "gin", "depth=7", "last_layer_fa=off") == []  # '-' in the table
    assert cells(table, "ggnn", "depth=8", "last_layer_fa=off")[0]["verdict"] == "not run"
    assert len(table) == 26 + 4  # one row per anchor: every cell here has one variant

    printed = capsys.readouterr().out
    assert "the anchors of tree_neighbors_match" in printed
    assert "accuracy: |ours - published| ≤ max(0.05, 2 × our std)" in printed
    assert "approximate: |ours - published| ≤ max(0.1, 2 × our std)" in printed
    assert "0.5 ± 0.02 (n=3) | 0.7 | -0.2 | accuracy ±0.05 | outside" in printed
    assert "30 cells: 3 within, 1 outside, 26 not run." in printed
    assert "tech-srl/bottleneck/issues/3" in printed
    written = (output_dirs(tmp_path)[0] / "tree_neighbors_match_quick_verify.md").read_text()
    assert "| outside |" in written and "Sources:" in written


def test_exit_status(tmp_path, capsys):
    """0 when every finished cell is within (cells not run do not fail), 1 with one outside,
    2 when no anchor applies."""
    write_store(tmp_path, "tree_neighbors_match", [result("ggnn", 5, 0, 0.62)])
    args = ["--results-dir", str(tmp_path), "--no-check"]
    assert ver.main(["tree_neighbors_match", *args]) == 0
    write_store(tmp_path, "tree_neighbors_match", [result("ggnn", 6, 0, 0.1)])
    assert ver.main(["tree_neighbors_match", *args]) == 1
    assert ver.main(["my_own_sweep", *args]) == 2
    assert "no published number" in capsys.readouterr().err


def test_cells_cut_by_the_epoch_budget_say_so(tmp_path):
    """A quick run stopped by its round limit below the published value is flagged."""
    cut = result("gin", 3, 0, 0.80) | {"stopped": "max_epochs"}
    done = result("gcn", 3, 0, 1.0) | {"stopped": "train/acc >= 1.0"}
    write_store(tmp_path, "tree_neighbors_match_quick", [cut, done])
    table, status = ver.verify("tree_neighbors_match_quick", tmp_path, check_sweep=False)
    (gin,) = cells(table, "gin", "depth=3", "last_layer_fa=off")
    (gcn,) = cells(table, "gcn", "depth=3", "last_layer_fa=off")
    assert gin["verdict"] == "outside" and gin["note"] == "1 of 1 runs hit the epoch limit"
    assert gcn["verdict"] == "within" and gcn["note"] == ""
    assert status == 1


ANCHORS = """
sources:
  paper: {cite: "A paper, Table 1"}
tolerances:
  scores: {floor: 0.1, ours_std: 2, published_std: 2}
  decades: {floor: 0.5, ours_std: 2, scale: log10}
anchors:
  - experiments: [gpp]
    task: gpp
    model: gcn
    conditions: {config.task.target: diameter}
    score_key: test/log10_mse
    tolerance: scores
    source: paper
    value: [0.742, 0.3]
  - experiments: [gpp]
    task: gpp
    model: gcn
    conditions: {config.task.target: sssp}
    score_key: test/mse
    tolerance: decades
    source: paper
    value: 1.0e-3
"""


def gpp_result(seed: int, target: str, log10_mse: float) -> dict:
    r = result("gcn", 2, seed, 0.0)
    del r["size/depth"], r["train/acc"]
    return r | {
        "config_hash": f"{target}{seed}",
        "task": "gpp",
        "metric": "mse",
        "score_key": "test/mse",
        "score": 10**log10_mse,
        "test/mse": 10**log10_mse,
        "test/log10_mse": log10_mse,
        "config": {"task": {"target": target}, "model": {"dim": 20}, "seed": seed},
    }


def test_published_std_and_log10_rules(tmp_path, capsys):
    """A task without a size: a published std widens the band to 2 x 0.3; a log10-scale rule
    compares decades."""
    anchors = tmp_path / "anchors.yaml"
    anchors.write_text(ANCHORS)
    write_store(
        tmp_path,
        "gpp",
        [gpp_result(s, "diameter", v) for s, v in enumerate([1.2, 1.3])]
        + [gpp_result(s, "sssp", v) for s, v in enumerate([-2.6, -2.8])],
    )
    table, status = ver.verify("gpp", tmp_path, check_sweep=False, anchors_file=anchors)
    diameter, sssp = table.to_dict("records")
    assert diameter["mean"] == pytest.approx(1.25) and diameter["published_std"] == 0.3
    assert diameter["bound"] == pytest.approx(0.6) and diameter["verdict"] == "within"
    assert sssp["published"] == pytest.approx(-3.0) and sssp["mean"] == pytest.approx(-2.7)
    assert sssp["verdict"] == "within" and status == 0
    printed = capsys.readouterr().out
    assert "scores: |ours - published| ≤ max(0.1, 2 × our std, 2 × published std)" in printed
    assert "decades: |ours - published| ≤ max(0.5, 2 × our std) on log10 values" in printed
    assert "1.25 ± 0.0707 (n=2) | 0.742 ± 0.3 |" in printed


@pytest.mark.parametrize(
    "text, key",
    [
        ("anchors: [{experiments: [x], task: t}]", "anchors[0]: missing model"),
        (
            "sources: {s: {}}\ntolerances: {r: {floor: 1}}\nanchors: [{experiments: [x], "
            "task: t, model: m, score_key: k, tolerance: q, source: s, value: 1}]",
            "anchors[0].tolerance: unknown rule",
        ),
        (
            "sources: {s: {}}\ntolerances: {r: {floor: 1}}\nanchors: [{experiments: [x], "
            "task: t, model: m, score_key: k, tolerance: r, source: s, size: size/n}]",
            "needs `size` with `points`",
        ),
    ],
)
def test_malformed_anchors_name_the_entry(tmp_path, text, key):
    path = tmp_path / "anchors.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        ver.load_anchors(path)


def test_every_anchor_is_well_formed():
    anchors, sources = ver.load_anchors()
    tree = [a for a in anchors if a.applies_to("tree_neighbors_match_quick")]
    assert len(tree) == 30 and {a.model for a in tree} == {"ggnn", "gat", "gin", "gcn"}
    assert {a.source for a in anchors} <= set(sources)
    assert not [a for a in anchors if a.applies_to("nar_capacity")]


def test_report_figure_draws_published_points(tmp_path, monkeypatch):
    """The report's figure shows the anchors beside ours, with a "published" legend entry per
    model (and FA condition); the variant ignores the batch size that follows the depth."""
    write_store(
        tmp_path,
        "tree_neighbors_match_quick",
        [result("gcn", r, s, 1.0 - 0.1 * r) for r in (2, 3) for s in (0, 1)],
    )
    out = rep.report("tree_neighbors_match_quick", tmp_path, check_sweep=False)
    figures = [out["figure"]]
    assert set(out["summary"]["variant"]) == {""}
    points = published("tree_neighbors_match_quick", out["summary"])
    assert len(points) == 30 and set(points.columns) >= {"model", "size", "value", "std"}
    labels = figures[0].axes[0].get_legend_handles_labels()[1]
    assert "gcn" in labels
    assert "gcn last_layer_fa=off published" in labels
    assert "ggnn last_layer_fa=on published" in labels
    ticks = figures[0].axes[0].get_xticks()
    assert list(ticks) == [2, 3, 4, 5, 6, 7, 8]

    handles, labels = figures[0].axes[0].get_legend_handles_labels()
    lines = {label: getattr(h, "lines", [h])[0] for h, label in zip(handles, labels, strict=True)}
    on, off = lines["gcn last_layer_fa=on published"], lines["gcn last_layer_fa=off published"]
    assert (on.get_color(), on.get_marker()) != (off.get_color(), off.get_marker())
    look = published_style("gcn last_layer_fa=on")
    assert on.get_marker() == look["marker"] and on.get_markerfacecolor() == "none"


# ------------------------------------------------------------------------------------------------
# GPP: each published column against the quantity it trained on


def gpp_run(model: str, target: str, seed: int, log10_mse: float, **task) -> dict:
    return {
        "config_hash": f"{model}-{target}-{seed}-{len(task)}",
        "task": "gpp",
        "model": model,
        "metric": "mse",
        "score_key": "test/log10_mse",
        "score": log10_mse,
        "test/log10_mse": log10_mse,
        "seed": seed,
        "config": {"task": {"target": target, **task}, "model": {"dim": 30}, "seed": seed},
    }


def test_gpp_published_columns_meet_the_quantity_they_trained_on(tmp_path, capsys):
    """Published "SSSP" is compared with our laplacian runs, published "eccentricity" with our
    sssp runs, diameter with diameter; our true eccentricity meets no anchor; a run with
    normalised labels meets none either."""
    runs = [gpp_run("gcn", "laplacian", s, 0.95) for s in range(2)]
    runs += [gpp_run("gcn", "sssp", s, 0.85) for s in range(2)]
    runs += [gpp_run("gcn", "diameter", s, 0.74) for s in range(2)]
    runs += [gpp_run("gcn", "eccentricity", s, -3.0) for s in range(2)]
    runs += [gpp_run("gcn", "diameter", 9, -5.0, normalize_labels=True)]
    write_store(tmp_path, "gpp_quick", runs)
    table, status = ver.verify("gpp_quick", tmp_path, check_sweep=False)
    gcn = table[(table["model"] == "gcn") & (table["kind"] == "anchor")]
    by_column = {
        row["published_as"] or "diameter": row for row in gcn.to_dict("records") if row["n"]
    }
    assert set(by_column) == {'"SSSP"', '"eccentricity"', "diameter"}
    assert by_column['"SSSP"']["conditions"].startswith("target=laplacian")
    assert by_column['"SSSP"']["published"] == pytest.approx(0.950)
    assert by_column['"eccentricity"']["conditions"].startswith("target=sssp")
    assert by_column['"eccentricity"']["published"] == pytest.approx(0.846)
    assert by_column["diameter"]["n"] == 2  # the normalised run is not compared
    assert all(row["verdict"] == "within" for row in by_column.values()) and status == 0
    printed = capsys.readouterr().out
    assert 'published "SSSP" -> our target=laplacian normalize_labels=off' in printed
    assert 'published "eccentricity" -> our target=sssp' in printed
    assert "pna_dataset.py L64-69" in printed  # the mapping's source


# ------------------------------------------------------------------------------------------------
# Graph transfer: the anchors' reproducibility status


def transfer_run(model: str, topology: str, d: int, seed: int, mse: float, **task) -> dict:
    return {
        "config_hash": f"{model}-{topology}-{d}-{seed}-{len(task)}",
        "task": "graph_transfer",
        "model": model,
        "metric": "mse",
        "score_key": "test/mse",
        "score": mse,
        "test/mse": mse,
        "size/distance": d,
        "seed": seed,
        "config": {"task": {"topology": topology, "distance": d, **task}, "seed": seed},
    }


def test_graph_transfer_status_and_published_std(tmp_path, capsys):
    """Ring anchors are marked not reproducible by their public code, with the evidence; a cell
    outside one does not fail; a run of the generator's targets meets no anchor."""
    published = {"source_target": "published"}
    write_store(
        tmp_path,
        "graph_transfer_quick",
        [
            transfer_run("gcn", "ring", 3, 100, 0.024, **published),  # SWAN's own loop: ~0.024
            transfer_run("gcn", "line", 3, 100, 1.7e-4, **published),
            transfer_run("gcn", "line", 5, 100, 0.5),  # stored before the option: generator
        ],
    )
    table, status = ver.verify("graph_transfer_quick", tmp_path, check_sweep=False)
    ring = table[(table["model"] == "gcn") & (table["size"] == "distance=3")]
    (ring3,) = ring[ring["conditions"].str.contains("topology=ring")].to_dict("records")
    assert ring3["status"] == "not_reproducible" and ring3["verdict"] == "outside"
    assert ring3["published_std"] == pytest.approx(4.4e-4 / (4.57e-3 * 2.302585), rel=1e-4)
    (line5,) = table[
        (table["model"] == "gcn")
        & (table["size"] == "distance=5")
        & table["conditions"].str.contains("topology=line")
    ].to_dict("records")
    assert line5["verdict"] == "not run"
    assert status == 0  # the only outside cell is on an unreproducible anchor
    printed = capsys.readouterr().out
    assert "outside (anchor not reproducible by its public code: see below)" in printed
    assert "gives GCN test MSE 0.023-0.025" in printed
    assert "16-point grid" in printed  # the A-DGN anchors' note


def test_a_grid_anchor_meets_our_best_grid_point(tmp_path):
    """SWAN's A-DGN value is the best of its grid by test MSE (`selected: best`): of our four
    grid points at ring d = 3 only the best is compared; GCN's anchor (one setting's mean) keeps
    a row per variant."""
    grid = {0.6: 2e-2, 0.2: 5e-5, 0.5: 1.2e-3, 0.1: 3e-4}  # published best: 4.43e-5
    runs = [
        transfer_run("adgn", "ring", 3, 100, mse, source_target="published")
        | {"config_hash": f"adgn{epsilon}"}
        for epsilon, mse in grid.items()
    ]
    for run, epsilon in zip(runs, grid, strict=True):
        run["config"]["model"] = {"_target_": "x.ADGN", "epsilon": epsilon}
    gcn = [
        transfer_run("gcn", "line", 3, 100, mse, source_target="published")
        | {"config_hash": f"gcn{dim}"}
        for dim, mse in ((32, 1e-4), (64, 2e-4))
    ]
    for run, dim in zip(gcn, (32, 64), strict=True):
        run["config"]["model"] = {"_target_": "x.GCN", "dim": dim}
    write_store(tmp_path, "graph_transfer_adgn_grid", runs + gcn)
    table, _ = ver.verify("graph_transfer_adgn_grid", tmp_path, check_sweep=False)
    adgn = table[(table["model"] == "adgn") & (table["size"] == "distance=3")]
    (ring,) = adgn[adgn["conditions"].str.contains("topology=ring")].to_dict("records")
    assert "epsilon=0.2" in ring["variant"] and ring["n"] == 1
    assert ring["mean"] == pytest.approx(math.log10(5e-5)) and ring["verdict"] == "within"
    assert "the best of 4 variants by test/mse" in ring["note"]
    line = table[(table["model"] == "gcn") & (table["size"] == "distance=3")]
    assert len(line[line["conditions"].str.contains("topology=line")]) == 2


# ------------------------------------------------------------------------------------------------
# Claims: NAR and RingTransfer


def nar_run(model: str, n: int, seed: int, acc: float, memory_dim: int | None = None) -> dict:
    config = {"dim": 2 * memory_dim, "memory_dim": memory_dim} if memory_dim else {"dim": 256}
    return {
        "config_hash": f"{model}-{n}-{seed}-{memory_dim}",
        "task": "nar",
        "model": model,
        "score_key": "test/acc",
        "score": acc,
        "test/acc": acc,
        "size/num_keys": n,
        "seed": seed,
        "config": {"task": {"num_keys": n}, "model": config, "seed": seed},
    }


def test_nar_claims_on_a_synthetic_store(tmp_path, capsys):
    """gLSTM d_k = 8 recalls up to N = 8 (holds); d_k = 16 drops at N = 16 (does not hold);
    GCN below 0.9 from N = 8 (holds)."""
    runs = [nar_run("glstm", n, 0, a, 8) for n, a in [(4, 1.0), (8, 0.95), (16, 0.6)]]
    runs += [nar_run("glstm", n, 0, a, 16) for n, a in [(4, 1.0), (8, 0.97), (16, 0.7)]]
    runs += [nar_run("gcn", n, 0, a) for n, a in [(4, 0.95), (8, 0.6), (16, 0.3)]]
    write_store(tmp_path, "nar_capacity_quick", runs)
    table, status = ver.verify("nar_capacity_quick", tmp_path, check_sweep=False)
    claims = table[table["kind"] == "claim"]
    glstm = claims[claims["claim"] == "nar_glstm_recalls_up_to_dk"].set_index("variant")
    assert glstm.loc["d_k=8 d=16", "verdict"] == "holds"
    assert glstm.loc["d_k=16 d=32", "verdict"] == "does not hold"
    assert "num_keys=16: 0.7" in glstm.loc["d_k=16 d=32", "detail"]
    (gcn,) = claims[claims["claim"] == "nar_gcn_fails_from_8_keys"].to_dict("records")
    assert gcn["verdict"] == "holds" and gcn["n"] == 2
    assert status == 1  # a claim that does not hold fails
    printed = capsys.readouterr().out
    assert "GCN, even at width 256, starts failing around N = 8 keys" in printed
    assert "3 claim checks: 2 holds, 1 does not hold, 0 not run." in printed


def test_ring_transfer_claims_report_where_gcn_fails(tmp_path, capsys):
    runs = [
        nar_run("glstm", d, 0, 1.0, 21) | {"task": "ring_transfer", "size/distance": d}
        for d in (2, 4, 8)
    ]
    runs += [
        nar_run("gcn", d, 0, a) | {"task": "ring_transfer", "size/distance": d}
        for d, a in [(2, 1.0), (4, 0.2), (8, 0.2)]
    ]
    for r in runs:
        del r["size/num_keys"]
    write_store(tmp_path, "ring_transfer_quick", runs)
    table, status = ver.verify("ring_transfer_quick", tmp_path, check_sweep=False)
    claims = table.set_index("claim")
    assert claims.loc["ring_glstm_every_distance", "verdict"] == "holds"
    assert claims.loc["ring_gcn_fails_with_distance", "verdict"] == "holds"
    assert claims.loc["ring_gcn_fails_with_distance", "detail"].startswith("below from distance=4")
    assert status == 0
    assert "solves RingTransfer at every distance" in capsys.readouterr().out


def test_claims_not_run_and_no_anchor_or_claim(tmp_path, capsys):
    write_store(tmp_path, "ring_transfer", [])
    (tmp_path / "runs" / "ring_transfer").mkdir(parents=True, exist_ok=True)
    table, status = ver.verify("ring_transfer", tmp_path, check_sweep=False)
    assert set(table["verdict"]) == {"not run"} and status == 0
    assert ver.main(["narr_capacity", "--results-dir", str(tmp_path), "--no-check"]) == 2
    assert "no published number or claim" in capsys.readouterr().err
