"""The documentation's generated pages: deterministic in the reference results, and the committed
pages equal to what the generator writes from the repository's results/reference/."""

import json
import re
import shutil
from pathlib import Path

import pytest

from benchmarks import docs
from benchmarks.analysis import pages
from benchmarks.engine.results import RunResult
from benchmarks.export import reference_line
from tests.synthetic_store import complete, tree_run

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference"
QUICK = "tree_neighbors_match_quick"
SCORES = {  # model -> best training accuracy at depth 2 and 3, seeds 0 and 1
    "gcn": ((1.0, 1.0), (1.0, 0.96)),
    "gin": ((1.0, 1.0), (0.99, 0.98)),
    "gat": ((1.0, 0.99), (1.0, 0.98)),
}


def tree_line(model: str, depth: int, seed: int, score: float) -> str:
    flat = complete(
        tree_run(
            model,
            depth,
            seed,
            score,
            config_hash=f"{model}{depth}{seed}",
            wall_time_s=30.0 * depth,
            provenance={
                "git_commit": "abcdef0123456789",
                "git_dirty": False,
                "cpu": "Test CPU",
                "cpu_cores": 2,
                "finished": f"2026-02-0{depth}T1{seed}:00:00+00:00",
            },
        ),
        QUICK,
    )
    return reference_line(RunResult.from_dict(flat))


@pytest.fixture
def reference(tmp_path):
    """A small reference folder: three models of the quick Tree-NeighborsMatch sweep at depths 2
    and 3, two seeds each (lines written out of order: the reader sorts them)."""
    folder = tmp_path / "reference"
    folder.mkdir()
    lines = [
        tree_line(model, depth, seed, scores[d][seed])
        for model, scores in SCORES.items()
        for d, depth in enumerate((2, 3))
        for seed in (0, 1)
    ]
    (folder / f"{QUICK}.jsonl").write_text("\n".join(reversed(lines)) + "\n")
    return folder


def page_copy(tmp_path) -> Path:
    """README.md and docs/ of the repository, copied (the generator's input pages)."""
    root = tmp_path / "repo"
    root.mkdir(parents=True)
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copytree(ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns("figures"))
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "out" not in p.parts
    }


def test_generator_output_is_deterministic(reference, tmp_path, capsys):
    root = page_copy(tmp_path)
    assert docs.main(["--root", str(root), "--reference", str(reference)]) == 0
    first = snapshot(root)
    assert docs.main(["--root", str(root), "--reference", str(reference)]) == 0
    assert "0 of" in capsys.readouterr().out.splitlines()[-1]  # nothing changed
    # from fresh pages again: byte for byte the same output
    again = page_copy(tmp_path / "again")
    assert docs.main(["--root", str(again), "--reference", str(reference)]) == 0
    assert snapshot(again) == first
    assert docs.main(["--root", str(again), "--reference", str(reference), "--check"]) == 0

    readme = first["README.md"].decode()
    row = re.search(rf"\| `{QUICK}` \|.*", readme).group(0)
    assert "| 10 |" in row and "3 min for 12 of 10 runs" not in row
    assert "reproduced" in row and "cells within (n = 2 seeds)" in row
    # the block names the reference's commit and latest finish time, not the time of generation
    assert "code abcdef0" in readme and "2026-02-03 11:00 UTC" in readme
    assert "Test CPU, 2 cores" in readme
    reproducing = first["docs/reproducing.md"].decode()
    assert "Not in the reference set." in reproducing  # every other experiment
    assert "| within |" in reproducing or "within" in reproducing
    comparing = first["docs/comparing.md"].decode()
    assert "figures/leaderboard_quick_cd.png" in comparing
    figure = first["docs/figures/leaderboard_quick_cd.png"]
    assert figure.startswith(b"\x89PNG") and b"tEXt" not in figure and b"Software" not in figure


def test_check_reports_stale_pages(reference, tmp_path, capsys):
    root = page_copy(tmp_path)
    assert docs.main(["--root", str(root), "--reference", str(reference), "--check"]) == 1
    assert "out of date: README.md" in capsys.readouterr().out


def test_empty_reference_says_what_it_covers(tmp_path):
    root = page_copy(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert docs.main(["--root", str(root), "--reference", str(empty)]) == 0
    readme = (root / "README.md").read_text()
    assert "holds no results" in readme
    assert not (root / pages.LEADERBOARD_FIGURE).exists()


def test_a_block_without_generator_is_an_error(tmp_path, capsys):
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "x.md").write_text("<!-- generated:nothing -->\n<!-- /generated -->\n")
    assert docs.main(["--root", str(root), "--reference", str(tmp_path)]) == 2
    assert "nothing" in capsys.readouterr().err


def test_pages_have_their_blocks_and_name_no_internal_brief():
    readme = (ROOT / "README.md").read_text()
    assert pages.block_names(readme) == ["figure", "experiments"]
    assert len(readme.splitlines()) <= 150
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert first_block[1].split("#")[0].strip() == "pytest"
    texts = [readme, *(p.read_text() for p in (ROOT / "docs").rglob("*.md"))]
    texts += [
        (ROOT / name).read_text() for name in ("CONTRIBUTING.md", "CHANGELOG.md", "CITATION.cff")
    ]
    for text in texts:
        assert not re.search(r"\bSPEC\b", text)


def test_every_experiment_has_its_section_in_reproducing():
    """Each conf/experiment/<name>.yaml has its generated section (command, status, deviations,
    verify table) in docs/reproducing.md."""
    names = pages.block_names((ROOT / "docs" / "reproducing.md").read_text())
    experiments = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
    assert [n for n in experiments if f"experiment-{n}" not in names] == []


def test_committed_pages_match_the_reference():
    files = sorted(REFERENCE.glob("*.jsonl"))
    if not files:
        pytest.skip("results/reference/ holds no .jsonl files yet (python -m benchmarks.export)")
    for path in files:
        for line in path.read_text().splitlines():
            json.loads(line)
    generated = docs.generate(REFERENCE, ROOT)
    stale = [
        path
        for path, content in generated.items()
        if isinstance(content, str) and docs.differs(ROOT, path, content)
    ]
    assert not stale, f"out of date (run `python -m benchmarks.docs`): {stale}"


def test_no_file_cites_the_internal_brief():
    """Code, configs and docs cite the papers and the docs pages; the team's internal brief is
    no part of the project."""
    import subprocess

    word = re.compile(r"\b" + "SP" + r"EC\b")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".pt", ".png", ".jsonl") or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        offenders += [
            f"{name}:{i}" for i, line in enumerate(text.splitlines(), 1) if word.search(line)
        ]
    assert not offenders, offenders
