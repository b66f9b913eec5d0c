"""The import layers: nothing imports from a layer above its own, glstm/ and baselines/ stand on
the core alone, and no module imports itself back through others."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmarks", "glstm", "baselines")

# From the bottom: module-name prefixes of each layer (the longest matching prefix decides).
LAYERS = [
    ("core", ["benchmarks", "benchmarks.core"]),
    ("models", ["glstm", "baselines"]),
    ("tasks", ["benchmarks.tasks"]),
    ("metrics", ["benchmarks.metrics"]),
    ("engine", ["benchmarks.engine"]),
    ("analysis", ["benchmarks.analysis"]),
    (
        "tools",
        [
            "benchmarks.report",
            "benchmarks.verify",
            "benchmarks.ledger",
            "benchmarks.leaderboard",
            "benchmarks.compare",
            "benchmarks.search",
            "benchmarks.measure",
            "benchmarks.docs",
            "benchmarks.export",
            "benchmarks.speed",
            "benchmarks.studies",
        ],
    ),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))
    }


def layer(module: str) -> tuple[int, str]:
    """(layer index, matching prefix) of a module of the suite."""
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (index, prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The suite's modules that `path` imports (at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] in PACKAGES:
                while name not in known and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name in known:
                    found.add(name)
    return found


GRAPH = {name: imports(path, modules()) - {name} for name, path in modules().items()}


def test_every_module_has_a_layer():
    for module in GRAPH:
        layer(module)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module):
    own, _ = layer(module)
    for target in GRAPH[module]:
        if target == "benchmarks":  # the package itself: only its import-time settings
            continue
        theirs, _ = layer(target)
        assert theirs <= own, (
            f"{module} ({LAYERS[own][0]}) imports {target} ({LAYERS[theirs][0]}), a higher layer"
        )


def test_models_stand_on_the_core_alone():
    for module, targets in GRAPH.items():
        family = module.split(".")[0]
        if family in ("glstm", "baselines"):
            other = {"glstm": "baselines", "baselines": "glstm"}[family]
            assert not any(t.split(".")[0] == other for t in targets), (module, targets)


def test_no_import_cycle():
    """Depth-first search over the import graph, packages' __init__ re-exports left out (a
    package importing its own submodules is how Python packages work)."""
    graph = {
        m: {t for t in ts if not m.startswith(t + ".") and not t.startswith(m + ".")}
        for m, ts in GRAPH.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_hydra_internals():
    """Hydra's private modules change without notice: the suite and its tests use its public API."""
    offenders = [
        str(p.relative_to(ROOT))
        for package in (*PACKAGES, "tests")
        for p in (ROOT / package).rglob("*.py")
        if "hydra." + "_internal" in p.read_text()
    ] + (["run.py"] if "hydra." + "_internal" in (ROOT / "run.py").read_text() else [])
    assert not offenders, offenders


def test_package_import_sets_only_the_thread_policy(tmp_path):
    """Importing a model sets no config resolver: nothing but OMP_WAIT_POLICY happens at import."""
    import subprocess
    import sys

    code = (
        "import os; os.environ.pop('OMP_WAIT_POLICY', None)\n"
        "import glstm, baselines\n"
        "from omegaconf import OmegaConf\n"
        "print(OmegaConf.has_resolver('alon_yahav'), OmegaConf.has_resolver('pick'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]
