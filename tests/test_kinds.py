"""The table of kinds (scenario/kinds.py) is the one place a kind is declared, and the
plan (scenario/plan.py) is what the loader works out from it."""

from __future__ import annotations

import signal

import pytest

from ipcviz.channels.base import Channel
from ipcviz.scenario import schema
from ipcviz.scenario.json_schema import generate
from ipcviz.scenario.kinds import CHANNELS, STEPS, channel_class
from ipcviz.scenario.load import ScenarioError, load_text
from ipcviz.scenario.plan import PARENT_TARGET
from ipcviz.worker.steps import HANDLERS


def test_every_step_kind_has_its_field_its_handler_and_its_schema() -> None:
    assert list(schema.Step.model_fields) == list(STEPS)
    assert schema.STEP_NAMES == tuple(STEPS)
    assert set(HANDLERS) == set(STEPS)
    assert set(generate()["$defs"]["Step"]["properties"]) == set(STEPS)
    for kind, step in STEPS.items():
        for use in step.uses:
            assert use.checked_as in (None, "") or use.checked_as in STEPS, kind
        assert set(step.channels) <= set(CHANNELS), kind


@pytest.mark.parametrize("kind", list(CHANNELS))
def test_every_channel_kind_has_its_model_and_its_class(kind: str) -> None:
    entry = CHANNELS[kind]
    assert entry.options.model_fields["kind"].annotation.__args__ == (kind,)
    cls = channel_class(kind)
    assert issubclass(cls, Channel) and cls.kind == kind
    assert entry.family in ("stream", "queue", "memory", "lock", "rpc")
    assert entry.counters in ("bytes", "messages", "array", "lock", "rpc")
    hinted = entry.hint.split("/")
    assert all(kind in STEPS[step].channels for step in hinted)
    assert kind in schema.CHANNEL_KINDS


PLAN_SCENARIO = b"""
channels:
  p: {kind: pipe}
  q: {kind: mqueue}
  acks: {kind: queue}
  arr: {kind: shared_array, shape: [2]}
  lock: {kind: semaphore}
  s: {kind: socket, server: srv}
workers:
  w:
    count: 2
    steps:
      - write: {to: p, data: x}
      - send: {to: q, data: m, ack: acks, retries: 2}
      - repeat: {times: 2, steps: [{increment: {array: arr, lock: lock}}, {spawn: helper}]}
      - signal: {to: r, sig: SIGUSR1}
      - signal: {to: parent, sig: SIGUSR2}
      - signal: {to: w, sig: SIGUSR1}
  r:
    handlers: {SIGUSR1: count}
    steps:
      - read: {from: p}
      - receive: {from: q, ack: acks}
      - set: {array: arr, value: 1}
  srv:
    steps: [{echo: {on: s}}, {spawn: kid}]
  kid:
    spawned: true
    steps: [{write: {to: s, data: y}}]
  helper:
    spawned: true
    steps: [{read: {from: p}}]
"""


def test_the_plan_is_worked_out_at_load() -> None:
    plan = load_text(PLAN_SCENARIO, "plan.yaml").plan
    f = frozenset
    assert plan.roles == {
        # its own steps, plus what the helper it spawns needs (it inherits the ends)
        "w": {"p": f({"write", "read"}), "q": f({"send"}), "acks": f({"receive"}),
              "arr": f({"array"}), "lock": f({"sem"})},
        "r": {"p": f({"read"}), "q": f({"receive"}), "acks": f({"send"}), "arr": f({"array"})},
        # the socket's server, and the child it spawns, serve
        "srv": {"s": f({"server"})},
        "kid": {"s": f({"server"})},
        "helper": {"p": f({"read"})},
    }
    assert plan.spawns == {"w": f({"helper"}), "r": f(), "srv": f({"kid"}), "kid": f(),
                           "helper": f()}
    assert plan.retried == f({"q"})
    assert plan.arrays_set == f({"arr"})
    assert plan.target_rows == {"w": (0, 1), "w.0": (0,), "w.1": (1,), "r": (2,), "srv": (3,)}
    usr1, usr2 = int(signal.SIGUSR1), int(signal.SIGUSR2)
    assert plan.signal_slots["w"] == {(2, usr1): 0, (PARENT_TARGET, usr2): 1, (0, usr1): 2,
                                      (1, usr1): 3}
    assert plan.signal_slots["r"] == {}
    assert plan.sent_slots == 4


@pytest.mark.parametrize("key", ["pageup", "pagedown", "home", "end",
                                 # the time control keys (space, n, N, -, +, ctrl+r)
                                 "space", "n", "N", "'-'", "'+'", "minus", "plus", "ctrl+r"])
def test_a_trigger_cannot_take_a_scrolling_key(key: str) -> None:
    text = f"workers:\n  a: {{}}\ntriggers:\n  - {{key: {key}, kill: a}}\n".encode()
    with pytest.raises(ScenarioError) as err:
        load_text(text, "t.yaml")
    assert err.value.lines[0].startswith(
        f"t.yaml:4:11: triggers[0].key: key '{key.strip(chr(39))}' is built in")


def test_a_step_on_the_wrong_kind_names_the_kinds_from_the_table() -> None:
    text = (b"channels:\n  a: {kind: shared_array}\n  l: {kind: pipe}\nworkers:\n  w:\n"
            b"    steps:\n      - write: {to: a, data: x}\n"
            b"      - increment: {array: a, lock: l}\n")
    with pytest.raises(ScenarioError) as err:
        load_text(text, "k.yaml")
    assert err.value.lines == [
        "k.yaml:7:21: workers.w.steps[0].write.to: 'write' does not work on shared_array 'a' "
        "(use increment/set; 'write' is for pipe, fifo, socket, mmap, file, page, shm)",
        "k.yaml:8:37: workers.w.steps[1].increment.lock: 'acquire' does not work on pipe 'l' "
        "(use write/read; 'acquire' is for semaphore)",
    ]
