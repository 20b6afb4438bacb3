"""Read a scenario file: YAML with positions, schema, cross-references, one line per problem."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ipcviz.scenario import schema, validate
from ipcviz.scenario.paths import bundled_scenarios, resolve_path  # re-exported
from ipcviz.scenario.yamlpos import Document, Problem, YamlError, load_document

__all__ = ["LoadedScenario", "ScenarioError", "WorkerInstance", "bundled_scenarios",
           "load_scenario", "load_text", "resolve_path"]


class ScenarioError(Exception):
    """A scenario that does not load; `lines` are ready to print, one per problem."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class WorkerInstance:
    """One process the runtime starts (or a worker may spawn)."""

    name: str
    group: str
    index: int
    definition: schema.Worker


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario plus where it came from."""

    model: schema.Scenario
    path: str
    name: str
    instances: tuple[WorkerInstance, ...] = field(default=())

    @property
    def channels(self) -> dict:
        return self.model.channels

    def targets(self, name: str) -> list[WorkerInstance]:
        """The instances a timeline or key action aimed at `name` reaches (group or one)."""
        return [w for w in self.instances if w.name == name or w.group == name]


def _pydantic_problems(doc: Document, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(
            ("function-", "list[", "int", "float", "str", "bool", "literal[", "dict["))))
        key_error = "[key]" in loc
        loc = tuple(p for p in loc if p != "[key]")
        # pydantic names union members in the loc (e.g. 'pipe' for a tagged union); drop them
        loc = _strip_tags(loc, doc)
        message = err["msg"]
        kind = err["type"]
        ctx = err.get("ctx") or {}
        if kind == "unknown_field":
            loc = loc + (ctx.get("field"),)
        elif kind == "missing":
            message = f"required field '{loc[-1]}' is missing"
            loc = loc[:-1]
        elif kind == "union_tag_not_found":
            message = "needs 'kind' (one of: " + ", ".join(schema.CHANNEL_KINDS) + ")"
        elif kind == "union_tag_invalid":
            message = (f"unknown kind {ctx.get('tag')!r} (kinds: "
                       + ", ".join(schema.CHANNEL_KINDS) + ")")
            loc = loc + ("kind",)
        elif kind == "string_pattern_mismatch":
            message = ("names use letters, digits, '_' and '-', start with a letter or '_', "
                       "at most 32 characters")
        elif kind == "literal_error":
            message = f"got {err.get('input')!r}; expected {ctx.get('expected')}"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        elif kind.endswith("_type") or kind.endswith("_parsing"):
            message = f"{message} (got {err.get('input')!r})"
        line, col = doc.position(loc, key=kind == "unknown_field" or key_error)
        problems.append(Problem(line, col, loc, message))
    # one line per place: pydantic may report a union several times
    seen, unique = set(), []
    for p in problems:
        key = (p.path, p.message)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _strip_tags(loc: tuple, doc: Document) -> tuple:
    out: list = []
    for part in loc:
        candidate = tuple(out) + (part,)
        if isinstance(part, str) and part in schema.CHANNEL_KINDS and \
                len(out) == 2 and out[0] == "channels" and candidate not in doc.positions:
            continue
        out.append(part)
    return tuple(out)


def load_text(raw: bytes, filename: str) -> LoadedScenario:
    """Parse and validate scenario bytes; raise ScenarioError with one line per problem."""
    try:
        doc = load_document(raw)
    except YamlError as exc:
        raise ScenarioError([p.format(filename) for p in exc.problems]) from None
    try:
        model = schema.Scenario.model_validate(doc.data)
    except ValidationError as exc:
        raise ScenarioError([p.format(filename) for p in _pydantic_problems(doc, exc)]) from None
    problems = []
    for path, message in validate.check(model):
        line, col = doc.position(path)
        problems.append(Problem(line, col, path, message))
    if problems:
        problems.sort(key=lambda p: (p.line, p.column))
        raise ScenarioError([p.format(filename) for p in problems])
    instances = []
    for group, worker in model.workers.items():
        if worker.spawned:
            continue
        for i, name in enumerate(validate.instance_names(group, worker)):
            instances.append(WorkerInstance(name, group, i, worker))
    name = model.name or Path(filename).stem
    return LoadedScenario(model, filename, name, tuple(instances))


def load_scenario(path: str | os.PathLike) -> LoadedScenario:
    """Load a scenario from a file path, or from a bundled name like `pipe_two_way`."""
    from ipcviz.scenario.yamlpos import MAX_FILE_BYTES

    resolved = resolve_path(str(path))
    try:
        size = os.path.getsize(resolved)
        if size > MAX_FILE_BYTES:  # refuse before reading anything
            raise ScenarioError([f"{path}:1:1: file is {size:,} bytes; scenarios are limited "
                                 f"to {MAX_FILE_BYTES:,} bytes"])
        with open(resolved, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        hint = ""
        if isinstance(exc, FileNotFoundError):
            hint = " (neither a file nor a bundled scenario; `ipcviz list` shows those)"
        raise ScenarioError([f"{path}: cannot read: {exc.strerror}{hint}"]) from None
    return load_text(raw, str(path))
