"""The runtime's parts are objects with explicit dependencies, so their exact logic runs
without a run: here the timeline, given a run clock's readings by hand (the real-process
tests, test_programs.py and test_timeline.py, show the kernel agrees)."""

from __future__ import annotations

from types import SimpleNamespace

from ipcviz.protocol import Command, SendSignal
from ipcviz.runtime.procs import Proc
from ipcviz.runtime.programs import ProgramOutput
from ipcviz.runtime.timeline import Timeline
from ipcviz.scenario.load import load_text

TEXT = b"""\
duration: 3
workers:
  p: {exec: [sleep, "30"], ready: "set up"}
timeline:
  - {at: 0.2, signal: {to: p, sig: SIGUSR1}}
  - {at: 0.7, signal: {to: p, sig: SIGUSR2}}
"""


def make_timeline() -> tuple[Timeline, Proc, ProgramOutput, list, list]:
    """A timeline over one program worker (alive, never forked), what it executes and logs."""
    scenario = load_text(TEXT, "ready.yaml")
    inst = scenario.instances[0]
    proc = Proc(inst, 0, scenario.plan.roles[inst.group], alive=True, started_once=True)
    logged: list[tuple[str, str]] = []
    executed: list[tuple[Command, str]] = []

    def log(worker: str, text: str, kind: str, at: float | None = None) -> None:
        logged.append((worker, text))

    output = ProgramOutput(log)
    timeline = Timeline(scenario.model, SimpleNamespace(procs=[proc]), output, log,
                        lambda command, source: executed.append((command, source)))
    timeline.wait_for_ready_lines()
    return timeline, proc, output, executed, logged


def test_the_timeline_counts_from_the_ready_line() -> None:
    timeline, _, output, executed, logged = make_timeline()
    assert logged == [("p", "the timeline waits for 'set up' from it")]
    timeline.run_due(5.0)  # long past both entries: still waiting for the line
    assert executed == [] and timeline.next_due() is None
    output.ready.add("p")
    timeline.run_due(6.0)  # ready now: the entries count from 6.0
    assert executed == []
    assert logged[-1] == ("runtime", "ready: the timeline starts (its times count from "
                                     "6.00 s)")
    assert timeline.next_due() == 6.2
    timeline.run_due(6.5)
    assert executed == [(SendSignal("p", 10, 1, None), "timeline")]
    timeline.run_due(6.7)
    assert [command for command, _ in executed] == [SendSignal("p", 10, 1, None),
                                                    SendSignal("p", 12, 1, None)]
    assert timeline.next_due() is None


def test_a_program_that_ends_without_its_line_is_not_waited_for() -> None:
    timeline, proc, _, executed, logged = make_timeline()
    proc.alive = False
    timeline.run_due(1.0)
    assert logged[1:] == [("p", "ended before printing 'set up'"),
                          ("runtime", "ready: the timeline starts (its times count from "
                                      "1.00 s)")]
    assert executed == []
    timeline.run_due(1.7)
    assert len(executed) == 2
