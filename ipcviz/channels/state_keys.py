"""A channel kind's keys, read from its typed state: the JSON type of each key of its
frame data (what a replay keeps, and checks), and the keys of its summary entry an
`expect:` may check.

A state's fields are its frame keys (state.py), so the fields are the one listing: their
annotations give each key's type (narrowed for JSON by `wire.Wire`) and mark the ones a
check may name (`wire.Checked`). The kinds table (scenario/kinds.py) says which state a
kind has; the loader's key sets (scenario/entries.py, refs.py) and the replay's types
(telemetry/wire_types.py) are made from here.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import fields
from typing import Annotated, Any

from ipcviz.channels.state import ChannelState, Cost, Race
from ipcviz.channels.wire import NUMBER, Checked, Either, Wire

__all__ = ["checked_keys", "data_types"]


_OWN: dict[type, dict[str, Any]] = {}
_TYPES: dict[type, dict[str, Any]] = {}


def _own_hints(klass: type) -> dict[str, Any]:
    """The types a class annotates itself, resolved in its module (its annotations are
    text: postponed), with their `Annotated` extras; once a class."""
    own = _OWN.get(klass)
    if own is None:
        names = vars(sys.modules[klass.__module__])
        own = _OWN[klass] = {
            name: eval(hint, names) if isinstance(hint, str) else hint  # its own source
            for name, hint in vars(klass).get("__annotations__", {}).items()}
    return own


def _hints(klass: type) -> dict[str, Any]:
    """A dataclass's field types, its bases' first, as typing.get_type_hints gives them
    with `include_extras`, but with each base's read once for all its subclasses (the
    states share theirs)."""
    hints: dict[str, Any] = {}
    for base in reversed(klass.__mro__):
        hints.update(_own_hints(base))
    return hints


def _key(name: str) -> str:
    """A field's key in the data: its name (a `recorded_` field keeps an old key)."""
    return name.removeprefix("recorded_")


def _json_type(hint: Any, nullable: bool) -> Any:
    """The JSON type a field of type `hint` has in a frame: its `Wire` type if it says
    one, else `hint` without None (the key is left out instead) unless `nullable`, and
    any number where the field is a float."""
    if typing.get_origin(hint) is Annotated:
        wire = next((m for m in hint.__metadata__ if isinstance(m, Wire)), None)
        return wire.type if wire is not None else _json_type(typing.get_args(hint)[0],
                                                            nullable)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [_json_type(option, True) for option in typing.get_args(hint)
                   if nullable or option is not type(None)]
        return options[0] if len(options) == 1 else Either(*options)
    return NUMBER if hint is float else hint


def data_types(state: type[ChannelState], declared: Mapping[str, Any] | None = None
               ) -> dict[str, Any]:
    """The JSON type of each key a channel with `state` has in a frame: its fields (a
    field that is None is no key, unless kept beside another: `KEPT_WITH`), or the types
    `declared` instead (a kind registered from elsewhere may say them; float: any number);
    then the race's and the cost's, which any channel may carry."""
    own = _field_types(state) if declared is None else {
        key: NUMBER if hint is float else hint for key, hint in declared.items()}
    return {**own, **_field_types(Race), **_field_types(Cost)}


def _field_types(klass: type) -> dict[str, Any]:
    """The JSON type of each field of a state (or of its race or cost), by its key."""
    types_ = _TYPES.get(klass)
    if types_ is None:
        hints = _hints(klass)
        kept = getattr(klass, "KEPT_WITH", {})
        types_ = _TYPES[klass] = {_key(f.name): _json_type(hints[f.name], _key(f.name) in kept)
                                  for f in fields(klass) if f.name not in ("race", "cost")}
    return types_


def checked_keys(state: type[ChannelState], kind: str) -> frozenset[str]:
    """The keys of the summary entry of a `kind` channel with `state` that an `expect:`
    may check (its fields marked `Checked` for the kind)."""
    hints = _hints(state)
    return frozenset(_key(f.name) for f in fields(state)
                     if typing.get_origin(hints[f.name]) is Annotated and any(
                         isinstance(m, Checked) and m.covers(kind)
                         for m in hints[f.name].__metadata__))
