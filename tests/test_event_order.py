"""The event log puts causes before effects across frames: a worker's last events come
before the runtime's "exited" for it, even when the runtime reaped the worker before the
worker's events had been read from the table."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable

from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry.table import HELD
from ipcviz.tui.event_words import event_words as said

from .conftest import SCENARIOS, run_cli
from .waiting import wait_until
from .test_time_control import in_process  # noqa: F401 (a fixture)


def test_a_workers_last_words_come_before_its_exit(tmp_path, nothing_left_behind) -> None:
    """shm_signal_notify's writer writes, signals and exits within a millisecond or two:
    the runtime's "exited 0" was shown a frame before the writer's own "wrote board"
    (2 of 2 live runs, and in recordings). Every worker's events, in the order the frames
    gave them, end with its exit, and the write comes before the read it caused."""
    out = tmp_path / "run.jsonl"
    result = run_cli("record", str(SCENARIOS / "shm_signal_notify.yaml"), "-o", str(out),
                     "--duration", "3")
    assert result.returncode == 0, result.stderr
    events = [e for line in out.read_text().splitlines()
              for e in json.loads(line)["events"]]
    texts = [(e["worker"], e["text"]) for e in events]
    writer = [t for w, t in texts if w == "writer"]
    assert writer[-1].startswith("exited"), writer
    assert any(t.startswith("wrote board") for t in writer)
    first_write = texts.index(next(x for x in texts if x[0] == "writer"
                                   and x[1].startswith("wrote board")))
    woke = texts.index(next(x for x in texts if x[0] == "reader"
                            and x[1].startswith("woke")))
    assert first_write < woke
    times = [e["t"] for e in events]
    assert times == sorted(times)  # across frames too: nothing shown out of its time


def test_a_spawn_comes_before_the_childs_start(tmp_path, nothing_left_behind) -> None:
    """sigchld_zombies: "kid#2 started" was listed above "careful spawned kid#2" (the
    parent dated its event after fork() returned, the child its own as it began)."""
    out = tmp_path / "run.jsonl"
    result = run_cli("record", str(SCENARIOS / "sigchld_zombies.yaml"), "-o", str(out),
                     "--duration", "2")
    assert result.returncode == 0, result.stderr
    texts = [(e["worker"], e["text"]) for line in out.read_text().splitlines()
             for e in json.loads(line)["events"]]
    kids = [(i, t.split("(pid ")[1]) for i, (w, t) in enumerate(texts)
            if "#" in w and t.startswith("started")]
    assert len(kids) >= 4
    for i, pid in kids:  # by pid: a child just spawned may not be named yet ("row 5")
        spawned = [j for j, (_, t) in enumerate(texts)
                   if t.startswith("spawned ") and t.endswith(f"(pid {pid}")]
        assert spawned and spawned[0] < i, (pid, texts[max(0, i - 3):i + 1])


def test_race_by_hand_logs_each_load_and_store_in_the_order_they_ran(
        tmp_path, nothing_left_behind) -> None:
    """The interleaving that loses an update was on screen only as a counter of 3: each
    load and store of a stepped increment is now an event with the value it moved, in
    the schedule's order (a b a b a a b b)."""
    out = tmp_path / "run.jsonl"
    result = run_cli("record", str(SCENARIOS / "race_by_hand.yaml"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    ops = [(e["worker"], e["text"].split(" (")[0]) for line in out.read_text().splitlines()
           for e in json.loads(line)["events"]
           if e["text"].startswith(("load ", "store "))]
    assert ops == [("a", "load counter[0] → 0"), ("b", "load counter[0] → 0"),
                   ("a", "store counter[0] ← 1"), ("b", "store counter[0] ← 1"),
                   ("a", "load counter[0] → 1"), ("a", "store counter[0] ← 2"),
                   ("b", "load counter[0] → 2"), ("b", "store counter[0] ← 3")]


def test_an_exit_by_handler_is_not_called_steps_done(tmp_path, nothing_left_behind) -> None:
    """signals_handlers' polite loops forever and ends from its SIGTERM handler; the log
    said "steps done, exiting with status 0"."""
    out = tmp_path / "run.jsonl"
    result = run_cli("record", str(SCENARIOS / "signals_handlers.yaml"), "-o", str(out),
                     "--duration", "3")
    assert result.returncode == 0, result.stderr
    polite = [e["text"] for line in out.read_text().splitlines()
              for e in json.loads(line)["events"] if e["worker"] == "polite"]
    assert polite[-1] == "exited 0"
    assert "its exit handler ran: exiting with status 0" in polite
    assert "SIGTERM handled: exiting" in polite
    assert not any(t.startswith("steps done") for t in polite)


HANDLER_TEXT = b"""\
workers:
  w: {handlers: {SIGUSR1: log, SIGUSR2: log}, loop: true, steps: [{sleep: 0.05}]}
  s:
    steps:
      - sleep: 0.3
      - signal: {to: w, sig: SIGUSR2}
"""


def test_sent_is_listed_before_the_handled_it_caused(monkeypatch, in_process,  # noqa: F811
                                                     nothing_left_behind) -> None:
    """signals_handlers: in two of sixteen runs the log showed "SIGTERM handled" above
    "timeline: SIGTERM sent" (the runtime dated its line when the burst was done, and the
    worker's handler had run in between). Here kill() is slow to return, as on a loaded
    machine: the handler runs (and logs) before the runtime reads its clock again. The
    runtime's and a worker's "sent" are each listed before the "handled" they caused, in
    the order the frames gave them."""
    real_kill = os.kill

    def slow_kill(pid: int, sig: int) -> None:
        real_kill(pid, sig)
        if sig == signal.SIGUSR1:
            # a slow kill() is what is tested (no condition: the delay itself is the fault)
            time.sleep(0.1)  # the receiver's handler runs and logs meanwhile

    runtime = Runtime(load_text(HANDLER_TEXT, "order.yaml"))
    sampler = Sampler(runtime)
    events = []
    try:
        runtime.start()
        deadline = time.monotonic() + 10
        sent = 0
        while time.monotonic() < deadline:
            runtime.poll(0.01)
            events += sampler.sample(kernel=False).events
            texts = [said(e) for e in events]
            if sent < 3 and runtime.elapsed > 0.2 + 0.1 * sent:
                monkeypatch.setattr(os, "kill", slow_kill)
                try:
                    assert runtime.send_signal("w", signal.SIGUSR1, 1, "key") == 1
                finally:
                    monkeypatch.setattr(os, "kill", real_kill)
                sent += 1
            if texts.count("SIGUSR1 handled (log)") == 3 and "SIGUSR2 handled (log)" in texts:
                break
        events += sampler.sample(flush=True).events
    finally:
        sampler.close()
        runtime.shutdown()
    lines = [(e.worker, said(e)) for e in events]
    order = [text for worker, text in lines if worker == "w" and "SIGUSR1" in text]
    assert order == ["key: SIGUSR1 sent", "SIGUSR1 handled (log)"] * 3, lines
    sent_by_s = lines.index(("s", "sent SIGUSR2 ×1 to w"))
    assert sent_by_s < lines.index(("w", "SIGUSR2 handled (log)")), lines
    times = [e.t for e in events]
    assert times == sorted(times)


RESUME_TEXT = b"""\
channels:
  a: {kind: shared_array, shape: [4]}
workers:
  w: {loop: true, steps: [{set: {array: a, value: 1}}, {sleep: 0.01}]}
"""


def test_steps_resumed_is_listed_before_what_the_worker_did_next(
        monkeypatch, in_process, nothing_left_behind) -> None:  # noqa: F811
    """The runtime wrote the control cell, then read its clock for "steps resumed": a
    worker that went on at once logged its next writes with earlier times, listed above
    the line that let it go. Here the runtime is slow between the two (as on a loaded
    machine): the first thing listed after the resume is the runtime's line."""
    from ipcviz.protocol import PauseSteps, ResumeSteps

    runtime = Runtime(load_text(RESUME_TEXT, "resume.yaml"))
    sampler = Sampler(runtime)
    before, after = [], []

    def run_until(condition: Callable[[], object], into: list, message: str) -> None:
        """The runtime's loop and the sampler run until `condition` holds; the events
        the sampler read go `into` the list."""
        def moved() -> object:
            runtime.poll(0.01)
            into.extend(sampler.sample(kernel=False).events)
            return condition()

        wait_until(moved, 15, interval=0, message=message)

    def writes(events: list) -> int:
        return sum(e.worker == "w" and said(e).startswith("wrote a") for e in events)

    def held() -> bool:
        assert runtime.table is not None
        row = next(p.row for p in runtime.procs if p.name == "w")
        return bool(runtime.table.array[row, HELD] == 1)

    try:
        runtime.start()
        run_until(lambda: writes(before) >= 1, before, "the worker writing")
        runtime.execute(PauseSteps("w"))
        run_until(held, before, "the worker held at its boundary")
        before += sampler.sample(flush=True).events
        real = type(runtime.actions)._control_bit

        def slow_control_bit(self, proc, cell, bit, on):
            real(self, proc, cell, bit, on)
            # a slow runtime is what is tested (no condition: the delay itself is the fault)
            time.sleep(0.05)  # the worker goes on and logs meanwhile

        monkeypatch.setattr(type(runtime.actions), "_control_bit", slow_control_bit)
        runtime.execute(ResumeSteps("w"))
        monkeypatch.undo()
        run_until(lambda: writes(after) >= 3, after, "three writes after the resume")
        after += sampler.sample(flush=True).events
    finally:
        sampler.close()
        runtime.shutdown()
    assert ("w", "steps paused") in [(e.worker, said(e)) for e in before]
    mine = [(e.worker, said(e)) for e in after if e.worker == "w"]
    assert mine[0] == ("w", "steps resumed"), mine[:5]
    assert sum(t.startswith("wrote a") for _, t in mine) >= 3
