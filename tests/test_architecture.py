"""The package's shape: imports point one way (no cycle, type-only and lazy imports included), layers are
respected, modules stay small and say what they own, and the public API is what it claims to be."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import dbt_cio

PACKAGE = Path(dbt_cio.__file__).resolve().parent
MAX_LINES = 450

# Lowest first. A module may import modules of its own layer or of a lower one, never of a higher one.
LAYERS: list[tuple[str, ...]] = [
    ("dbt_cio._version", "dbt_cio.errors", "dbt_cio.urls"),
    ("dbt_cio.customerio", "dbt_cio.emulator", "dbt_cio.alerts", "dbt_cio.dbt_cloud"),
    ("dbt_cio.contract",),
    ("dbt_cio.warehouse",),
    ("dbt_cio.payloads",),
    ("dbt_cio.run_results",),
    ("dbt_cio.project", "dbt_cio.manifest"),
    ("dbt_cio.engine",),
    ("dbt_cio.serve",),
    ("dbt_cio.report", "dbt_cio.jsonlog"),
    ("dbt_cio.cli", "dbt_cio.__main__"),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> Iterator[str]:
    """Every dbt_cio module ``path`` imports, wherever the statement is (top level, function, TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in MODULES else base


def _graph() -> dict[str, set[str]]:
    return {
        name: {target for target in _imports(path) if target in MODULES and target != name}
        for name, path in MODULES.items()
    }


def _layer(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for module, targets in _graph().items():
        if module == "dbt_cio":  # the public API re-exports from every layer
            continue
        layer = _layer(module)
        assert layer is not None, f"{module} belongs to no layer: add it to LAYERS"
        for target in targets:
            if target == "dbt_cio":
                wrong.append(f"{module} imports the package itself (import from the defining module)")
                continue
            target_layer = _layer(target)
            assert target_layer is not None, f"{target} belongs to no layer"
            if target_layer > layer:
                wrong.append(f"{module} (layer {layer}) imports {target} (layer {target_layer})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_emulator_stands_apart() -> None:
    """The emulator checks the client against Customer.io's documents, so it may not reuse the client's code."""
    graph = _graph()
    borrowed = {
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.startswith("dbt_cio.emulator")
        for target in targets
        if not target.startswith("dbt_cio.emulator")
    }
    assert not borrowed


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_is_small_and_says_what_it_owns(module: str) -> None:
    path = MODULES[module]
    source = path.read_text(encoding="utf-8")
    assert ast.get_docstring(ast.parse(source)), f"{module} has no docstring"
    if not module.startswith("dbt_cio.emulator"):  # the emulator may keep its size
        assert len(source.splitlines()) <= MAX_LINES, f"{module} is over {MAX_LINES} lines: split it"


def test_the_public_api() -> None:
    assert sorted(dbt_cio.__all__) == [
        "ConfigError",
        "DbtArgs",
        "DbtCioError",
        "DbtCloudRun",
        "RateSettings",
        "RunResult",
        "SyncOptions",
        "SyncResult",
        "UsageError",
        "__version__",
        "run_sync",
        "validate_project",
    ]
    for name in dbt_cio.__all__:
        assert getattr(dbt_cio, name) is not None
