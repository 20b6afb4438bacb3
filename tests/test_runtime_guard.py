"""The runtime protects itself: every signal a scenario may send to `parent` is counted and
survived, a live process cap holds (spawns and restarts beyond it fail cleanly), and a
stopped headless run still ends. Real processes, exact counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ipcviz.host import limits
from ipcviz.host.process import become_subreaper
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.signals import PARENT_SIGNALS, is_realtime, signal_name
from tests.conftest import ROOT, registered_pids, run_scenario
from tests.waiting import wait_until
from ipcviz.telemetry.ring_events import EventCode as EV

#: how many of each signal the worker sends to `parent` (real-time ones queue, so all count)
RT_COUNT = 40


def parent_signals_scenario() -> str:
    """A worker that sends every signal `parent` may receive, spaced so that none of the
    standard ones coalesces with another of its kind."""
    steps = []
    for num in sorted(PARENT_SIGNALS):
        count = RT_COUNT if is_realtime(num) else 1
        steps.append(f"      - signal: {{to: parent, sig: {signal_name(num)}, count: {count}}}")
        steps.append("      - sleep: 0.03")
    return ("name: every parent signal\nduration: 30\nworkers:\n  sender:\n    steps:\n"
            + "\n".join(steps) + "\n      - sleep: 0.3\n")


def test_every_allowed_parent_signal_is_counted_and_survived(scenario_file,
                                                             nothing_left_behind) -> None:
    path = scenario_file(parent_signals_scenario())
    summary = run_scenario(path, timeout=120)
    expected = {signal_name(n): (RT_COUNT if is_realtime(n) else 1)
                for n in sorted(PARENT_SIGNALS)}
    assert summary["workers"]["sender"]["signals_sent"] == expected
    assert summary["workers"]["sender"]["exit"] == 0
    # the runtime received exactly what was sent: SIGCHLD from a worker's kill() counts,
    # the kernel's SIGCHLD for the worker's own exit does not
    assert summary["parent"]["signals_received"] == expected
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_a_stopped_headless_run_still_ends_with_its_summary(scenario_file,
                                                            nothing_left_behind) -> None:
    """SIGSTOP reaching the headless process from outside: once continued it finishes the
    run it overslept (no hang), prints its JSON and leaves nothing."""
    path = scenario_file("duration: 1\nworkers:\n  w: {loop: true, steps: [{sleep: 0.01}]}\n")
    proc = subprocess.Popen([sys.executable, "-m", "ipcviz", "run", str(path), "--headless",
                             "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(registered_pids()) >= 1, message="the worker started")
        proc.send_signal(signal.SIGSTOP)
        time.sleep(1.5)  # by nature: the clock must pass the run's end while it is stopped
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["workers"]["w"]["state"] != "exited" or summary["workers"]["w"]["exit"] == 0
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


CAP_SCENARIO = b"""
workers:
  spawner:
    count: 2
    steps:
      - repeat: {times: 5, steps: [{spawn: kid}]}
      - sleep: 60
  kid:
    spawned: true
    steps:
      - sleep: 60
"""


@pytest.fixture
def runtime_in_process(monkeypatch):
    """A Runtime inside the test, with a process cap small enough to reach for real."""
    made: list[Runtime] = []

    def make(text: bytes, cap: int) -> Runtime:
        monkeypatch.setattr(limits, "MAX_PROCESSES", cap)
        runtime = Runtime(load_text(text, "cap.yaml"))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.shutdown()
    become_subreaper(False)  # orphans of later tests must not be re-parented to pytest


def driven_until(runtime: Runtime, predicate, timeout: float = 30.0) -> None:
    """Run the runtime's loop (in this process) until `predicate` holds."""
    def reached() -> bool:
        if predicate():
            return True
        runtime.poll(0.01)
        return False

    wait_until(reached, timeout, interval=0)


def live_descendants() -> int:
    import psutil

    return sum(1 for p in psutil.Process().children(recursive=True)
               if p.status() != psutil.STATUS_ZOMBIE)


