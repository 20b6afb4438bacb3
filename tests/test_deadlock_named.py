"""A deadlock, once named, stays named on every frame while its cycle stands, and the
workers of it are shown waiting for their locks: a worker blocked in sem_wait is never
called running (its wait is a loop of timed waits, and on a loaded machine the instant
between two of them can be all /proc shows), and no frame calls a live deadlock broken.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ipcviz.telemetry.deadlock import DeadlockWatch, cycle_stands
from ipcviz.telemetry.invariants import check_frame, check_frames
from ipcviz.telemetry.snapshot import ChannelView, Holder, Snapshot, Waiting, WorkerView

ROOT = Path(__file__).resolve().parent.parent
#: the bundled lesson's timeline kills `a` at 3 s: recorded until just before
SECONDS = 2.8
RUNS = 4
AT_ONCE = 2
CYCLE = ("a", "lock_b", "b", "lock_a")


def record(out: Path) -> list[Snapshot]:
    run = subprocess.run([sys.executable, "-m", "ipcviz", "record", "deadlock", "-o", str(out),
                          "--duration", str(SECONDS)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-500:]
    return [Snapshot.from_dict(json.loads(line)) for line in out.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_deadlock_stays_named_on_every_frame_after_it_forms_on_a_loaded_machine(
        tmp_path: Path, nothing_left_behind) -> None:
    busy = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(2)]
    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            runs = list(pool.map(lambda i: record(tmp_path / f"deadlock{i}.jsonl"),
                                 range(RUNS)))
    finally:
        for process in busy:
            process.kill()
            process.wait()
    for frames in runs:
        formed = next(i for i, f in enumerate(frames) if f.deadlock)
        after = frames[formed:]
        assert len(after) >= 5  # it forms at about 0.5 s: seconds of frames follow
        unnamed = [(f.elapsed, [(w.name, w.state) for w in f.workers])
                   for f in after if f.deadlock != CYCLE]
        assert unnamed == []
        shown = {(w.name, w.state, w.waiting) for f in after for w in f.workers}
        assert shown == {("a", "blocked", Waiting("acquire", "lock_b")),
                         ("b", "blocked", Waiting("acquire", "lock_a"))}
        assert [v.line() for v in check_frames(frames)] == []


# ---------------------------------------------------------------- hand-made frames

def frame(t: float, deadlock: tuple[str, ...] | None, a_state: str = "blocked",
          b_state: str = "blocked", a_pid: int = 10, x_holders: tuple = ("a",)) -> Snapshot:
    """Two workers in the cycle a → y → b → x → a (x held by a, y by b, both at 0)."""
    def worker(name: str, state: str, pid: int, lock: str) -> WorkerView:
        return WorkerView(name=name, group=name, pid=pid, state=state,
                          waiting=Waiting("acquire", lock) if state == "blocked" else None)

    def sem(name: str, holders: tuple) -> ChannelView:
        return ChannelView.of(name=name, kind="semaphore", data={
            "value": 0, "initial": 1, "holders": [Holder(h) for h in holders],
            "waiters": []})

    return Snapshot(scenario="t", description="", result="", elapsed=t, running=True,
                    workers=(worker("a", a_state, a_pid, "y"), worker("b", b_state, 11, "x")),
                    channels=(sem("x", x_holders), sem("y", ("b",))),
                    deadlock=deadlock, deadlock_seen=deadlock or ("a", "y", "b", "x"),
                    deadlock_at=1.0)


NAMED = ("a", "y", "b", "x")


def rules(frames: list[Snapshot]) -> list[str]:
    return [v.rule for v in check_frames(frames)]


def test_a_standing_deadlock_that_loses_its_name_is_caught() -> None:
    assert rules([frame(1, NAMED), frame(1.1, NAMED)]) == []
    assert rules([frame(1, NAMED), frame(1.1, None)]) == [
        "a deadlock stays named while its cycle stands"]


def test_a_cycle_broken_by_a_death_or_a_restart_may_lose_its_name() -> None:
    assert rules([frame(1, NAMED), frame(1.1, None, a_state="exited")]) == []
    assert rules([frame(1, NAMED), frame(1.1, None, a_pid=12)]) == []  # a restarted
    assert rules([frame(1, NAMED), frame(1.1, None, x_holders=())]) == []  # x given back


def test_a_worker_of_a_named_deadlock_shown_running_is_caught() -> None:
    broken = check_frame(frame(1, NAMED, b_state="running"))
    assert [(v.subject, v.rule, v.values) for v in broken] == [
        ("b", "a worker of a named deadlock waits for its lock",
         {"lock": "x", "state": "running"})]
    assert check_frame(frame(1, NAMED, b_state="stopped")) == []  # SIGSTOP breaks nothing


def test_the_watch_keeps_a_standing_cycle_named_whatever_one_frame_reads() -> None:
    watch = DeadlockWatch()
    views = frame(1, NAMED)
    assert watch.frame(NAMED, views.workers, views.channels, 1.0) == (None, False)
    assert watch.frame(NAMED, views.workers, views.channels, 1.1) == (NAMED, True)
    # a frame whose wait-for graph lost the cycle (a worker read as stopped) while the
    # same workers live and the locks stand: still the deadlock, named once
    stopped = frame(1.2, None, b_state="stopped")
    assert watch.frame(None, stopped.workers, stopped.channels, 1.2) == (NAMED, False)
    dead = frame(1.3, None, a_state="exited")
    assert watch.frame(None, dead.workers, dead.channels, 1.3) == (None, False)
    # gone once, it is not named again by its old name alone
    assert watch.frame(None, views.workers, views.channels, 1.4) == (None, False)
    assert (watch.seen, watch.at) == (NAMED, 1.1)


def test_a_cycle_stands_only_with_every_lock_at_zero_held_by_the_next_worker() -> None:
    lives = {"a": (10, 0), "b": (11, 0)}
    locks = {"x": (0, ["a"]), "y": (0, ["b"])}
    assert cycle_stands(NAMED, lives, lives, locks)
    assert not cycle_stands(NAMED, lives, lives, {**locks, "y": (1, [])})
    assert not cycle_stands(NAMED, lives, lives, {**locks, "x": (0, ["b"])})
    assert not cycle_stands(NAMED, lives, {"a": (10, 1), "b": (11, 0)}, locks)
    assert not cycle_stands(NAMED, lives, {"b": (11, 0)}, locks)
