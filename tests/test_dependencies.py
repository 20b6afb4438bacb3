"""Dependencies as declared: every runtime dependency is imported by the package, and the
package imports nothing that is not declared (test-only packages stay in the extras; the
`serve` extra's, for `ipcviz serve` alone, are declared there)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ipcviz"
#: imported only when installed, each behind an ImportError fallback (README says so)
OPTIONAL = {"cairosvg"}


def _declared(section: str) -> set[str]:
    """Distribution names of a dependency list in pyproject.toml (normalized)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(rf"^{section} = \[(.*?)^\]", text, re.M | re.S)
    assert block is not None, section
    names = re.findall(r'^\s*"([A-Za-z0-9_.\-]+)', block.group(1), re.M)
    return {_normal(n) for n in names}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_levels() -> set[str]:
    """Top-level module names imported anywhere under ipcviz/ (at any depth of the code,
    lazy imports inside functions included)."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def _distributions_imported() -> set[str]:
    by_module = packages_distributions()
    dists: set[str] = set()
    for module in _imported_top_levels():
        if module in sys.stdlib_module_names or module == "ipcviz" or module in OPTIONAL:
            continue
        assert module in by_module, f"ipcviz imports {module!r}, which no installed " \
                                    "distribution provides"
        dists.update(_normal(d) for d in by_module[module])
    return dists


def test_every_runtime_dependency_is_imported_by_the_package() -> None:
    unused = _declared("dependencies") - _distributions_imported()
    assert not unused, f"declared but never imported under ipcviz/: {sorted(unused)}"


def test_the_package_imports_only_declared_runtime_dependencies() -> None:
    imported = _distributions_imported()
    # rich and pydantic-core come with textual and pydantic, which the package declares;
    # aiohttp with textual-serve, the `serve` extra (imported only by `ipcviz serve`)
    undeclared = imported - _declared("dependencies") - _declared("serve") - \
        {"rich", "pydantic-core", "aiohttp"}
    assert not undeclared, f"imported under ipcviz/ but not declared: {sorted(undeclared)}"


def test_test_only_packages_stay_in_the_test_extras() -> None:
    test_only = _declared("test") - _declared("dependencies") - _declared("serve")
    assert {"pytest", "hypothesis", "jsonschema"} <= test_only
    leaked = test_only & _distributions_imported()
    assert not leaked, f"test-only packages imported by the package: {sorted(leaked)}"
