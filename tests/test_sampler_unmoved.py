"""A worker in which nothing moved keeps last tick's view without a parse (issue 18: most
of 64 idle workers' sampling was finding out that nothing changed); anything the kernel
or the run changes in it still shows at the next tick."""

from __future__ import annotations

import os
import signal

from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from tests.waiting import wait_until

SCENARIO = b"""\
workers:
  idle: {handlers: {SIGUSR1: count}, steps: [{block: [SIGUSR2]}, {sleep: 60}]}
"""


def _settled(sampler: Sampler, predicate, ticks: int = 0):
    """Sample every 0.1 s (the sampler's pace in a run) until `predicate` holds for the
    worker's view, or `ticks` samples were taken, when given; returns that view."""
    taken = 0

    def sampled():
        nonlocal taken
        view = sampler.sample().worker("idle")
        taken += 1
        return view if predicate(view) or taken == ticks else None

    return wait_until(sampled, interval=0.1, message="the worker's view to show it")


def test_an_unmoved_worker_keeps_its_view_and_a_change_still_shows(nothing_left_behind
                                                                   ) -> None:
    runtime = Runtime(load_text(SCENARIO, "unmoved.yaml"))
    sampler = Sampler(runtime)
    try:
        runtime.start()
        # (asleep in the kernel too: on a loaded machine a tick can catch it still running)
        view = _settled(sampler, lambda w: w.step_text == "sleep" and w.cpu == 0.0
                        and w.state == "sleeping"
                        and "SIGUSR2" in w.masks.get("blocked", []))
        assert view.state == "sleeping"
        again = sampler.sample().worker("idle")
        assert again is view  # nothing moved: the same view, not a new one
        pid = view.pid
        os.kill(pid, signal.SIGSTOP)  # the kernel's state moves, the row does not
        try:
            assert _settled(sampler, lambda w: w.state == "stopped").state == "stopped"
        finally:
            os.kill(pid, signal.SIGCONT)
        assert _settled(sampler, lambda w: w.state == "sleeping").state == "sleeping"
        # a blocked signal sent from outside the run: only the kernel's masks move, and
        # the next ticks show it (the masks of each process are read at least every 5 ticks)
        for _ in range(3):
            sampler.sample()
        os.kill(pid, signal.SIGUSR2)  # pending in the kernel's masks when kill returns
        pending = _settled(sampler, lambda w: "SIGUSR2" in w.masks.get("shared_pending", []),
                           ticks=6)
        assert "SIGUSR2" in pending.masks["shared_pending"]
    finally:
        sampler.close()
        runtime.shutdown()


def test_a_held_worker_keeps_its_view_while_it_looks_at_its_cell(nothing_left_behind
                                                                 ) -> None:
    """A worker held at its step boundary (a held start) looks at its cell again and again,
    each look a wait that moves its WAITS cell; nothing a view shows moves with it, so
    two frames with looks between them give the same view, next operation included
    (each frame made every held worker's view anew)."""
    from ipcviz.telemetry import table as T

    runtime = Runtime(load_text(SCENARIO, "held.yaml"), held=True)
    sampler = Sampler(runtime)
    try:
        runtime.start()
        assert runtime.table is not None
        arr = runtime.table.array
        row = next(p.row for p in runtime.procs if p.name == "idle")
        _settled(sampler, lambda w: w.state == "held" and w.next_op is not None)
        for _ in range(20):  # a pair of frames in which the kernel saw no CPU used
            first = sampler.sample().worker("idle")
            looks = int(arr[row, T.WAITS])
            wait_until(lambda: int(arr[row, T.WAITS]) >= looks + 2,
                       message="the held worker to look at its cell again")
            second = sampler.sample().worker("idle")
            if first.cpu == second.cpu == 0.0 and first.state == second.state == "held":
                break
        else:
            raise AssertionError("no two frames of the held worker without CPU used")
        assert second is first
        assert second.next_op is not None
    finally:
        sampler.close()
        runtime.shutdown()
