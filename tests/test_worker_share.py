"""A worker's share of a tick: what the sampler reads and makes per worker is only what
can have changed, and every view it gives equals the one made from scratch at the same
moment (real workers, real /proc)."""

from __future__ import annotations

import os
import signal

from ipcviz.runtime import moment
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from tests.waiting import wait_until

SLEEPERS = 6
STOPPED = f"""\
channels:
  a: {{kind: shared_array, dtype: int64, shape: [1]}}
workers:
  sleeper: {{count: {SLEEPERS}, steps: [{{sleep: 60}}]}}
  busy: {{loop: true, steps: [{{increment: {{array: a, index: [0], times: 1000}}}}]}}
""".encode()


def test_a_reading_asks_proc_only_about_the_rows_not_ready(nothing_left_behind,
                                                           monkeypatch) -> None:
    """A reading whose first look finds a worker not at a quiet point asks which workers
    can still move (one /proc/PID/stat read each): only that worker, not the sleepers
    already standing still in their waits. A stopped worker mid-step is never ready and
    is set aside after that one read; the reading is whole."""
    runtime = Runtime(load_text(STOPPED, "stopped.yaml"))
    sampler = Sampler(runtime)
    busy = None
    try:
        runtime.start()
        wait_until(lambda: all(w.step_text == "sleep" and w.state == "sleeping"
                               for w in sampler.sample().workers if w.group == "sleeper"),
                   interval=0.1, message="every sleeper asleep in its sleep")
        busy = next(p.ident.pid for p in runtime.procs if p.name == "busy" and p.ident)
        os.kill(busy, signal.SIGSTOP)
        wait_until(lambda: (s := moment.read_stat(busy)) is not None and s.state == "T",
                   message="the busy worker stopped")
        sampler.sample()
        sampler.procs.stats.pop(busy)  # not known stopped: the reading must look now
        looked: list[int] = []
        read_stat = moment.read_stat

        def counted(pid: int):
            looked.append(pid)
            return read_stat(pid)

        monkeypatch.setattr(moment, "read_stat", counted)
        before = sampler.moments.stats.readings, sampler.moments.stats.late
        sampler.sample()
        assert sampler.moments.stats.readings == before[0] + 1
        assert looked == [busy]
        assert sampler.moments.stats.late == before[1]  # not waited for: set aside
    finally:
        if busy is not None:
            os.kill(busy, signal.SIGCONT)
        sampler.close()
        runtime.shutdown()
