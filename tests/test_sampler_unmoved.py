"""A worker in which nothing moved keeps last tick's view without a parse (issue 18: most
of 64 idle workers' sampling was finding out that nothing changed); anything the kernel
or the run changes in it still shows at the next tick."""

from __future__ import annotations

import os
import signal
import time

from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text

SCENARIO = b"""\
workers:
  idle: {handlers: {SIGUSR1: count}, steps: [{block: [SIGUSR2]}, {sleep: 60}]}
"""


def _settled(sampler: Sampler, predicate, timeout: float = 10.0, ticks: int = 0):
    """Sample every 0.1 s until `predicate` holds (or `ticks` samples, when given)."""
    deadline = time.monotonic() + timeout
    taken = 0
    while True:
        snap = sampler.sample()
        taken += 1
        if (predicate(snap.worker("idle")) or time.monotonic() > deadline
                or taken == ticks):
            return snap.worker("idle")
        time.sleep(0.1)


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
        time.sleep(0.3)  # the kill reaches the kernel's masks at once; the ticks follow
        os.kill(pid, signal.SIGUSR2)
        time.sleep(0.05)
        pending = _settled(sampler, lambda w: "SIGUSR2" in w.masks.get("shared_pending", []),
                           ticks=6)
        assert "SIGUSR2" in pending.masks["shared_pending"]
    finally:
        sampler.close()
        runtime.shutdown()
