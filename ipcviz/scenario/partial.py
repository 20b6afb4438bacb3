"""Validate a scenario section by section, so that cross-references can be checked in the
same pass as the schema.

Pydantic reports every shape problem of the file at once, but it gives no model while
any remains. Here each broken part is set aside (a channel dropped, a step, timeline
entry, trigger or expectation replaced by a harmless stand-in at the same index, a bad
worker option left at its default) and the rest validated again, until what is left
validates. The cross-reference checks then run on that model and know what was set
aside (`refs.Unsure`): a name declared by a broken channel or worker still counts as
declared, and a part set aside gives only its own line (a step whose shape is wrong is
not also checked for the channel it names).

An unknown key hides the rest of its mapping from pydantic (the check runs before the
fields), so it is taken out and the mapping validated again; what that shows is
reported too, except what only follows from taking the key out (a required field
missing, "give either 'data' or 'size'"): the key was probably that field misspelt.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ipcviz.scenario import schema
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.scenario.refs import Unsure
from ipcviz.scenario.yamlpos import FieldPath

#: Stand-ins that validate and name nothing real; their index keeps every path right.
_STEP = {"sleep": 0.0}
_EVENT = {"at": 0.0, "kill": "_"}
_LIST_UNITS = ("timeline", "triggers", "expect")
_MAX_ROUNDS = 20


@dataclass
class Partial:
    """What validated of a file, what did not, and what is unsure because of that."""

    #: pydantic's errors to report (raw dicts, with `loc` as pydantic gives it)
    errors: list[dict] = field(default_factory=list)
    #: the model of the parts that validated; None when nothing could be checked further
    model: schema.Scenario | None = None
    unsure: Unsure = field(default_factory=Unsure)
    #: parts set aside: no cross-reference problem inside them is reported
    set_aside: set[FieldPath] = field(default_factory=set)

    def inside_set_aside(self, path: FieldPath) -> bool:
        return any(tuple(path[:n]) in self.set_aside for n in range(1, len(path) + 1))


def validate_partially(data: object, clean_loc: Callable[[tuple], FieldPath]) -> Partial:
    """Validate `data` (plain YAML data) as a Scenario, setting aside what does not.

    `clean_loc(loc)` turns pydantic's location into the path in the file."""
    out = Partial()
    copied = False
    keys_taken: set[FieldPath] = set()  # mappings an unknown key was taken out of
    errors: list[dict[str, Any]] = []
    reported: set[tuple] = set()  # a problem left in place is met again next round
    for _ in range(_MAX_ROUNDS):
        try:
            out.model = schema.Scenario.model_validate(data)
            return out
        except ValidationError as exc:
            errors = [dict(err) for err in exc.errors()]
        if not copied:  # a file that validates is never copied; one that does not is cut
            data, copied = copy.deepcopy(data), True
        progress = False
        for err in errors:
            path = clean_loc(err["loc"])
            seen = (tuple(err["loc"]), err["type"], err["msg"])
            if not _follows_from_taken_key(path, err, keys_taken) and seen not in reported:
                reported.add(seen)
                out.errors.append(err)
            if err["type"] == "unknown_field":
                more = _take_keys(data, path, err, keys_taken)
                if more is not None:
                    out.errors += more  # the mapping's other unknown keys, one line each
                    progress = True
            if not isinstance(data, dict) or path == ():
                if err["type"] != "unknown_field":
                    return out  # not a mapping at the top: nothing more to check
                continue
            if err["type"] == "unknown_field":  # the key's own place, e.g. a step's
                path = path + ((err.get("ctx") or {}).get("field"),)
            progress |= _set_aside(data, path, out)
        if not progress:
            break
    out.model = None  # could not get to a model; the schema lines are all there is
    if not out.errors:  # never a file refused without a line saying why
        out.errors = errors
    return out


def _follows_from_taken_key(path: FieldPath, err: dict, keys_taken: set[FieldPath]) -> bool:
    """True for what a mapping says once an unknown key is out of it: its own problems
    (a field missing, one of two fields needed), not problems of its fields' values."""
    return path in keys_taken or (err["type"] == "missing" and path[:-1] in keys_taken)


