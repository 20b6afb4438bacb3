"""The package layers hold: every import inside ipcviz/ (read from the source with `ast`,
lazy and type-checking imports included) goes down the layers or stays in its layer, and
no module imports itself through others (no import cycle).

Layers, bottom up (docs/architecture.md): host (and the plain helpers `signals`,
`format`, and `observe`), then channels, then scenario, then telemetry, then worker, then
runtime, then tui and cli.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = Path(ROOT) / "ipcviz"

#: top-level part of a module name -> its layer (higher may import lower, not the reverse)
LAYERS = {
    "host": 0, "signals": 0, "format": 0, "observe": 0,
    "channels": 1, "scenario": 2,
    "telemetry": 3, "protocol": 3,
    "worker": 4,
    "runtime": 5,
    "tui": 6, "cli": 6, "cli_parser": 6, "authoring": 6, "watch": 6, "quiz": 6,
    "recording": 6, "checking": 6, "course": 6, "course_progress": 6, "export": 6, "serve": 6, "__main__": 6,
}
#: imports that still go up a layer, each with why and what removes it; the test fails
#: when one disappears, so this list only shrinks
KNOWN_BACK_ARROWS: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The ipcviz modules `name` imports (a `from X import y` of a submodule y counts as
    importing X.y; of a name, as importing X)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, up `level - 1` more
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = package[:len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules
                       else source for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import ipcviz.a.b` names a.b
                target = target.rpartition(".")[0]
            if target.startswith("ipcviz") and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_every_module_has_a_layer() -> None:
    missing = [m for m in graph() if m != "ipcviz" and layer(m) is None]
    assert missing == [], f"modules in no layer (add their package to LAYERS): {missing}"


def test_no_import_goes_up_a_layer() -> None:
    edges = graph()
    up = {(a, b) for a, targets in edges.items() for b in targets
          if b != "ipcviz" and layer(a) is not None and layer(b) is not None
          and layer(b) > layer(a)}  # type: ignore[operator]
    unexpected = sorted(up - set(KNOWN_BACK_ARROWS))
    assert unexpected == [], "imports from a lower layer to a higher one:\n" + "\n".join(
        f"  {a} -> {b}" for a, b in unexpected)
    gone = sorted(set(KNOWN_BACK_ARROWS) - up)
    assert gone == [], f"fixed, remove from KNOWN_BACK_ARROWS: {gone}"


def test_host_imports_no_other_ipcviz_package() -> None:
    edges = graph()
    bad = sorted((a, b) for a, targets in edges.items() if a.startswith("ipcviz.host")
                 for b in targets if not b.startswith("ipcviz.host"))
    assert bad == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a list of modules, first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_no_import_cycle() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checks_see_a_cycle_and_a_relative_import() -> None:
    """The helpers themselves: a cycle is found, and `from ..signals import` resolves."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert "ipcviz.signals" in graph()["ipcviz.observe.procs"]
    assert "ipcviz.scenario.kinds" in graph()["ipcviz.scenario.schema"]
