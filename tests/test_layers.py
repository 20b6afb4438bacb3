"""The package layers, checked from the source: every `import` of every module in ipcviz/
(module level, inside functions, under TYPE_CHECKING) is parsed, and none may point to a
higher layer; the modules' import graph has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

#: Bottom-up. A package may import its own layer's and lower layers' packages only.
LAYERS = (
    {"host", "signals", "format"},          # the OS and pure helpers
    {"channels", "scenario", "observe"},
    {"telemetry", "protocol"},               # pure data: table, snapshot, summary, commands
    {"worker"},
    {"runtime"},                             # the supervisor, the sampler, the session loop
    {"tui", "cli", "authoring", "__main__"},
)
LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """ipcviz module -> the ipcviz modules it imports (a package counts as its __init__)."""
    paths = {_module_name(p): p for p in (ROOT / "ipcviz").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:  # relative: resolve against this module's package
                    package = name.split(".")[:-node.level + (path.name == "__init__.py")]
                    base = ".".join([*package, node.module])
                targets.add(base)
                targets |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in paths}
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in import_graph()} - {""}
    assert packages <= set(LAYER_OF), f"no layer for {sorted(packages - set(LAYER_OF))}"


def test_no_import_points_up_a_layer() -> None:
    upward = []
    for module, targets in import_graph().items():
        for target in targets:
            if _package(target) == "":
                continue  # the `ipcviz` package itself (empty __init__)
            if LAYER_OF[_package(target)] > LAYER_OF[_package(module)]:
                upward.append(f"{module} -> {target}")
    assert upward == []


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk of `graph` closes."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_import_cycle() -> None:
    assert find_cycles(import_graph()) == []


def test_the_checks_see_an_upward_import_and_a_cycle() -> None:
    """The graph reader finds imports inside functions and under TYPE_CHECKING."""
    graph = import_graph()
    assert "ipcviz.runtime.supervisor" in graph["ipcviz.runtime.sampler"]  # TYPE_CHECKING
    assert "ipcviz.runtime.headless" in graph["ipcviz.cli"]  # inside a function
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
