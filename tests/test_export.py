"""Reference results: `python -m benchmarks.export` writes a sweep's runs as one .jsonl file per
experiment, and every reader takes the reference folder as a store."""

import json

import pytest

from benchmarks import compare as cmp
from benchmarks import export, report, verify
from benchmarks import leaderboard as lb
from benchmarks.analysis.runs import has_runs, load_runs, read_store, store_names
from benchmarks.analysis.sweeps import sweep_jobs
from benchmarks.engine.results import RunResult, read_results
from tests.synthetic_store import complete, tree_run, write_store

EXPERIMENT = "tree_neighbors_match_quick"
MODELS = {"alon_yahav/gcn": "gcn", "alon_yahav/gin": "gin", "alon_yahav/gat": "gat"}


def tree_result(choice: str, depth: int, seed: int, score: float, overrides=None) -> dict:
    return tree_run(
        MODELS.get(choice, choice),
        depth,
        seed,
        score,
        model_config=choice,
        wall_time_s=60.0 * depth,
        sweep={
            "experiment": EXPERIMENT,
            "choices": {"model": choice},
            "overrides": overrides or [f"model={choice}", f"task.depth={depth}", f"seed={seed}"],
        },
        provenance={
            "git_commit": "0123456789abcdef",
            "git_dirty": False,
            "host": "my-laptop",
            "cpu": "Test CPU",
            "cpu_cores": 2,
            "finished": f"2026-01-0{depth}T10:00:00+00:00",
        },
    )


@pytest.fixture
def store(tmp_path):
    """Three models' runs of the quick sweep at depths 2 and 3, plus one run outside it."""
    results = [
        tree_result(choice, depth, 0, score)
        for choice, scores in {"alon_yahav/gcn": (1.0, 0.9), "alon_yahav/gin": (1.0, 0.8)}.items()
        for depth, score in zip((2, 3), scores, strict=True)
    ]
    results.append(tree_result("alon_yahav/gat", 2, 0, 1.0))
    results.append(tree_result("alon_yahav/gcn", 2, 7, 0.5))  # seed 7: not a job of the sweep
    return write_store(tmp_path / "results", EXPERIMENT, results)


def test_export_writes_the_sweep_runs_sorted_without_the_host(store, tmp_path, capsys):
    out = tmp_path / "reference"
    assert export.main([EXPERIMENT, "--results-dir", str(store), "--out", str(out)]) == 0
    path = out / f"{EXPERIMENT}.jsonl"
    lines = path.read_text().splitlines()
    hashes = [json.loads(line)["config_hash"] for line in lines]
    assert hashes == sorted(hashes) and len(hashes) == 5 and "gcn-2-7" not in hashes
    first = json.loads(lines[0])
    assert "host" not in first["provenance"] and first["provenance"]["git_commit"]
    assert first["score"] == 1.0 and first["params"] and first["epochs"]
    # the same store gives the same bytes
    before = path.read_bytes()
    export.main([EXPERIMENT, "--results-dir", str(store), "--out", str(out)])
    assert path.read_bytes() == before
    # and the lines read back as the stored results
    stored = {r.config_hash: r for r in read_results(store, EXPERIMENT)}
    for result in read_results(path):
        expected = stored[result.config_hash].to_dict()
        expected["provenance"].pop("host")
        assert result.to_dict() == expected
    assert "wrote 5 runs" in capsys.readouterr().out


def test_export_of_an_empty_sweep_writes_nothing(tmp_path, capsys):
    out = tmp_path / "reference"
    assert export.main(["gpp_quick", "--results-dir", str(tmp_path), "--out", str(out)]) == 1
    assert not out.exists()
    assert "nothing written" in capsys.readouterr().out


def test_reference_folder_is_a_store(store, tmp_path):
    out = tmp_path / "reference"
    export.export(EXPERIMENT, store, out=out)
    assert store_names(out) == [EXPERIMENT] and has_runs(out, EXPERIMENT)
    assert not has_runs(out, "gpp_quick") and not has_runs(None, EXPERIMENT)
    assert len(read_store(out)) == len(read_store(out, EXPERIMENT)) == 5
    assert len(read_store(out / f"{EXPERIMENT}.jsonl", EXPERIMENT)) == 5
    runs = load_runs(out, EXPERIMENT)
    assert sorted(runs["config_hash"]) == sorted(r.config_hash for r in read_store(out))
    assert isinstance(read_store(out)[0], RunResult)


def test_report_and_verify_read_the_reference_folder(store, tmp_path):
    out = tmp_path / "reference"
    export.export(EXPERIMENT, store, out=out)
    assert len(sweep_jobs(EXPERIMENT)) == 10
    built = report.report(EXPERIMENT, out)
    assert len(built["runs"]) == 5
    table, _ = verify.verify(EXPERIMENT, out)
    assert (table["verdict"] == "within").sum() >= 3


def test_leaderboard_and_compare_read_the_reference_folder(store, tmp_path):
    out = tmp_path / "reference"
    export.export(EXPERIMENT, store, out=out)
    board = lb.leaderboard(out)
    assert "cells" in board and len(board["runs"]) == 5
    compared = cmp.compare("gcn", "gin", EXPERIMENT, out)
    assert len(compared["cells"]) == 2


def test_a_reference_line_is_canonical():
    result = RunResult.from_dict(complete(tree_result("alon_yahav/gcn", 2, 0, 1.0), EXPERIMENT))
    line = export.reference_line(result)
    assert line == export.reference_line(RunResult.from_dict(json.loads(line)))
    assert "\n" not in line and "my-laptop" not in line
