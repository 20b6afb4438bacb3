"""A channel kind's keys are listed once, as its typed state's fields: the JSON types a
replay keeps and the keys an `expect:` may check are read from the state's annotations
(channels/state_keys.py), with no table of keys per kind anywhere else."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import Annotated

from ipcviz.channels.state import COST_KEYS, RACE_KEYS, ChannelState
from ipcviz.channels.state_keys import checked_keys, data_types
from ipcviz.channels.wire import HEX, NUMBER, Checked, Either, Wire
from ipcviz.scenario.kinds import CHANNELS, state_class
from ipcviz.scenario.refs import CHANNEL_KEYS, CHANNEL_KIND_KEYS
from ipcviz.telemetry.recording_file import frame_problem, parse_recording
from ipcviz.telemetry.snapshot import ChannelView, Snapshot
from ipcviz.telemetry.wire_types import CHANNEL_DATA


@dataclass(frozen=True, kw_only=True)
class TickState(ChannelState):
    """A state no kind has: a counter a check may name, hex text, a rate, a note."""

    ticks: Annotated[int | None, Checked()] = None
    fifo_only: Annotated[int | None, Checked("fifo")] = None
    last: Annotated[str | None, Wire(HEX)] = None
    rate: float | None = None
    note: str | None = None
    gone: int | None = None

    KEPT_WITH: typing.ClassVar[dict[str, str]] = {"gone": "ticks"}


def _keys(state: type[ChannelState]) -> set[str]:
    return {f.name.removeprefix("recorded_") for f in dataclasses.fields(state)} - {
        "race", "cost"}


def test_a_states_annotations_give_its_keys_and_their_types() -> None:
    """Checked fields are the keys a check may name (for the kinds it names, if any);
    each key's JSON type is its field's, without None unless kept beside another, any
    number for a float, the Wire type where one is given; the race and the cost last."""
    assert checked_keys(TickState, "tick") == {"ticks"}
    assert checked_keys(TickState, "fifo") == {"ticks", "fifo_only"}
    types = data_types(TickState)
    assert list(types)[:6] == ["ticks", "fifo_only", "last", "rate", "note", "gone"]
    assert (types["ticks"], types["last"], types["rate"], types["note"]) == (
        int, HEX, NUMBER, str)
    assert isinstance(types["gone"], Either) and types["gone"].options == (int, type(None))
    assert set(types) == {"ticks", "fifo_only", "last", "rate", "note", "gone",
                          *RACE_KEYS, *COST_KEYS}


def test_every_bundled_kind_has_its_keys_from_its_state_alone() -> None:
    """No bundled row lists keys or types: a replay keeps exactly its state's fields (and
    the race's and cost's), and every key a check may name is one of them."""
    bundled = [kind for kind, row in CHANNELS.items() if row.module.startswith("ipcviz.")]
    assert len(bundled) == 14
    for kind in bundled:
        row, state = CHANNELS[kind], state_class(kind)
        assert (row.keys, row.data) == (None, None), kind
        assert set(CHANNEL_DATA[kind]) == _keys(state) | set(RACE_KEYS) | set(COST_KEYS), kind
        assert CHANNEL_KIND_KEYS[kind] == checked_keys(state, kind), kind
        assert CHANNEL_KIND_KEYS[kind] <= _keys(state) | {"holder"}, kind
        assert CHANNEL_KIND_KEYS[kind] <= CHANNEL_KEYS, kind


def test_a_field_checked_for_some_kinds_names_kinds_of_its_state() -> None:
    """`Checked("fifo")` names kinds that have the state (a misspelt kind would make the
    key silently uncheckable)."""
    named = set()
    for state in {state_class(kind) for kind in CHANNELS}:
        for name, hint in typing.get_type_hints(state, include_extras=True).items():
            for mark in getattr(hint, "__metadata__", ()):
                if isinstance(mark, Checked):
                    named |= {(name, kind) for kind in mark.kinds}
    for name, kind in named:
        assert kind in CHANNELS and name in _keys(state_class(kind)), (name, kind)
    assert len(named) == 14


def test_a_semaphore_whose_object_is_gone_replays() -> None:
    """Its value is null beside its initial value once the kernel object is gone: the
    frame it was recorded in reads back, with the value still unknown."""
    frame = Snapshot("s", 1.0, True, channels=(
        ChannelView.of("sem", "semaphore", {"value": None, "initial": 1, "held": 0}),))
    line = json.dumps(frame.to_dict())
    assert frame_problem(json.loads(line)) is None
    (replayed,) = parse_recording(line.encode(), "r.jsonl")
    assert replayed.channels[0].data == {"value": None, "initial": 1, "held": 0}


TEXT_QUESTION = """\
version: 1
name: Text in shared memory
duration: 5
channels:
  obj: {kind: shm, size: 64}
workers:
  w:
    steps:
      - write: {to: obj, data: hello}
questions:
  - ask: What does obj hold?
    choices: [hello, world]
    answer: {channel: obj, contents: null}
  - ask: Is its name still in /dev/shm?
    choices: ["True", "False"]
    answer: {channel: obj, in_dev_shm: null}
"""


def test_a_question_on_a_key_holding_text_takes_text_choices(nothing_left_behind,
                                                            scenario_file) -> None:
    """Whether a key holds a number is read from its state's type: a shm object's
    contents are text and `in_dev_shm` True or False, so choices in words grade a real
    run (they were refused as "the true value is a number")."""
    from .conftest import run_cli

    path = str(scenario_file(TEXT_QUESTION))
    assert run_cli("validate", path).returncode == 0
    result = run_cli("quiz", path, "--headless", "--answers", "hello,True")
    assert (result.returncode, result.stdout.count("  right")) == (0, 2), result.stdout
    assert "2 of 2 right" in result.stdout
