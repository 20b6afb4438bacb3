"""A dataclass instance's wire form without the fields equal to their defaults.

A frame of many workers was mostly empty maps, zeros and nulls (a worker that sent no
signal and owns no counter of a kind still carried `{}` for each): 631 bytes a worker at
512 processes, written by the runtime, read and decoded by the UI ten times a second,
and stored in every recording. The reader fills a missing field with its default (the
Snapshots' `from_dict`, and the recording's checker, which requires only the fields
that have none), so the frame says the same thing in fewer bytes, and recordings made
before, which carry every field, read as they did.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

__all__ = ["lean"]


@functools.cache
def _shape(klass: type) -> tuple[tuple[str, ...], tuple[str, ...],
                                 Callable[[dict[str, Any]], tuple[Any, ...]], tuple[Any, ...]]:
    """The dataclass's required field names, its other names, a getter of their values
    from an instance's `__dict__`, and their defaults (a default factory's value: each
    of these makes an empty container, never changed here)."""
    required, optional, defaults = [], [], []
    for f in fields(klass):
        if f.default is not MISSING:
            optional.append(f.name)
            defaults.append(f.default)
        elif f.default_factory is not MISSING:
            optional.append(f.name)
            defaults.append(f.default_factory())
        else:
            required.append(f.name)
    if len(optional) < 2:  # (itemgetter of one name gives the value, not a tuple)
        raise TypeError(f"{klass.__name__}: lean() is for classes of many defaults")
    return tuple(required), tuple(optional), operator.itemgetter(*optional), tuple(defaults)


def lean(state: dict[str, Any], klass: type) -> dict[str, Any]:
    """The fields of an instance of dataclass `klass` (its `__dict__`) for JSON, without
    those equal to their default in value and in type (0 stands in for no False, {} for
    no None): the required ones first, then the others in their declared order."""
    required, optional, values, defaults = _shape(klass)
    out = {name: state[name] for name in required}
    for name, value, default in zip(optional, values(state), defaults):
        if value is not default and (value != default or type(value) is not type(default)):
            out[name] = value
    return out
