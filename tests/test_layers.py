"""The import graph of the shipped packages: four floors, each importing only the floors below
it (`luke_core` <- `luke_k8s` <- `components` <- `pipelines`), no circle between modules, and
no test support in what ships.

Imports are read from the source (module level and inside functions alike), so an upward
import hidden in a function body counts as much as one at the top of a file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["luke_core", "luke_k8s", "components", "pipelines"]
TEST_SUPPORT = "luke_testing"
# the demo's `--s3` starts the test support's SeaweedFS server (a development convenience that
# says so when the test support is not installed)
TEST_SUPPORT_USERS = {"pipelines.demo"}
# what the library must run without (it is imported in the data-preparation pods and on laptops)
FORBIDDEN_IN_LIBRARY = ("kfp", "kubernetes", "kubeflow", "kubeflow_trainer_api")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def shipped_modules() -> dict[str, Path]:
    return {
        module_name(path): path for floor in FLOORS for path in sorted((ROOT / floor).rglob("*.py"))
    }


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name an import statement of the file names (relative ones resolved);
    `from a import b` yields `a.b` as well as `a` (b may be a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    modules = shipped_modules()
    return {
        module: {name for name in imported_names(path, module) if name in modules}
        for module, path in modules.items()
    }


def floor_of(module: str) -> int:
    return FLOORS.index(module.split(".")[0])


def test_the_floors_exist_and_hold_modules():
    modules = shipped_modules()
    for floor in FLOORS:
        assert sum(m.split(".")[0] == floor for m in modules) > 1, floor


def test_no_module_imports_from_a_floor_above_it():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if floor_of(target) > floor_of(module)
    )
    assert upward == []


def test_no_import_circle():
    edges = graph()
    cycles = [component for component in strongly_connected(edges) if len(component) > 1]
    cycles += [[m] for m, targets in edges.items() if m in targets]
    assert cycles == []


def test_the_library_needs_no_kubernetes_and_nothing_ships_test_support():
    offenders = []
    for module, path in shipped_modules().items():
        for name in imported_names(path, module):
            top = name.split(".")[0]
            if module.startswith("luke_core") and top in FORBIDDEN_IN_LIBRARY:
                offenders.append(f"{module} -> {name}")
            if top == TEST_SUPPORT and module not in TEST_SUPPORT_USERS:
                offenders.append(f"{module} -> {name}")
    assert offenders == []


@pytest.mark.parametrize("package", ["luke_core", "luke_k8s", "components", "pipelines"])
def test_the_wheel_ships_the_floors_and_not_the_test_support(package):
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert f"{package}*" in included
    assert not any(pattern.startswith(TEST_SUPPORT) for pattern in included)
    dockerignore = (ROOT / ".dockerignore").read_text().split()
    assert f"!{package}/" in dockerignore
    assert not any(TEST_SUPPORT in line or "testsupport" in line for line in dockerignore)


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph has a few hundred modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def test_the_circle_finder_finds_circles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    found = [sorted(c) for c in strongly_connected(edges) if len(c) > 1]
    assert found == [["a", "b", "c"]]
