"""Load YAML safely into plain data plus a map from field path to (line, column).

PyYAML's composer gives nodes with marks; we build the Python values ourselves so
that every value keeps its position, duplicate keys are errors, only the plain
YAML tags are accepted, and alias bombs or deep nesting are stopped early.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import yaml

from ipcviz.scenario.opening import MAX_FILE_BYTES  # (the one limit, also for opening)

#: where in the file a value is: keys and list indices from the top,
#: e.g. ("workers", "w", "steps", 0)
FieldPath = tuple  # tuple[str | int, ...]; not pathlib.Path

MAX_NODES = 200_000
MAX_DEPTH = 40

_ALLOWED_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass
class Problem:
    """One thing wrong with a file, at a place in it."""

    line: int
    column: int
    path: FieldPath
    message: str

    def format(self, filename: str) -> str:
        where = format_path(self.path)
        prefix = f"{filename}:{self.line}:{self.column}: "
        return prefix + (f"{where}: {self.message}" if where else self.message)


@dataclass
class Document:
    """The plain data of a YAML file and where each part of it was written."""

    data: object
    positions: dict = field(default_factory=dict)
    key_positions: dict = field(default_factory=dict)

    def position(self, path: FieldPath, key: bool = False) -> tuple[int, int]:
        """Line and column of a path's value (or its key), else of its nearest ancestor."""
        path = tuple(path)
        if key and path in self.key_positions:
            return self.key_positions[path]
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (1, 1))


class YamlError(Exception):
    """The file could not be read as YAML; carries the problems found."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def format_path(path: FieldPath) -> str:
    """('workers', 'child', 'steps', 1, 'write') -> 'workers.child.steps[1].write'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_col_of_offset(raw: bytes, offset: int) -> tuple[int, int]:
    before = raw[:offset]
    line = before.count(b"\n") + 1
    col = offset - (before.rfind(b"\n") + 1) + 1
    return line, col


def load_document(raw: bytes) -> Document:
    """Parse bytes of YAML into a Document, or raise YamlError."""
    if len(raw) > MAX_FILE_BYTES:
        raise YamlError([Problem(1, 1, (), f"file is {len(raw):,} bytes; scenarios are limited to "
                                             f"{MAX_FILE_BYTES:,} bytes")])
    if b"\x00" in raw:
        line, col = _line_col_of_offset(raw, raw.index(b"\x00"))
        raise YamlError([Problem(line, col, (), "this is a binary file, not YAML text")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col_of_offset(raw, exc.start)
        raise YamlError([Problem(line, col, (), "not UTF-8 text (save the file as UTF-8)")]) from None
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise YamlError([Problem(1, 1, (), "empty file (a scenario needs at least 'workers:')")])
    deep = _too_deep(text)
    if deep is not None:  # PyYAML is slow on thousands of nested brackets: refuse first
        raise YamlError([Problem(deep[0], deep[1], (), f"nested too deeply (limit {MAX_DEPTH} "
                                                        "levels)")])
    old_limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(old_limit, 3000))
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or str(exc)
        if exc.context:
            message = f"{exc.context}, {message}"
        raise YamlError([Problem(line, col, (), f"YAML syntax: {message}")]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Problem(1, 1, (), f"YAML: {exc}")]) from None
    except RecursionError:
        raise YamlError([Problem(1, 1, (), f"nested too deeply (limit {MAX_DEPTH} levels)")]) from None
    finally:
        sys.setrecursionlimit(old_limit)
    if node is None:
        raise YamlError([Problem(1, 1, (), "empty file (a scenario needs at least 'workers:')")])
    builder = _Builder()
    data = builder.build(node, (), 0)
    if builder.problems:
        raise YamlError(builder.problems)
    return Document(data, builder.positions, builder.key_positions)


def _too_deep(text: str) -> tuple[int, int] | None:
    """Line and column where flow brackets or indentation nest past the limit (linear scan,
    quotes and comments skipped roughly: a cheap guard, the builder checks exactly)."""
    depth, line, column, quote = 0, 1, 0, ""
    indent_limit = 4 * MAX_DEPTH
    at_line_start, indent = True, 0
    for ch in text:
        column += 1
        if ch == "\n":
            line, column, at_line_start, indent = line + 1, 0, True, 0
            continue
        if at_line_start:
            if ch == " ":
                indent += 1
                if indent > indent_limit:
                    return line, column
                continue
            at_line_start = False
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, column
        elif ch in "]}":
            depth = max(0, depth - 1)
    return None


class _Builder:
    def __init__(self) -> None:
        self.positions: dict[FieldPath, tuple[int, int]] = {}
        self.key_positions: dict[FieldPath, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def _problem(self, node: yaml.Node, path: FieldPath, message: str) -> None:
        if self.count > MAX_NODES + 1:  # past an alias bomb, the rest is its echo
            return
        self.problems.append(
            Problem(node.start_mark.line + 1, node.start_mark.column + 1, path, message)
        )

    def build(self, node: yaml.Node, path: FieldPath, depth: int) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            if self.count == MAX_NODES + 1:
                self._problem(node, path, f"more than {MAX_NODES:,} values "
                                          "(an alias bomb?); scenarios are small")
            return None
        if depth > MAX_DEPTH:
            self._problem(node, path, f"nested too deeply (limit {MAX_DEPTH} levels)")
            return None
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                self._problem(node, path, f"tag {node.tag!r} is not allowed (plain YAML only)")
                return None
            result: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem(key_node, path, "merge keys ('<<') are not supported")
                    continue
                if key_node.tag == "tag:yaml.org,2002:bool":
                    key = key_node.value  # YAML 1.1 reads `on:` as True; a key stays a word
                else:
                    key = self.build(key_node, path, depth + 1)
                if key is None or isinstance(key, (dict, list, float)):
                    self._problem(key_node, path, "a key must be a plain word or number")
                    continue
                if key in result:
                    self._problem(key_node, path + (key,), "duplicate key (each key once)")
                    continue
                sub = path + (key,)
                self.key_positions[sub] = (key_node.start_mark.line + 1,
                                           key_node.start_mark.column + 1)
                result[key] = self.build(value_node, sub, depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self._problem(node, path, f"tag {node.tag!r} is not allowed (plain YAML only)")
                return None
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if node.tag not in _ALLOWED_SCALAR_TAGS:
            if node.tag == "tag:yaml.org,2002:timestamp":
                return str(node.value)
            self._problem(node, path, f"tag {node.tag!r} is not allowed (plain YAML only)")
            return None
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._problem(node, path, f"bad value: {exc}")
            return None
