"""`--seed N` (`ipcviz quiz`, `ipcviz course`): a lesson's givens varied, so that two
students do not share answers. A scenario's `vary:` says where a given is in the file
and what it may be; `{NAME}` in its questions (`ask`, `explain`) says the value in use:

    vary:
      - {name: n, at: [timeline.3.signal.count], values: [20, 12, 16, 24, 30]}
    questions:
      - ask: "`counter` is sent SIGUSR1 {n} times ..."

Without a seed the first value is used (what `run`, `--check` and the picker see: the
file as written, so `expect:` holds); with one, each given is drawn from its values by
a generator seeded with N and the given's name. The varied file is checked again as a
whole, and the run's own values grade the answers, as always.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["chosen", "question_text", "vary_problems", "varied"]

_MISSING = object()


def chosen(model: Any, seed: int | None) -> dict[str, int | float]:
    """Each given's value: the first without a seed, else one drawn for (seed, name)."""
    values = {}
    for given in getattr(model, "vary", None) or []:
        if seed is None:
            values[given.name] = given.values[0]
        else:
            values[given.name] = random.Random(f"{seed}:{given.name}").choice(given.values)
    return values


def question_text(text: str, values: dict[str, int | float]) -> str:
    """`{NAME}` replaced with the given's value (other braces left as they are)."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}",
                  lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0),
                  text)


def _walk(root: Any, path: str, setting: Any = _MISSING) -> Any:
    """The value at a dotted path (`workers.a.steps.0.repeat.times`) in a model or in
    plain YAML data; with `setting`, that value replaced (plain data only)."""
    parts = path.split(".")
    node = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return _MISSING
            key: Any = int(part)
            if last and setting is not _MISSING:
                node[key] = setting
            node = node[key]
        elif isinstance(node, dict):
            if part not in node:
                return _MISSING
            if last and setting is not _MISSING:
                node[part] = setting
            node = node[part]
        else:
            node = getattr(node, part, _MISSING)
            if node is _MISSING:
                return _MISSING
    return node


def vary_problems(scn: Any) -> list[tuple[tuple[Any, ...], str]]:
    """The loader's check of `vary:`: each place names a number of the file, names are
    unique, and a question's `{NAME}` names a given."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    names: set[str] = set()
    for i, given in enumerate(scn.vary or []):
        if given.name in names:
            problems.append((("vary", i, "name"), f"'{given.name}' is already a given"))
        names.add(given.name)
        for j, place in enumerate(given.at):
            value = _walk(scn, place)
            if value is _MISSING:
                problems.append((("vary", i, "at", j), f"'{place}' names nothing in this "
                                                       "file"))
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append((("vary", i, "at", j), f"'{place}' is not a number "
                                                       f"(it is {value!r})"))
            elif value != given.values[0]:
                problems.append((("vary", i, "at", j), f"'{place}' is {value} in the file; "
                                                       f"the first of `values` must be it"))
    for i, question in enumerate(scn.questions):
        for key in ("ask", "explain"):
            for name in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", getattr(question, key)):
                if name not in names:
                    problems.append((("questions", i, key), f"{{{name}}} names no given of "
                                     f"`vary:` ({', '.join(sorted(names)) or 'none'})"))
    return problems


def check_vary(scn: Any, groups: Any, unsure: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
    """The hook scenario/validate.py calls."""
    del groups, unsure
    yield from vary_problems(scn)


def varied(raw: bytes, model: Any, seed: int | None) -> bytes:
    """The scenario's bytes with each given set to its chosen value and the questions'
    `{NAME}` filled in (YAML again; comments are not kept)."""
    import yaml

    from ipcviz.scenario.yamlpos import load_document

    values = chosen(model, seed)
    data = load_document(raw).data  # the loader's own reading (`on:` is a key, not true)
    if not isinstance(data, dict):  # `model` validated it: a scenario is a mapping
        return raw
    for given in model.vary or []:
        for place in given.at:
            _walk(data, place, values[given.name])
    for given in data.get("vary") or []:  # the value in use is now the file's own: first
        value = values[given["name"]]
        given["values"] = [value] + [v for v in given["values"] if v != value]
    for question in data.get("questions") or []:
        for key in ("ask", "explain"):
            if isinstance(question.get(key), str):
                question[key] = question_text(question[key], values)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000).encode()
