"""A worker's share of a tick: what the sampler reads and makes per worker is only what
can have changed, and every view it gives equals the one made from scratch at the same
moment (real workers, real /proc)."""

from __future__ import annotations

import os
import signal

from ipcviz.runtime import moment
from ipcviz.runtime import sampler as sampler_module
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
        busy_row, busy = next((p.row, p.ident.pid) for p in runtime.procs
                              if p.name == "busy" and p.ident)
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

        asked: list[set[int]] = []
        moving_rows = sampler_module.moving_rows

        def recorded(procs, kids, stats, among=None):
            asked.append(set(among) if among is not None else set())
            return (moving_rows(procs, kids, stats) if among is None  # (as before)
                    else moving_rows(procs, kids, stats, among))

        monkeypatch.setattr(moment, "read_stat", counted)
        monkeypatch.setattr(sampler_module, "moving_rows", recorded)
        before = sampler.moments.stats.readings, sampler.moments.stats.late
        sampler.sample()
        assert sampler.moments.stats.readings == before[0] + 1
        # asked about the stopped worker, and about a sleeper only if the machine's load
        # caught it outside its wait at the first look
        pid_of = {p.row: p.ident.pid for p in runtime.procs if p.ident}
        assert len(asked) == 1 and pid_of[busy_row] in looked
        assert sorted(looked) == sorted(pid_of[row] for row in asked[0])
        assert len(looked) < SLEEPERS  # (every live worker's, before)
        assert sampler.moments.stats.late == before[1]  # not waited for: set aside
    finally:
        if busy is not None:
            os.kill(busy, signal.SIGCONT)
        sampler.close()
        runtime.shutdown()


MOVING = b"""\
duration: 3
channels:
  p: {kind: pipe}
workers:
  writer: {loop: true, steps: [{write: {to: p, size: 64}}, {sleep: 0.02}]}
  reader: {loop: true, steps: [{read: {from: p, bytes: 64}}]}
  pinger: {loop: true, steps: [{signal: {to: target, sig: SIGUSR1}}, {sleep: 0.05}]}
  target:
    handlers: {SIGUSR1: count, SIGUSR2: count}
    loop: true
    restart: always
    steps: [{block: [SIGUSR2]}, {sleep: 0.03}, {unblock: [SIGUSR2]}, {sleep: 0.03}]
  sleeper: {count: 3, steps: [{sleep: 60}]}
timeline:
  - {at: 0.5, signal: {to: target, sig: SIGUSR2, count: 3}}
  - {at: 0.8, stop: sleeper.1}
  - {at: 1.4, cont: sleeper.1}
  - {at: 1.2, kill: target}
  - {at: 2.0, signal: {to: sleeper, sig: SIGTERM}}
"""


def checked_run(monkeypatch, scenario: bytes, name: str) -> dict[str, int]:
    """Run `scenario` live (early frames on) to its end, every worker view the sampler
    gives compared with one made from scratch of the same reading (WorkerViews._make);
    how many views were made, made from last time's (`moving_fields`; "counted": with
    their channel counters made anew) and kept."""
    from ipcviz.runtime import worker_views
    from ipcviz.runtime.session import Session

    views, LASTING = worker_views.WorkerViews, worker_views.LASTING
    make, view_of, seen_of = views._make, views._view, views._seen
    seen: dict[str, object] = {}
    made: list[object] = []
    paths = {"made": 0, "moved": 0, "counted": 0, "kept": 0}
    wrong: list[str] = []

    def seen_kept(self, proc, *args):
        seen[proc.name] = out = seen_of(self, proc, *args)
        return out

    def made_counted(self, *args):
        made.append(out := make(self, *args))
        return out

    def compared(self, proc, row, channel_names, now, by_workers=None, *args):
        known = self._views.get(proc.name)
        view = view_of(self, proc, row, channel_names, now, by_workers, *args)
        program = proc.instance.definition.exec
        if program is None and proc.attached_argv is None:
            fresh = make(self, proc, row, None, seen[proc.name], channel_names, by_workers)
            if fresh != view:
                wrong.append(f"{proc.name}: {view} != {fresh}")
            path = ("made" if made and made[-1] is view else
                    "kept" if known is not None and known[1] is view else "moved")
            if path == "moved" and known is not None and (
                    known[0][LASTING] != self._views[proc.name][0][LASTING]):
                path = "counted"  # (its channel counters made anew too)
            paths[path] += 1
        return view

    monkeypatch.setattr(views, "_seen", seen_kept)
    monkeypatch.setattr(views, "_make", made_counted)
    monkeypatch.setattr(views, "_view", compared)
    runtime = Runtime(load_text(scenario, name))
    try:
        runtime.start()
        session = Session(runtime, lambda snap: None, limit=3.0, early_frames=True)
        try:
            session.run()
        finally:
            session.sampler.close()
    finally:
        runtime.shutdown()
    assert wrong == []
    return paths


