"""The scenario's timeline: each entry carried out when the run clock reaches its `at:`,
counted from the moment every program with `ready:` has printed its line."""

from __future__ import annotations

from collections.abc import Callable

from ipcviz.protocol import Command, from_scenario
from ipcviz.runtime.forking import Workers
from ipcviz.runtime.programs import ProgramOutput
from ipcviz.runtime.run_objects import Log
from ipcviz.scenario.schema import Scenario


class Timeline:
    """Where the run is in its timeline, and what it still waits for."""

    def __init__(self, model: Scenario, workers: Workers, output: ProgramOutput, log: Log,
                 execute: Callable[[Command, str], None]):
        """`execute`: carries out one entry's command (its source is "timeline")."""
        self._entries = sorted(model.timeline, key=lambda e: e.at)
        self._workers = workers
        self._output = output
        self._log = log
        self._execute = execute
        self._next = 0
        #: run time the entries' `at:` count from: 0, or the moment every program with
        #: `ready:` printed its line (until then `_waits` names them)
        self._base = 0.0
        self._waits: set[str] = set()

    def wait_for_ready_lines(self) -> None:
        """Before the run: the timeline waits for the `ready:` line of each program."""
        for proc in self._workers.procs:
            text = proc.instance.definition.ready
            if text is not None and proc.instance.definition.exec is not None:
                self._output.ready_text[proc.name] = text
                self._waits.add(proc.name)
                if self._entries:
                    self._log(proc.name, f"the timeline waits for {text!r} from it",
                              "runtime")

    def next_due(self) -> float | None:
        """The run time the next entry is due at; None when none is, or the timeline
        still waits for a program."""
        if self._next >= len(self._entries) or self._waits:
            return None
        return self._entries[self._next].at + self._base

    def run_due(self, now: float) -> None:
        """Carry out every entry due at run time `now`, in order."""
        ready = self._ready(now)
        while ready and self._next < len(self._entries) and \
                self._entries[self._next].at + self._base <= now:
            entry = self._entries[self._next]
            self._next += 1
            self._execute(from_scenario(entry), "timeline")

    def _ready(self, now: float) -> bool:
        """Whether the timeline runs: every program with `ready:` has printed its line (or
        ended without it: then there is nothing to wait for)."""
        waits = self._waits
        if not waits:
            return True
        procs = self._workers.procs
        alive = {p.name for p in procs if p.alive}
        if not waits <= alive:  # one has ended: its last lines may still be in the pipe
            self._output.drain()
        for name in sorted(waits):
            if name in self._output.ready:
                waits.discard(name)
            elif name not in alive and any(p.name == name and p.started_once for p in procs):
                waits.discard(name)
                self._log(name, f"ended before printing {self._output.ready_text[name]!r}",
                          "runtime")
        if not waits:
            self._base = now
            if self._entries:
                self._log("runtime", f"ready: the timeline starts (its times count from "
                                     f"{now:.2f} s)", "runtime")
        return not waits
