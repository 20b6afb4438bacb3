"""The UI <-> runtime commands: one typed value per command, one wire form both sides use,
and the scenario's timeline and triggers read as the same values."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from ipcviz.protocol import (
    Cont,
    FireTrigger,
    Kill,
    PauseSteps,
    ProtocolError,
    Quit,
    Restart,
    ResumeSteps,
    SendSignal,
    SetLock,
    Stop,
    decode,
    encode,
    from_scenario,
)
from ipcviz.scenario.load import load_text

COMMANDS = [SendSignal("a", signal.SIGUSR1), SendSignal("g", 34, 50, 0.25), Kill("a"),
            Stop("a"), Cont("a"), Restart("a"), PauseSteps("a"), ResumeSteps("a"),
            SetLock("a", False), SetLock("a", True), FireTrigger("x"), Quit()]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_every_command_survives_the_wire(command) -> None:
    assert decode(json.loads(json.dumps(encode(command)))) == command


def test_the_wire_form_is_the_one_the_runtime_always_read() -> None:
    assert encode(SendSignal("a", 10)) == {
        "cmd": "action", "action": "signal", "arg": {"to": "a", "sig": 10, "count": 1}}
    assert encode(PauseSteps("w")) == {"cmd": "action", "action": "pause_steps", "arg": "w"}
    assert encode(SetLock("w", True)) == {
        "cmd": "action", "action": "lock", "arg": {"worker": "w", "enabled": True}}
    assert encode(FireTrigger("k")) == {"cmd": "trigger", "key": "k"}
    assert encode(Quit()) == {"cmd": "quit"}


@pytest.mark.parametrize("message", [
    [], {"cmd": "dance"}, {"cmd": "action", "action": "explode", "arg": "a"},
    {"cmd": "action", "action": "kill", "arg": ""}, {"cmd": "action", "action": "kill"},
    {"cmd": "action", "action": "signal", "arg": {"to": "a", "sig": 99}},
    {"cmd": "action", "action": "signal", "arg": {"to": "a", "sig": 10, "count": 0}},
    {"cmd": "action", "action": "signal", "arg": {"to": "a", "sig": 10, "count": True}},
    {"cmd": "action", "action": "signal", "arg": {"to": "a", "sig": 10, "interval": -1}},
    {"cmd": "action", "action": "signal", "arg": "a"},
    {"cmd": "action", "action": "lock", "arg": {"worker": "a", "enabled": "yes"}},
    {"cmd": "trigger", "key": 3},
])
def test_what_is_not_a_command_is_refused(message) -> None:
    with pytest.raises(ProtocolError):
        decode(message)


def test_timeline_and_triggers_become_the_same_commands() -> None:
    model = load_text(b"""
workers:
  w: {handlers: {SIGUSR1: count}}
timeline:
  - {at: 0.1, signal: {to: w, sig: SIGUSR1, count: 3, interval: 0.5}}
  - {at: 0.2, stop: w}
  - {at: 0.3, lock: {worker: w, enabled: false}}
  - {at: 0.4, resume_steps: w}
triggers:
  - {key: r, restart: w}
