"""The fidelity ledger: every experiment and paper preset is listed with a source and status from
benchmarks/analysis/fidelity.yaml; a store adds verify's verdicts."""

from benchmarks import ledger as led
from benchmarks.analysis.anchors import load_anchors
from benchmarks.analysis.ledger import experiment_names, ledger, preset_names
from benchmarks.analysis.outputs import output_dirs
from tests.synthetic_store import write_store


def test_every_experiment_and_preset_has_an_entry(tmp_path, capsys):
    table = ledger(tmp_path)
    experiments = table[table["kind"] == "experiment"]
    presets = table[table["kind"] == "preset"]
    assert sorted(experiments["name"]) == experiment_names() and len(experiments) >= 22
    assert sorted(presets["name"]) == preset_names()
    assert {"swan/gcn", "adgn_paper/adgn", "tonshoff/gatedgcn", "glstm_paper/glstm_gpp"} <= set(
        presets["name"]
    )
    assert "missing" not in set(table["status"]), table[table["status"] == "missing"]["name"]
    assert (table["source"] != "").all()
    transfer = experiments.set_index("name").loc["graph_transfer"]
    assert transfer["status"] == "not reproducible" and "2.6-13x" in transfer["deviations"][0]
    graph_transfer = [a for a in load_anchors()[0] if a.applies_to("graph_transfer")]
    unreproducible = sum(not a.reproducible for a in graph_transfer)
    assert unreproducible >= 28
    assert (
        transfer["anchors"]
        == f"{len(graph_transfer)} ({unreproducible} not reproducible by their code)"
    )

    assert led.main(["--results-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| kind | name | source | status |")
    for name in [*experiment_names(), *preset_names()]:
        assert f"| {name} |" in printed
    assert (output_dirs(tmp_path)[0] / "ledger.md").read_text().startswith("| kind |")


def test_a_store_adds_the_verify_verdicts(tmp_path):
    """Tree-NeighborsMatch cells within at r = 2 (2 seeds): the row is reproduced."""
    runs = [
        {
            "config_hash": f"gcn{seed}",
            "task": "tree_neighbors_match",
            "model": "gcn",
            "size/depth": 2,
            "score_key": "train/acc",
            "score": 1.0,
            "train/acc": 1.0,
            "seed": seed,
            "config": {"model": {"last_layer_fa": False}, "seed": seed},
        }
        for seed in (0, 1)
    ]
    write_store(tmp_path, "tree_neighbors_match_quick", runs)
    table = ledger(tmp_path, check_sweep=False).set_index("name")
    row = table.loc["tree_neighbors_match_quick"]
    assert row["verify"] == "1 of 1 cells within (n = 2 seeds)"
    assert row["status"] == "reproduced"
    assert table.loc["tree_neighbors_match", "verify"] == "no runs"


def test_the_verdict_counts_cells_outside_anchors_their_own_code_does_not_reproduce(tmp_path):
    """GCN on the ring at d = 3, ten times the published MSE: outside, and said to be outside an
    anchor that SWAN's own code does not reproduce, so the row does not fail."""
    ring = {
        "config_hash": "ring3",
        "task": "graph_transfer",
        "model": "gcn",
        "size/distance": 3,
        "score_key": "test/mse",
        "score": 4.57e-2,
        "test/mse": 4.57e-2,
        "seed": 100,
        "config": {"task": {"topology": "ring", "source_target": "published"}, "seed": 100},
    }
    write_store(tmp_path, "graph_transfer_quick", [ring])
    row = ledger(tmp_path, check_sweep=False).set_index("name").loc["graph_transfer_quick"]
    assert row["verify"] == (
        "0 of 1 cells within, 1 outside anchors their own code does not reproduce (n = 1 seed)"
    )
