"""What a channel's data may hold as JSON, where its state's Python types say too little.

A channel's typed state (state.py and its family modules) is also what a recording
carries, key for key. A replay takes frames from anyone, so each key is checked against
the JSON type of its field (telemetry/recording_file.py). For most fields the Python type
is that JSON type (`int | None`: a whole number); where JSON narrows it, the field says
so in its annotation with `Wire`: hexadecimal text, a list of numbers, a shape of at most
MAX_ARRAY_ELEMENTS elements. A field that `expect:` may check in the headless summary is
marked `Checked`. Both are read from the state class by `state_keys.py`, so a kind's keys
are listed once, as its state's fields.

The types here (`Check`, `Either`, `ListOf`, `DictOf`, `Record`) are the forms the replay's
checker understands beside plain typing forms; they sit in this layer so that the states
can name them.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GRID", "HEX", "NUMBER", "NUMBERS", "SHAPE", "Check", "Checked", "DictOf",
           "Either", "ListOf", "Record", "Wire"]

#: the most elements a replayed shared array may claim (the runtime ships at most 4096
#: values and block means of bigger arrays; the shape only labels them)
MAX_ARRAY_ELEMENTS = 1 << 40
#: the deepest list of numbers accepted (arrays are 1-D or 2-D)
MAX_NESTING = 4


class Check:
    """A type that is more than a JSON type: `test` says whether a value is one."""

    def __init__(self, test: Callable[[Any], bool], words: str):
        self.test = test
        self.words = words

    def problem(self, value: Any, where: str) -> str | None:
        return None if self.test(value) else f"{where}: should be {self.words}"


class Either:
    """One of several types (a union that may hold a Check or a Record)."""

    def __init__(self, *options: Any):
        self.options = options


class ListOf:
    """A list whose every item is of `item`: a Check, Record or Either, which `list[...]`
    cannot hold for a type checker (a JSON type may be written `list[int]` as well)."""

    def __init__(self, item: Any):
        self.item = item


class DictOf:
    """An object whose every value is of `value` (keys are text), as ListOf for lists."""

    def __init__(self, value: Any):
        self.value = value


class Record:
    """A JSON object with known keys: `required` ones must be there; every key named is
    of its type; other keys are kept (a panel reads only the keys it knows)."""

    def __init__(self, fields: dict[str, Any], required: tuple[str, ...] = ()):
        self.fields = fields
        self.required = required


@dataclass(frozen=True)
class Wire:
    """In a state field's annotation (`Annotated[T, Wire(json_type)]`): the JSON type its
    key holds in a frame, when it is narrower than `T` (null included where it may be)."""

    type: Any


class Checked:
    """In a state field's annotation (`Annotated[T, Checked()]`): the summary entry of a
    channel with this state always has the key, and an `expect:` may check it. `kinds`
    narrows it to the kinds of the state that fill the field (a FIFO's path, not a
    pipe's); none named: every kind of the state."""

    def __init__(self, *kinds: str):
        self.kinds = kinds

    def covers(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


def is_number(value: Any) -> bool:
    """A JSON number: an int, or a finite float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and (
        isinstance(value, int) or math.isfinite(value))


def _numbers(value: Any, depth: int = 0) -> bool:
    """A number, or a list (of lists...) of numbers no deeper than MAX_NESTING."""
    if isinstance(value, list):
        return depth < MAX_NESTING and all(_numbers(v, depth + 1) for v in value)
    return is_number(value)


def _hex(value: Any) -> bool:
    return (isinstance(value, str) and len(value) % 2 == 0
            and all(ch in string.hexdigits for ch in value))


def _shape(value: Any) -> bool:
    if not (isinstance(value, list) and 1 <= len(value) <= 2 and all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)):
        return False
    return math.prod(value) <= MAX_ARRAY_ELEMENTS


def _grid(value: Any) -> bool:
    """Rows of numbers, at least one row and one column, all rows equally long."""
    return (isinstance(value, list) and len(value) > 0 and all(
        isinstance(row, list) and len(row) == len(value[0]) > 0
        and all(is_number(v) for v in row) for row in value))


HEX = Check(_hex, "hexadecimal text")
NUMBERS = Check(lambda v: isinstance(v, list) and _numbers(v),
                "a list of numbers (or of lists of them)")
SHAPE = Check(_shape, f"one or two positive sizes (at most {MAX_ARRAY_ELEMENTS:,} elements)")
GRID = Check(_grid, "rows of numbers, all of one length")
NUMBER = Check(is_number, "a number")
