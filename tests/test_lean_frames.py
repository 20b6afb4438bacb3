"""A frame's workers travel without the fields equal to their defaults (most of a frame of
many workers was empty maps, zeros and nulls), and read back as the very same Snapshot:
a field equal to its default in value but not in type (0 for None, {} for None) still
travels."""

from __future__ import annotations

from dataclasses import fields

import orjson

from ipcviz.protocol import Frame, message_line, read_message_line
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry.snapshot import Snapshot, WorkerView
from tests.waiting import wait_until

SCENARIO = b"""\
channels:
  p: {kind: pipe}
workers:
  writer: {steps: [{write: {to: p, size: 8}}, {sleep: 60}]}
  reader: {handlers: {SIGUSR1: count}, steps: [{read: {from: p, bytes: 8}}, {sleep: 60}]}
  quiet: {steps: [{sleep: 60}]}
"""


def test_a_live_frame_leaves_defaults_out_and_reads_back_the_same(nothing_left_behind
                                                                  ) -> None:
    runtime = Runtime(load_text(SCENARIO, "lean.yaml"))
    sampler = Sampler(runtime)
    try:
        runtime.start()

        def settled():
            snap = sampler.sample()
            done = snap.channel("p").data.get("bytes_read") == 8
            return snap if done and all(w.step_text == "sleep" for w in snap.workers) else None

        snap = wait_until(settled, interval=0.1, message="the pipe read, every worker asleep")
    finally:
        sampler.close()
        runtime.shutdown()
    line = message_line(Frame(snap.to_dict()))
    sent = orjson.loads(line)["snapshot"]["workers"]
    defaults = {f.name: (f.default_factory() if callable(f.default_factory) else f.default)
                for f in fields(WorkerView) if f.name not in {"name", "group", "pid", "state"}}
    for worker in sent:
        assert {"name", "group", "pid", "state"} <= worker.keys()
        left_in = [k for k, v in worker.items()
                   if k in defaults and v == defaults[k] and type(v) is type(defaults[k])]
        assert left_in == [], worker["name"]
    quiet = next(w for w in sent if w["name"] == "quiet")
    # asleep in its first step: its step's words, its masks and the signals known merged
    # ({}: none), and its CPU if it used some since the last tick
    assert set(quiet) - {"cpu"} == {"name", "group", "pid", "state", "step_text", "masks",
                                    "signals_merged"}
    received = read_message_line(line)
    assert isinstance(received, Frame)
    assert Snapshot.from_dict(received.snapshot) == snap


def test_a_value_equal_to_a_default_in_another_type_still_travels() -> None:
    worker = WorkerView(name="w", group="w", pid=None, state="exited", exit=0,
                        signals_merged={}, cpu=0.0, paused=False, step_text="",
                        masks={"pending": []})
    snap = Snapshot(scenario="s", elapsed=1.0, running=False, workers=(worker,))
    sent = snap.to_dict()["workers"][0]
    assert sent == {"name": "w", "group": "w", "pid": None, "state": "exited", "exit": 0,
                    "masks": {"pending": []}, "signals_merged": {}}
    assert Snapshot.from_dict(orjson.loads(orjson.dumps(snap.to_dict()))) == snap