def test_every_view_kept_or_moved_equals_one_made_anew(nothing_left_behind,
                                                       monkeypatch) -> None:
    """On a real run whose workers step, loop, send and receive signals, block and
    unblock them, are stopped, continued, killed and restarted, every view the sampler
    gives (made, kept from last time, or last time's with what moves made anew, its
    channel counters too or not) equals the view made from scratch of the same reading;
    and each of the four ways served."""
    paths = checked_run(monkeypatch, MOVING, "moving.yaml")
    assert min(paths.values()) > 0, paths


SLEEPING = b"""\
workers:
  idle: {handlers: {SIGUSR1: count}, steps: [{sleep: 60}]}
  rt: {handlers: {SIGRTMIN+2: count}, steps: [{block: [SIGRTMIN+2]}, {sleep: 60}]}
"""


def test_the_masks_of_a_sleeper_that_blocks_nothing_stand_until_it_moves(
        nothing_left_behind, monkeypatch) -> None:
    """A worker asleep (S) that blocks no signal can have none pending: its masks are not
    read again while it sleeps, and they are what a reading would say. One that blocks a
    signal (a real-time one: not in /proc/PID/stat) is still read every few ticks, and
    that signal sent from outside the run shows as pending."""
    from ipcviz.runtime import proc_reader
    from ipcviz.runtime.procmasks import read_masks

    runtime = Runtime(load_text(SLEEPING, "sleeping.yaml"))
    sampler = Sampler(runtime)
    try:
        runtime.start()
        wait_until(lambda: all(w.step_text == "sleep" and w.state == "sleeping"
                               and w.cpu == 0.0 for w in sampler.sample().workers)
                   and all(w.masks.get("caught") for w in sampler.sample().workers),
                   interval=0.1, message="both workers asleep, their handlers in place")
        pids = {w.name: w.pid for w in sampler.sample().workers}
        read: list[int] = []

        def counted(pid: int):
            read.append(pid)
            return read_masks(pid)

        monkeypatch.setattr(proc_reader, "read_masks", counted)
        for _ in range(12):
            snap = sampler.sample()
        assert read.count(pids["idle"]) == 0
        rt_reads = read.count(pids["rt"])
        idle = snap.worker("idle")
        assert idle is not None and idle.masks == read_masks(pids["idle"])
        assert idle.masks["caught"] == ["SIGUSR1"] and idle.masks["blocked"] == []
        os.kill(pids["rt"], signal.SIGRTMIN + 2)  # pending: it blocks it
        for _ in range(6):
            rt = sampler.sample().worker("rt")
            assert rt is not None
            if "SIGRTMIN+2" in rt.masks.get("shared_pending", []):
                break
        assert rt.masks["shared_pending"] == ["SIGRTMIN+2"]
        assert rt_reads >= 2
    finally:
        sampler.close()
        runtime.shutdown()
