"""Checks of the `expect:` block: each names a worker or channel of the file, keys its
summary entry has, values that can be compared, indices inside the array."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ipcviz.scenario import entries
from ipcviz.scenario.fields import dtype_problem
from ipcviz.scenario.refs import (
    CHANNEL_KEYS,
    WORKER_KEYS,
    _COMPARISON,
    Unsure,
    parse_comparison,
)
from ipcviz.scenario.yamlpos import FieldPath

Problems = Iterator[tuple[FieldPath, str]]

#: summary keys whose values are true or false
BOOL_KEYS = frozenset({"handoff", "busy", "shared", "same_address", "same_frame_first",
                       "same_frame_last", "frames_hidden"})

#: ... and a shm object's (channels/shm_object.py)
BOOL_KEYS |= {"in_dev_shm", "unlinked_by_runtime"}
#: ... and a compared channel's whose system calls are counted (runtime/syscall_views.py)
BOOL_KEYS |= {"syscalls_counted"}


def _is_number(value: object) -> bool:
    """An int or a finite float, and not a bool (YAML `true` is not the number 1)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _comparable(value: object) -> bool:
    """A value an expectation may compare with: a finite number, a comparison string, a
    bool or null (e.g. `exit: null`), or a list of those (array `values`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, list):
        return all(_is_number(v) or isinstance(v, str) for v in value)
    if isinstance(value, str):
        m = _COMPARISON.match(value)
        return m is None or math.isfinite(float(m.group(2)))
    return parse_comparison(value) is not None


def check_expect(scn: Any, groups: dict[str, list[str]], path: FieldPath, exp: Any,
                 unsure: Unsure) -> Problems:
    """One `expect:` entry: {worker: NAME, KEY: VALUE, ...} or {channel: NAME, ...}, each
    KEY one the summary has for that entry and each VALUE comparable with it."""
    if not isinstance(exp, dict):
        yield (path, "an expectation is a mapping like {worker: NAME, KEY: VALUE}")
        return
    subject = [k for k in ("worker", "channel") if k in exp]
    if len(subject) != 1:
        yield (path, "needs exactly one of 'worker' or 'channel'")
        return
    what = subject[0]
    name = exp[what]
    rest = {k: v for k, v in exp.items() if k != what}
    if not isinstance(name, str):
        yield (path + (what,), f"expected a {what} name, got {_shown(name)}")
        return
    found: list[tuple[FieldPath, str]] = []
    if what == "worker":
        keys, known_entry = _worker_subject(scn, groups, path, name, unsure, found)
    else:
        keys, known_entry = _channel_subject(scn, path, name, rest, unsure, found)
    yield from found
    if not rest:
        yield (path, f"says nothing to check (add a KEY: VALUE, e.g. {sorted(keys)[0]}: 1)")
    for key, value in rest.items():
        if key not in keys and not (what == "channel" and key in ("index", "equals")):
            yield (path + (key,), _unknown_key(key, keys, what, name, known_entry))
        elif key == "index":
            yield from _check_expect_index(scn.channels.get(name), path + (key,), value)
        elif key == "equals":
            yield from _check_equals(scn.channels.get(name), path + (key,), value)
        else:
            yield from _check_value(scn, what, name, key, value, path + (key,), known_entry)


def _worker_subject(scn: Any, groups: dict[str, list[str]], path: FieldPath, name: str,
                    unsure: Unsure, found: list[tuple[FieldPath, str]]
                    ) -> tuple[frozenset[str], bool]:
    """The keys an expectation on worker `name` may check, and whether they are its own
    (not just every worker's); problems with the name go in `found`."""
    base = name.split("#")[0]
    known = set(groups) | {n for names in groups.values() for n in names}
    if name not in known and base not in scn.workers and not unsure.worker(name):
        listed = ", ".join(unsure.declared(sorted(known), True))
        found.append((path + ("worker",), f"unknown worker '{name}' (workers: {listed})"))
    definition = entries.definition_of(scn, name)
    if definition is None or unsure.worker(name):
        return WORKER_KEYS, False
    if "#" in name and not definition.spawned:
        found.append((path + ("worker",), f"'{name}' names a spawned child, but "
                                          f"'{base}' is started by the runtime, never "
                                          "spawned (give it `spawned: true`)"))
    return entries.worker_keys(definition), True


def _channel_subject(scn: Any, path: FieldPath, name: str, rest: dict[str, Any],
                     unsure: Unsure, found: list[tuple[FieldPath, str]]
                     ) -> tuple[frozenset[str], bool]:
    """As `_worker_subject`, for channel `name` (a shared array's elements too)."""
    if name not in scn.channels and not unsure.channel(name):
        listed = ", ".join(unsure.declared(scn.channels, False)) or "none"
        found.append((path + ("channel",), f"unknown channel '{name}' (channels: {listed})"))
    keys, known_entry = CHANNEL_KEYS, False
    if name in scn.channels:
        keys, known_entry = entries.channel_keys(scn, name), True
    if scn.channels.get(name) is None or scn.channels[name].kind == "shared_array":
        keys = keys | {"index", "equals"}
    if ("index" in rest) != ("equals" in rest):
        found.append((path, "'index' and 'equals' go together"))
    return keys, known_entry


def _check_equals(ch: Any, path: FieldPath, value: Any) -> Problems:
    """`equals:` of an array element: a number the array's dtype can hold."""
    if not _is_number(value):
        yield (path, f"expected a number, got {_shown(value)}")
        return
    problem = (dtype_problem(ch.dtype, value)
               if ch is not None and ch.kind == "shared_array" else None)
    if problem:
        yield (path, f"can never be equal: {problem}")


def _check_value(scn: Any, what: str, name: str, key: str, value: Any, path: FieldPath,
                 known_entry: bool) -> Problems:
    """The value of a summary key: comparable with it, a mapping's items for a mapping."""
    mapping = entries.holds_mapping(scn, what, name, key)
    if known_entry and mapping and not isinstance(value, dict) and _comparable(value):
        yield (path, f"'{key}' holds a mapping: give its items, "
                     f"{entries.mapping_items(key)}")
    elif known_entry and isinstance(value, dict) and not mapping:
        yield (path, f"'{key}' is one value, not a mapping: compare it with a "
                     "number or a string like '>=1'")
    elif isinstance(value, dict):
        if not value:
            yield (path, f"checks nothing: give its items, {entries.mapping_items(key)}")
        for sub, v in value.items():
            problem = entries.item_problem(scn, what, key, sub) if known_entry else None
            if problem:
                yield (path + (sub,), problem)
            elif not _comparable(v) or isinstance(v, (dict, list)) or isinstance(v, bool):
                yield (path + (sub,), f"cannot compare with {_shown(v)} (use a number "
                                      "or a string like '>=1')")
    elif isinstance(value, bool) and key not in BOOL_KEYS:
        yield (path, f"cannot compare with {_shown(value)}: '{key}' is not "
                     "true or false (use a number or a string like '>=1')")
    elif not _comparable(value):
        yield (path, f"cannot compare with {_shown(value)} (use a number or a "
                     "string like '>=1')")
    elif known_entry:
        problem = entries.value_problem(scn, what, name, key, value)
        if problem:
            yield (path, problem)


def _unknown_key(key: str, keys: frozenset[str], what: str, name: str,
                 known_entry: bool) -> str:
    """The line for a key the entry does not have, listing the keys it has."""
    listed = ", ".join(sorted(keys))
    if known_entry and key in WORKER_KEYS | CHANNEL_KEYS | {"index", "equals"}:
        return f"{what} '{name}' has no '{key}' in its summary entry (it has: {listed})"
    return f"unknown key '{key}' (keys: {listed})"


def _shown(value: object) -> str:
    """A value as the file wrote it, shortened for one line of output."""
    if isinstance(value, bool):  # as the file wrote it
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_expect_index(ch, path, value):
    """`index:` of an array expectation: an int or [row, col], inside the array's shape."""
    if ch is None:
        return
    if ch.kind != "shared_array":
        yield (path, f"'index' is for shared_array channels; this one is a {ch.kind}")
        return
    if ch.bad_shape:
        return
    shape = ch.dims
    index = value if isinstance(value, list) else [value]
    if not index or not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
        yield (path, f"expected an integer or a list of integers, got {_shown(value)}")
        return
    if len(index) != len(shape):
        yield (path, f"{len(index)} indices for a {len(shape)}-D array {shape}")
        return
    for k, (i, n) in enumerate(zip(index, shape)):
        if not 0 <= i < n:
            yield (path, f"index {i} is out of range 0..{n - 1} (dimension {k})")
            return


def check_question(scn, groups, path, question, unsure):
    """A question's `answer:` names something a summary holds: one worker or channel and
    one of its keys (the keys `expect:` may name)."""
    answer = question.answer
    subject = [k for k in ("worker", "channel") if k in answer]
    if len(subject) != 1:
        yield (path + ("answer",), "needs exactly one of 'worker' or 'channel'")
        return
    what = subject[0]
    name = answer[what]
    rest = {k: v for k, v in answer.items() if k != what}
    if not isinstance(name, str):
        yield (path + ("answer", what), f"expected a {what} name, got {_shown(name)}")
        return
    if what == "worker":
        known = {n for names in groups.values() for n in names} | {
            g for g, names in groups.items() if names == [g]}
        if name not in known and not unsure.worker(name):
            listed = ", ".join(unsure.declared(sorted(known), True))
            yield (path + ("answer", "worker"), f"unknown worker '{name}' (one process: "
                                                f"{listed})")
        keys, known_entry = WORKER_KEYS, False
        definition = entries.definition_of(scn, name)
        if name in known and definition is not None:
            keys, known_entry = entries.worker_keys(definition), True
    else:
        if name not in scn.channels and not unsure.channel(name):
            listed = ", ".join(unsure.declared(scn.channels, False)) or "none"
            yield (path + ("answer", "channel"), f"unknown channel '{name}' (channels: "
                                                 f"{listed})")
        keys, known_entry = CHANNEL_KEYS, name in scn.channels
        if known_entry:
            keys = entries.channel_keys(scn, name)
    if len(rest) != 1:
        yield (path + ("answer",), f"needs exactly one key of the {what} (keys: "
                                   f"{', '.join(sorted(keys))})")
        return
    (key, item), = rest.items()
    if key not in keys:
        yield (path + ("answer", key), _unknown_key(key, keys, what, name, known_entry))
    elif item is not None and item is not True and not isinstance(item, str):
        yield (path + ("answer", key), "expected an entry name (a signal, a channel) or "
                                       "null for the value itself")
    elif known_entry:
        mapping = entries.holds_mapping(scn, what, name, key)
        if mapping and not isinstance(item, str):
            yield (path + ("answer", key), f"'{key}' holds a mapping: name one of its "
                                           f"items ({entries.mapping_items(key)})")
        elif not mapping and isinstance(item, str):
            yield (path + ("answer", key), f"'{key}' is one value: write `{key}: null`")
        elif mapping:
            problem = entries.item_problem(scn, what, key, item)
            if problem:
                yield (path + ("answer", key), problem)
    if question.choices and key in keys:
        problem = entries.choices_problem(key, item, question.choices)
        if problem:
            yield (path + ("choices",), problem)