def _at(data: object, path: FieldPath) -> object:
    node: Any = data  # plain YAML data: whatever is there is indexed, or it is not
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _take_keys(data: object, path: FieldPath, err: dict, keys_taken: set[FieldPath]
               ) -> list[dict] | None:
    """Take the unknown key, and every other key the error's list does not allow, out of
    the mapping at `path`; an error like `err` for each other key taken (None: nothing
    was taken)."""
    mapping = _at(data, path)
    ctx = err.get("ctx") or {}
    key = ctx.get("field")
    if not isinstance(mapping, dict) or not isinstance(key, str) \
            or key not in map(str, mapping):
        return None
    allowed = set(str(ctx.get("allowed", "")).split(", "))
    more = []
    for candidate in list(mapping):
        if str(candidate) == key:
            del mapping[candidate]
        elif str(candidate) not in allowed:
            del mapping[candidate]
            more.append(dict(err, ctx=dict(ctx, field=str(candidate)),
                             msg=err["msg"].replace(f"'{key}'", f"'{candidate}'", 1)))
    keys_taken.add(tuple(path))
    return more


def _innermost_step(path: FieldPath) -> FieldPath | None:
    """workers.w.steps[2].repeat.steps[1].write.to -> workers.w.steps[2].repeat.steps[1]."""
    for j in range(len(path) - 2, 1, -1):
        if path[j] == "steps" and isinstance(path[j + 1], int):
            return tuple(path[:j + 2])
    return None


def _set_aside(data: dict, path: FieldPath, out: Partial) -> bool:
    """Set aside the part of `data` holding a problem at `path`; True if anything changed."""
    top = path[0]
    unsure = out.unsure
    if top == "channels":
        if len(path) == 1:
            unsure.all_channels = True
            return data.pop("channels", None) is not None
        channels = data.get("channels")
        unsure.channels.add(str(path[1]))
        if isinstance(channels, dict):
            for name in list(channels):
                if str(name) == str(path[1]):
                    spec = channels[name]
                    kind = spec.get("kind") if isinstance(spec, dict) else None
                    if isinstance(kind, str) and kind in CHANNELS and path[2:3] != ("kind",):
                        # its kind is fine (another option is not): steps on it can
                        # still be checked against the kind, in this same pass
                        unsure.channel_kinds[str(name)] = kind
                    del channels[name]
                    return True
        return False
    if top == "workers":
        if len(path) == 1:
            unsure.all_workers = True
            changed = data.get("workers") != {}
            data["workers"] = {}
            return changed
        workers = data.get("workers")
        name = path[1]
        step = _innermost_step(path)
        if step is not None:  # a broken step leaves its worker whole
            return _replace(data, step, dict(_STEP), out)
        unsure.workers.add(str(name))
        if not isinstance(workers, dict) or name not in workers:
            return False
        worker = workers[name]
        if len(path) == 2 or not isinstance(worker, dict) or not isinstance(name, str):
            del workers[name]  # the definition (or its name) itself is wrong
            return True
        return worker.pop(path[2], None) is not None or path[2] in worker
    if top in _LIST_UNITS and len(path) >= 2 and isinstance(path[1], int):
        if top == "triggers":
            stand_in = dict(_EVENT, key=f"\x00{path[1]}")
            del stand_in["at"]
        elif top == "timeline":
            stand_in = dict(_EVENT)
        else:
            stand_in = {}
        return _replace(data, path[:2], stand_in, out)
    if isinstance(top, str) and top in data:  # a top-level value: back to its default
        del data[top]
        return True
    return False


def _replace(data: dict, path: FieldPath, stand_in: dict, out: Partial) -> bool:
    parent = _at(data, path[:-1])
    if not isinstance(parent, list) or not 0 <= path[-1] < len(parent):
        return False
    out.set_aside.add(tuple(path))
    if parent[path[-1]] == stand_in:
        return False
    parent[path[-1]] = stand_in
    return True
