"""A key's answer is not held back by the clock's tick: when the runtime is busy (each
frame takes longer than the frame interval, as at 500 workers), a command that arrives
is answered by a frame read from the table and the channels, and the tick, with its
reading of every process's /proc, follows it at once. Before, the tick went first and
carried the command: the key waited for the whole reading.

Real runtime, real worker, real command over a real pipe (the way the UI sends it)."""

from __future__ import annotations

import json
import os
import time

from ipcviz.protocol import PauseRun, decode, encode
from ipcviz.runtime.session import Session
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry.snapshot import Snapshot

#: long enough that a slow machine never makes a tick a whole interval late
INTERVAL = 0.5


def test_a_command_is_answered_before_a_tick_that_is_due(monkeypatch, nothing_left_behind
                                                         ) -> None:
    runtime = Runtime(load_text(b"workers:\n  w: {loop: true, steps: [{sleep: 0.05}]}\n",
                                "answer.yaml"))
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    frames: list[tuple[bool, str]] = []  # (a tick, the run's mode) of each frame

    def commands() -> bool:
        for line in os.read(read_end, 4096).splitlines():
            runtime.execute(decode(json.loads(line)))
        return True

    def sink(snap: Snapshot) -> None:
        if len(frames) == 2:  # the key, pressed while the runtime reads a frame
            os.write(write_end, json.dumps(encode(PauseRun())).encode() + b"\n")
        if len(frames) == 5:
            session.input_open = False  # the UI has gone: the run ends

    session = Session(runtime, sink, early_frames=True, frame_interval=INTERVAL,
                      input_fd=read_end, on_input=commands)
    real = session.sampler.sample

    def busy(kernel: bool = True, flush: bool = False) -> Snapshot:
        snap = real(kernel=kernel, flush=flush)
        frames.append((kernel, snap.mode))
        time.sleep(INTERVAL * 1.1)  # a frame that takes longer than the interval
        return snap

    monkeypatch.setattr(session.sampler, "sample", busy)
    try:
        runtime.start()
        session.run()
    finally:
        session.sampler.close()
        runtime.shutdown()
        os.close(read_end)
        os.close(write_end)
    # two ticks; the command's answer, read without /proc; the tick it went before
    assert frames[:4] == [(True, "run"), (True, "run"), (False, "pause"), (True, "pause")]
