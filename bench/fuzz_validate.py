"""Mutate every field of every bundled scenario into other types and load the result.

Each mutant must either load or be refused with ScenarioError lines; anything else (a
traceback) is a bug. Prints the failures and, with -v, mutants refused with more than one
line. Run: python bench/fuzz_validate.py [-v] [FILE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ipcviz.scenario.load import ScenarioError, load_text
from ipcviz.scenario.yamlpos import load_document

ROOT = Path(__file__).resolve().parent.parent
MUTANTS: list[object] = [
    ["a"], [{"x": 1}], {"x": 1}, {}, [], True, False, None, 1.5, 10**30, -1, 0,
    "nan", ".nan", float("inf"), "x\x1b[31m", "SIGKILL", 2**63, -(2**63) - 1, 1e30,
]


def paths(data: object, prefix: tuple = ()):
    """Every path in plain YAML data (mapping keys and list items), depth first."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from paths(value, prefix + (i,))


def replaced(data: object, path: tuple, value: object) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {k: (replaced(v, rest, value) if k == head else v) for k, v in data.items()}
    return [replaced(v, rest, value) if i == head else v for i, v in enumerate(data)]


def mutants(files: list[Path]):
    for file in files:
        data = load_document(file.read_bytes()).data  # keeps `on:` a word
        for path in paths(data):
            if not path:
                continue
            for value in MUTANTS:
                yield file, path, yaml.safe_dump(replaced(data, path, value), allow_unicode=True)


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    chosen = [Path(a) for a in argv if a != "-v"]
    files = chosen or sorted((ROOT / "scenarios").glob("*.yaml")) + sorted(
        (ROOT / "tests" / "scenarios").glob("*.yaml"))
    crashes = multi = total = 0
    for file, path, text in mutants(files):
        total += 1
        try:
            load_text(text.encode(), "m.yaml")
        except ScenarioError as exc:
            if len(exc.lines) > 1:
                multi += 1
                if verbose:
                    print(f"{file.name} {path}: {len(exc.lines)} lines: {exc.lines}")
        except Exception as exc:  # noqa: BLE001 - that is what we look for
            crashes += 1
            print(f"CRASH {file.name} {path}: {type(exc).__name__}: {exc}")
    print(f"{total} mutants, {crashes} crashes, {multi} refused with more than one line")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
