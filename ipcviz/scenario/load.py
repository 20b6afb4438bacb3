"""Read a scenario file: YAML with positions, schema, cross-references, one line per problem."""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ipcviz.format import escape_control
from ipcviz.scenario import resources, schema, validate
from ipcviz.scenario.partial import validate_partially
from ipcviz.scenario.refs import instance_names
from ipcviz.scenario.opening import OpenedScenario, ScenarioError, open_scenario, resolve_path
from ipcviz.scenario.paths import bundled_scenarios  # re-exported
from ipcviz.scenario.plan import Plan, make_plan
from ipcviz.scenario.yamlpos import Document, Problem, YamlError, load_document

__all__ = ["LoadedScenario", "ScenarioError", "WorkerInstance", "bundled_scenarios",
           "load_opened", "load_scenario", "load_text", "resolve_path"]


@dataclass(frozen=True)
class WorkerInstance:
    """One process the runtime starts (or a worker may spawn)."""

    name: str
    group: str
    index: int
    definition: schema.Worker


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario, where it came from, the processes the runtime starts (in
    row order) and the plan worked out from its steps (read only from here on).

    `opened` is the one read of the file these are the bytes of (None: bytes from
    elsewhere, e.g. a test's text); `bundled` whether that open file is a bundled
    scenario, which may run its programs without --allow-exec."""

    model: schema.Scenario
    path: str
    name: str
    instances: tuple[WorkerInstance, ...]
    plan: Plan
    opened: OpenedScenario | None = None

    @property
    def bundled(self) -> bool:
        return self.opened is not None and self.opened.is_bundled

    @property
    def channels(self) -> dict:
        return self.model.channels

    def targets(self, name: str) -> list[WorkerInstance]:
        """The instances a timeline or key action aimed at `name` reaches (group or one)."""
        return [w for w in self.instances if w.name == name or w.group == name]


_NOUNS = {
    "int_type": ("an integer", "integers"), "int_parsing": ("an integer", "integers"),
    "int_from_float": ("an integer", "integers"),
    "float_type": ("a number", "numbers"), "float_parsing": ("a number", "numbers"),
    "finite_number": ("a finite number", "finite numbers"),
    "bool_type": ("true/false", "true/false values"),
    "bool_parsing": ("true/false", "true/false values"),
    "string_type": ("a string", "strings"), "list_type": ("a list", "lists"),
    "dict_type": ("a mapping", "mappings"), "model_type": ("a mapping", "mappings"),
    "model_attributes_type": ("a mapping", "mappings"),
}
_INTERNAL_LOC = ("function-", "list[", "int", "float", "str", "bool", "literal[", "dict[",
                 "constrained-", "union[", "tagged-union[", "nullable[", "lax-", "strict-")


def _clean_loc(loc: tuple, doc: Document) -> tuple[tuple, bool]:
    """Pydantic's error location as a path in the file (its type and union tags dropped)."""
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith(_INTERNAL_LOC)))
    key_error = "[key]" in loc
    loc = tuple(p for p in loc if p != "[key]")
    return _strip_tags(loc, doc), key_error


def _noun(kind: str, ctx: dict) -> str | None:
    if kind == "literal_error":
        return str(ctx.get("expected"))
    return _NOUNS.get(kind, (None,))[0]


