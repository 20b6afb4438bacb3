"""A worker's view in an early frame (between two ticks, /proc as the last tick read it):
a worker whose row did not move since its last view of that reading keeps that view,
without working it out again; one whose row moved, or that was sent signals, gets a view
made anew, equal to one made from scratch (real workers, real /proc)."""

from __future__ import annotations

import os
import signal

from ipcviz.runtime import worker_views
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from tests.waiting import wait_until

SLEEPERS = 4
SCENARIO = f"""\
workers:
  sleeper: {{count: {SLEEPERS}, handlers: {{SIGUSR1: count}}, steps: [{{sleep: 60}}]}}
  ticker: {{loop: true, steps: [{{sleep: 0.01}}]}}
""".encode()


def test_an_early_frame_keeps_the_views_of_unmoved_rows(nothing_left_behind,
                                                         monkeypatch) -> None:
    """After a tick, two early frames: the sleepers' views are the tick's, their state
    not worked out again (no `_seen`); the ticker, whose row moves between the frames,
    gets a view made anew; a sleeper sent a signal between them too. Every view an
    early frame gives equals the one made from scratch of the same reading."""
    views = worker_views.WorkerViews
    seen_of = views._seen
    worked: list[str] = []
    wrong: list[str] = []
    checking = {"on": False}

    def counted(self, proc, *args):
        if checking["on"]:
            worked.append(proc.name)
        return seen_of(self, proc, *args)

    monkeypatch.setattr(views, "_seen", counted)
    runtime = Runtime(load_text(SCENARIO, "early.yaml"))
    sampler = Sampler(runtime)
    inner = sampler.worker_views

    def compared(proc, row, channel_names, now, by_workers=None):
        view = views.worker_view(inner, proc, row, channel_names, now, by_workers)
        if checking["on"]:
            checking["on"] = False  # (the check's own work is not counted)
            seen = seen_of(inner, proc, row, None, channel_names, now, by_workers, None)
            fresh = inner._make(proc, row, None, seen, channel_names, by_workers)
            if fresh != view:
                wrong.append(f"{proc.name}: {view} != {fresh}")
            checking["on"] = True
        return view

    monkeypatch.setattr(inner, "worker_view", compared)
    try:
        runtime.start()
        wait_until(lambda: all(w.step_text == "sleep" and w.state == "sleeping"
                               and w.masks.get("caught")
                               for w in sampler.sample().workers if w.group == "sleeper"),
                   interval=0.1, message="every sleeper asleep, its handler in place")
        tick = {w.name: w for w in sampler.sample(kernel=True).workers}
        checking["on"] = True
        loops = tick["ticker"].loops
        ticker_row = next(p.row for p in runtime.procs if p.name == "ticker")
        wait_until(lambda: int(runtime.table.array[ticker_row][worker_views.T.LOOPS])
                   > loops + 1, message="the ticker looped")
        first = {w.name: w for w in sampler.sample(kernel=False).workers}
        assert sorted(worked) == ["ticker"]
        assert all(first[n] is tick[n] for n in tick if n.startswith("sleeper"))
        assert first["ticker"].loops > loops
        target = next(p for p in runtime.procs if p.instance.group == "sleeper")
        name = target.name  # the one sent a signal
        assert target.ident is not None
        os.kill(target.ident.pid, signal.SIGUSR1)  # from outside the run: a row moves
        wait_until(lambda: sampler.sample(kernel=False).worker(name).signals_received
                   == {"SIGUSR1": 1}, message="the sleeper counted the signal")
        worked.clear()
        second = {w.name: w for w in sampler.sample(kernel=False).workers}
        assert second[name] is not tick[name]  # remade once its row moved
        assert second[name].signals_received == {"SIGUSR1": 1}
        assert all(second[n] is tick[n] for n in tick
                   if n.startswith("sleeper") and n != name)
        assert wrong == []
    finally:
        checking["on"] = False
        sampler.close()
        runtime.shutdown()