def test_spawns_and_restarts_beyond_the_process_cap_are_refused_cleanly(
        nothing_left_behind, runtime_in_process) -> None:
    from ipcviz.runtime.sampler import Sampler

    cap = 6
    refused = f"spawn refused: process cap {cap} reached"
    runtime = runtime_in_process(CAP_SCENARIO, cap)
    runtime.start()
    sampler = Sampler(runtime)
    events: list = []

    def refusals() -> list:
        events.extend(sampler.sample().events)
        return [e for e in events if e.event is not None
                and (e.event.code, e.event.count) == (EV.PROCESS_CAP, cap)]

    # 2 spawners try 5 spawns each: 12 processes wanted, 6 allowed at a time
    driven_until(runtime, lambda: len(refusals()) == 10 - (cap - 2))
    assert live_descendants() == cap
    assert len(runtime.spawned()) == cap - 2
    assert all(p.alive for p in runtime.procs)  # a refused spawn is not a crash
    assert runtime.slots is not None and runtime.slots.free() == 0

    # a restart with no slot left fails with the same event, and the worker stays down
    second = runtime.procs[1]
    second.ident.signal(signal.SIGKILL)
    driven_until(runtime, lambda: not second.alive and all(
        k.exit is not None for k in runtime.spawned() if k.parent == second.name))
    while runtime.slots.take():  # the slots its family gave back are taken elsewhere
        pass
    runtime.restart(second)
    assert not second.alive
    assert refused in [e.text for e in runtime.take_events() if e.worker == second.name]
    assert live_descendants() <= cap
    assert limits.cap_refused(512) == "spawn refused: process cap 512 reached"


BURSTS = b"""
name: two huge bursts
duration: 1.5
workers:
  w: {count: 16, handlers: {SIGRTMIN: count}}
timeline:
  - {at: 0.2, signal: {to: w, sig: SIGRTMIN, count: 100000}}
  - {at: 0.2, signal: {to: w, sig: SIGRTMIN, count: 100000}}
"""


def test_a_huge_burst_is_sent_across_ticks_and_reported_as_really_sent(
        nothing_left_behind) -> None:
    """2 x 100,000 real-time signals to 16 workers cannot all go out in 1.3 s: the loop keeps
    sampling while it sends (frames show the burst part-way), the end of the run cuts it,
    and what is reported sent is exactly what each worker received."""
    from ipcviz.runtime.headless import run_headless

    frames = []
    try:
        result = run_headless(load_text(BURSTS, "bursts.yaml"), on_snapshot=frames.append)
    finally:
        become_subreaper(False)
    wanted = 2 * 100000

    def sent(snap) -> int:
        return sum(w.signals_sent_to.get("SIGRTMIN", 0) for w in snap.workers)

    assert any(0 < sent(f) < 16 * wanted for f in frames[:-1])  # sampled mid-burst
    assert len({sent(f) for f in frames[:-1] if sent(f)}) >= 2  # and it kept going
    workers = result.summary["workers"]
    for name, w in workers.items():
        got = w["signals_received"].get("SIGRTMIN", 0)
        assert w["signals_sent_to"].get("SIGRTMIN", 0) == got, name
    assert sum(w["signals_sent_to"].get("SIGRTMIN", 0) for w in workers.values()) < 16 * wanted
    texts = [e.text for f in frames for e in f.events]
    assert any("not sent: the run ended" in t for t in texts), texts[-5:]
    # a burst longer than a slice says so when it begins (its first signals are handled
    # long before it ends), and every line is listed in the order of its time
    lines = [(e.worker, e.text) for f in frames for e in f.events]
    for name in workers:
        said = [t for w, t in lines if w == name and t.startswith("timeline: ")]
        begun = [i for i, t in enumerate(said) if t == "timeline: sending SIGRTMIN ×100000"]
        ended = [i for i, t in enumerate(said) if "not sent: the run ended" in t]
        assert begun and len(begun) == len(ended), said
        assert all(b < e for b, e in zip(begun, ended)), said
    times = [e.t for f in frames for e in f.events]
    assert times == sorted(times)
    assert result.summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_a_crowd_of_workers_runs_at_nice_19_a_lesson_at_10(nothing_left_behind,
                                                          monkeypatch) -> None:
    """Beyond CROWD workers the runtime's share at nice 10 was too small to sample them
    5 times a second; a lesson's few workers keep nice 10 (at 19 a loaded machine starved
    a zombie lesson's children of their time). CROWD is lowered to 4 here, so the test
    does not load the machine with 101 workers."""
    from ipcviz.runtime import forking
    from ipcviz.runtime.forking import CROWD_NICE, WORKER_NICE

    monkeypatch.setattr(forking, "CROWD", 4)
    CROWD = 4

    def nice_of_workers(count: int) -> set[int]:
        text = (f"workers:\n  w: {{count: {count}, loop: true, steps: [{{sleep: 0.5}}]}}\n"
                ).encode()
        runtime = Runtime(load_text(text, "nice.yaml"))
        try:
            runtime.start()
            def niceness() -> set[int] | None:  # each sets its own, just after the fork
                nice = {os.getpriority(os.PRIO_PROCESS, p.ident.pid) for p in runtime.procs}
                # (all still at this process's own value: none has set its nice yet)
                return nice if len(nice) == 1 and nice != {base} else None

            return wait_until(niceness, 10, message="one niceness for every worker")
        finally:
            runtime.shutdown()

    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert nice_of_workers(3) == {min(19, base + WORKER_NICE)}
    assert nice_of_workers(CROWD + 1) == {min(19, base + CROWD_NICE)}
