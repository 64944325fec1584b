"""The package layout: every import points down the architecture, and there are no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# an import may only go to a lower rank (or stay inside its own package): the core and the helpers
# at the bottom, then data / models, tracking, config, reports, runs, sweeps, the commands on top
RANK = {"nn": 0, "paths": 0, "files": 0, "data": 1, "models": 1, "tracking": 2, "config": 3, "reports": 4,
        "runs": 5, "sweeps": 6, "cli": 7, "stages": 7, "gradcheck_experiment": 7, "train": 8, "benchmarks": 8}
# the lead moves gradcheck's CLI out of the core (issue 11): until then nn/gradcheck.py imports up
EXEMPT = {"scratchnet.nn.gradcheck"}


def modules() -> dict[str, Path]:
    """Every module of the package and of benchmarks/, by dotted name."""
    found = {}
    for path in [*(REPO / "src").glob("scratchnet/**/*.py"), *(REPO / "benchmarks").glob("*.py")]:
        parts = path.relative_to(REPO / "src" if "src" in path.parts else REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `path` imports, at module level or inside functions (lazy imports count)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from pkg import sub` imports the submodule when there is one, else names from pkg
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        else:
            continue
        out |= {n for n in names if n in known}
    return out


def rank(module: str) -> tuple[str, int]:
    parts = module.split(".")
    package = parts[0] if parts[0] == "benchmarks" else parts[1] if len(parts) > 1 else "scratchnet"
    return package, RANK[package]


GRAPH = {name: imports(path, modules()) for name, path in modules().items()}


def upward(module: str, targets: set[str]) -> list[str]:
    package, level = rank(module)
    return sorted(t for t in targets if t != "scratchnet" and rank(t)[0] != package and rank(t)[1] >= level)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m != "scratchnet" and m not in EXEMPT))
def test_imports_point_down(module):
    assert upward(module, GRAPH[module]) == [], f"{module} (rank {rank(module)}) imports upwards"


def test_the_direction_check_sees_a_wrong_way_import():
    assert upward("scratchnet.data.dataset", {"scratchnet.models", "scratchnet.files"}) == ["scratchnet.models"]
    assert upward("scratchnet.reports.studies", {"scratchnet.reports.runs", "scratchnet.stages.compare"}) == [
        "scratchnet.stages.compare"]  # studies and the compare stage must not import each other


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle a depth-first walk meets, as the list of modules round it."""
    state: dict[str, str] = {}  # visiting | done
    found = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "visiting"
        for target in sorted(graph[node]):
            if state.get(target) == "visiting":
                found.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_import_cycles():
    assert cycles(GRAPH) == []
    # the check sees one: sweeps.records importing the callback that imports it
    looped = {k: set(v) for k, v in GRAPH.items()}
    looped["scratchnet.sweeps.records"].add("scratchnet.sweeps.callback")
    assert any({"scratchnet.sweeps.callback", "scratchnet.sweeps.records"} <= set(c) for c in cycles(looped))


def test_mlflow_is_imported_by_tracking_only():
    for module, path in modules().items():
        if module.startswith("scratchnet.tracking"):
            continue
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [n for n in names if n.split(".")[0] == "mlflow"], module