""", "t.yaml").model
    assert [from_scenario(e) for e in model.timeline] == [
        SendSignal("w", signal.SIGUSR1, 3, 0.5), Stop("w"), SetLock("w", False),
        ResumeSteps("w")]
    assert [from_scenario(t) for t in model.triggers] == [Restart("w")]


def test_the_runtime_ignores_a_bad_command_and_obeys_the_next(tmp_path,
                                                             nothing_left_behind) -> None:
    """A line that is not a command is reported on stderr and skipped; the runtime keeps
    running, executes the next command and ends cleanly on quit."""
    import os
    import subprocess

    from .conftest import ROOT

    path = tmp_path / "s.yaml"
    path.write_text("workers:\n  w: {handlers: {SIGUSR1: count}, steps: [{sleep: 30}]}\n")
    bad = {"cmd": "action", "action": "signal", "arg": {"to": "w", "sig": 999}}
    good = encode(SendSignal("w", signal.SIGUSR1))
    env = {k: v for k, v in os.environ.items() if k != "IPCVIZ_PARENT_PID"}
    from ipcviz.scenario.opening import open_scenario
    from ipcviz.tui.source import runtime_process

    proc = runtime_process(open_scenario(str(path)), cwd=ROOT, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    received = 0
    try:
        proc.stdin.write(b"not json\n" + json.dumps(bad).encode() + b"\n"
                         + json.dumps(good).encode() + b"\n")
        proc.stdin.flush()
        for line in proc.stdout:
            message = json.loads(line)
            if message["type"] == "snapshot":
                received = message["snapshot"]["workers"][0]["signals_received"].get(
                    "SIGUSR1", 0)
                if received:
                    break
        proc.stdin.write(json.dumps(encode(Quit())).encode() + b"\n")
        proc.stdin.flush()
        rest = [json.loads(line) for line in proc.stdout]
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert received == 1
    assert rest[-1] == {"type": "bye", "leaks": {"processes": 0, "ipc_objects": 0,
                                                  "details": []}, "schedule": [],
                        "ran_freely": False}
    assert proc.stderr.read().decode().count("bad command ignored") == 2


def test_snapshot_waiting_and_holders_are_data_and_old_recordings_still_read() -> None:
    from ipcviz.telemetry.snapshot import ChannelView, Holder, Snapshot, Waiting, WorkerView
    from ipcviz.telemetry.summary import channel_entry

    snap = Snapshot("s", 1.0, True,
                    workers=(WorkerView("a", "a", 1, "blocked", Waiting("acquire", "lock_b")),),
                    channels=(ChannelView.of("lock_b", "semaphore", {
                        "value": 0, "holders": [Holder("b", False), Holder("c")],
                        "waiters": ["a"]}),))
    again = Snapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert again == snap
    assert again.workers[0].waiting == ("acquire", "lock_b")
    assert again.workers[0].blocked_on == "acquire lock_b"  # the summary's words
    assert channel_entry(again.channels[0]) == {
        "kind": "semaphore", "value": 0, "holder": "b (dead)", "holders": ["b (dead)", "c"],
        "waiters": ["a"]}
    old = {"scenario": "s", "elapsed": 1.0, "running": True,
           "workers": [{"name": "a", "group": "a", "pid": 1, "state": "blocked",
                        "blocked_on": "acquire lock_b"}],
           "channels": [{"name": "lock_b", "kind": "semaphore", "data": {
               "value": 0, "holder": "b (dead)", "holders": ["b (dead)", "c"],
               "waiters": ["a"]}}]}
    before = Snapshot.from_dict(old)
    assert before.workers == snap.workers
    assert before.channels[0].data["holders"] == [Holder("b", False), Holder("c", True)]


def test_typed_channel_views_read_the_data_the_sampler_makes() -> None:
    from ipcviz.telemetry.snapshot import ChannelView, Holder
    from ipcviz.channels.state import PipeState
    from ipcviz.telemetry.views import QueueView, SemaphoreView

    sem = SemaphoreView.of(ChannelView.of("l", "semaphore", {
        "value": 0, "holders": [Holder("b", False)], "waiters": ["a"]}))
    assert sem == SemaphoreView(0, (Holder("b", False),), ("a",))
    queue = QueueView.of(ChannelView.of("q", "mqueue", {"depth": 3, "capacity": 0,
                                                      "messages_received": 7}))
    assert (queue.depth, queue.capacity, queue.messages_received, queue.messages_sent) == (
        3, 0, 7, 0)
    pipe = ChannelView.of("p", "pipe", {"bytes_written": 10, "buffered": 4,
                                        "capacity": 65536}).state
    assert isinstance(pipe, PipeState)
    assert (pipe.bytes_written, pipe.read, pipe.buffered, pipe.capacity) == (
        10, 0, 4, 65536)


def test_time_commands_round_trip_and_bad_speeds_are_refused() -> None:
    import pytest

    from ipcviz.protocol import (
        PauseRun, ProtocolError, ResumeRun, SetSpeed, StepAll, StepWorker, decode, encode)

    for command in (PauseRun(), ResumeRun(), StepAll(), StepWorker("a"), SetSpeed(1 / 64)):
        assert decode(encode(command)) == command
    assert encode(SetSpeed(0.25)) == {"cmd": "time", "op": "speed", "factor": 0.25}
    for bad in (0.3, 0, 2, True, "0.5", None):
        with pytest.raises(ProtocolError):
            decode({"cmd": "time", "op": "speed", "factor": bad})
    for bad in ({"cmd": "time", "op": "rewind"}, {"cmd": "time", "op": "step"}):
        with pytest.raises(ProtocolError):
            decode(bad)


def test_snapshot_carries_mode_speed_and_next_op_and_old_frames_still_load() -> None:
    import json

    from ipcviz.telemetry.snapshot import NextOp, Snapshot, WorkerView

    snap = Snapshot("s", 1.0, True, mode="step", speed=0.25, run_time=0.4, workers=(
        WorkerView("a", "a", 1, "running", next_op=NextOp("load", "c", "load c[0]")),
        WorkerView("b", "b", 2, "running")))
    again = Snapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert again == snap
    assert again.workers[0].next_op == NextOp("load", "c", "load c[0]")
    old = Snapshot.from_dict({"scenario": "s", "elapsed": 1.0, "running": True,
                              "workers": [{"name": "a", "group": "a", "pid": 1,
                                           "state": "running"}]})
    assert (old.mode, old.speed, old.run_time, old.workers[0].next_op) == ("run", 1.0, None,
                                                                          None)


def test_runtime_messages_round_trip_in_their_wire_form() -> None:
    from ipcviz.protocol import Bye, Frame, Refused, decode_message, encode_message
    messages = [Frame({"scenario": "s", "elapsed": 1.0, "running": True}),
                Refused(["s.yaml:3: bad"]),
                Bye({"processes": 0}, ["a: load c[0]"], True)]
    wire = [encode_message(m) for m in messages]
    assert wire[0] == {"type": "snapshot", "snapshot": messages[0].snapshot}
    assert wire[1] == {"type": "error", "lines": ["s.yaml:3: bad"]}
    assert wire[2] == {"type": "bye", "leaks": {"processes": 0}, "schedule": ["a: load c[0]"],
                       "ran_freely": True}
    assert [decode_message(json.loads(json.dumps(w))) for w in wire] == messages


def test_a_runtime_message_that_is_none_is_refused() -> None:
    from ipcviz.protocol import decode_message
    for bad in ([], {"type": "nope"}, {"type": "snapshot", "snapshot": 3},
                {"type": "error", "lines": "x"}):
        with pytest.raises(ProtocolError):
            decode_message(bad)


def test_a_frame_line_is_what_json_would_write_and_takes_the_fast_path(monkeypatch) -> None:
    """Frames go out through orjson (ten a second, 67 KB at 64 workers): the line reads
    back as the same data json writes, NamedTuples (`waiting`, `next_op`) and numpy
    numbers included, without falling back to json (which is six times slower)."""
    import json

    import numpy as np

    from ipcviz.protocol import Frame, encode_message, message_line, read_message_line
    from ipcviz.tui.source import read_recording

    snaps = read_recording(str(Path(__file__).parent / "recordings" / "speed_race.jsonl"))
    blocked = [s for s in snaps if any(w.waiting is not None for w in s.workers)]
    assert blocked, "the recording has a frame with a blocked worker"
    data = blocked[-1].to_dict()
    data["extra"] = {"np": np.int64(7), "arr": np.arange(3), 5: "int key"}
    frame = Frame(data)

    def no_fallback(*args, **kwargs):
        raise AssertionError("message_line fell back to json")

    monkeypatch.setattr("ipcviz.protocol.json.dumps", no_fallback)
    line = message_line(frame)
    monkeypatch.undo()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    expected = json.loads(json.dumps(encode_message(frame), default=lambda v: v.tolist(),
                                     separators=(",", ":")))
    assert read_message_line(line).snapshot == expected["snapshot"]
    assert read_message_line(line).snapshot["extra"] == {"np": 7, "arr": [0, 1, 2],
                                                          "5": "int key"}
    big = Frame({"sum": 2 ** 70 + 1})  # beyond orjson's 64 bits: json writes and reads it
    back = read_message_line(message_line(big)).snapshot["sum"]
    assert back == 2 ** 70 + 1 and type(back) is int