def _pydantic_problems(doc: Document, raw_errors: list[dict]) -> list[Problem]:
    """One problem per place: the errors pydantic gives for each member of a union (and
    for the items inside one) become one line saying what the place may hold."""
    errors = []
    for err in raw_errors:
        loc, key_error = _clean_loc(err["loc"], doc)
        errors.append((loc, key_error, err))
    # an error inside a value that is itself wrong (a union's list member) folds into it
    by_place: dict[tuple, list] = {}
    above_a_place: set[tuple] = set()  # proper prefixes of places (a hostile file has
    for loc, key_error, err in errors:  # thousands of errors: no scan per error)
        root = next((loc[:n] for n in range(len(loc) + 1) if loc[:n] in by_place), None)
        if root is None:
            if loc in above_a_place:
                for other in list(by_place):
                    if other[:len(loc)] == loc and other != loc:
                        by_place.setdefault(loc, []).extend(by_place.pop(other))
            above_a_place.update(loc[:n] for n in range(len(loc)))
            root = loc
        by_place.setdefault(root, []).append((loc, key_error, err))
    problems = []
    for root, group in by_place.items():
        if len(group) > 1 and all(e["type"] not in ("unknown_field", "missing") for _, _, e in group):
            problems.append(_union_problem(doc, root, group))
            continue
        for loc, key_error, err in group:
            problems.append(_one_problem(doc, loc, key_error, err))
    missing: dict[tuple, list[Problem]] = {}
    for p in problems:
        if p.message.startswith("required field '"):
            missing.setdefault(p.path, []).append(p)
    for path, group in missing.items():  # `signal: {}` is one problem: its fields are missing
        if len(group) > 1:
            names = ", ".join(p.message.split("'")[1] for p in group)
            group[0].message = f"required fields {names} are missing"
            problems = [p for p in problems if p not in group[1:]]
    seen, unique = set(), []
    for p in problems:
        key = (p.path, p.message)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _union_problem(doc: Document, root: tuple, group: list) -> Problem:
    nouns: list[str] = []
    got = None
    for loc, _, err in group:
        noun = _noun(err["type"], err.get("ctx") or {})
        if noun is None:  # a range or pattern error: say it as it is
            return _one_problem(doc, loc, False, err)
        if loc != root:
            plural = _NOUNS.get(err["type"], (None, noun))[1]
            noun = f"a list of {plural}" if isinstance(loc[len(root)], int) else f"a mapping of {plural}"
        else:
            got = err.get("input")
        if noun not in nouns:
            nouns.append(noun)
    text = nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + " or " + nouns[-1]
    line, col = doc.position(root)
    return Problem(line, col, root, f"expected {text} (got {_shown(got)})")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _one_problem(doc: Document, loc: tuple, key_error: bool, err: dict) -> Problem:
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
        message = f"got {_shown(err.get('input'))}; expected {ctx.get('expected')}"
    elif kind == "finite_number":
        message = f"not a number: {_shown(err.get('input'))} (give a finite number)"
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        message = f"{message} (got {_shown(err.get('input'))})"
    line, col = doc.position(loc, key=kind == "unknown_field" or key_error)
    return Problem(line, col, loc, message)


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
    # schema and cross-references in one pass: the checks run on what validated
    partial = validate_partially(doc.data, lambda loc: _clean_loc(loc, doc)[0])
    problems = _pydantic_problems(doc, partial.errors)
    found: list = []
    if partial.model is not None:
        found = [(path, message) for path, message in validate.check(partial.model, partial.unsure)
                 if not partial.inside_set_aside(path)]
    if not found and not problems and partial.model is not None:
        # budgets are worked out on a scenario that is otherwise right
        found = list(resources.check_processes(partial.model)) or \
            list(resources.check_space(partial.model))
    for path, message in found:
        line, col = doc.position(path)
        problems.append(Problem(line, col, path, message))
    if problems:
        problems.sort(key=lambda p: (p.line, p.column))
        raise ScenarioError([p.format(filename) for p in problems])
    model = partial.model
    assert model is not None  # no problem at all: the whole file validated
    instances = []
    for group, worker in model.workers.items():
        if worker.spawned:
            continue
        for i, name in enumerate(instance_names(group, worker)):
            instances.append(WorkerInstance(name, group, i, worker))
    name = model.name or Path(filename).stem
    plan = make_plan(model, [(i.name, i.group) for i in instances])
    return LoadedScenario(model, filename, name, tuple(instances), plan)


def load_opened(opened: OpenedScenario) -> LoadedScenario:
    """Validate the bytes of one read of a scenario file (and nothing read again)."""
    loaded = load_text(opened.raw, opened.name)
    return dataclasses.replace(loaded, path=opened.base_path, opened=opened)


def load_scenario(path: str | os.PathLike) -> LoadedScenario:
    """Load a scenario from a file path, or from a bundled name like `pipe_two_way`: the
    file is opened and read once (opening.py); when the name could have meant another
    file too, one line on standard error says which was loaded."""
    opened = open_scenario(str(path))
    if opened.note:
        print(escape_control(f"ipcviz: {opened.note}"), file=sys.stderr)
    return load_opened(opened)
