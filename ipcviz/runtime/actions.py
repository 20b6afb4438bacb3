"""What the runtime does on command (a key, a trigger or a timeline entry): signals,
kill/stop/cont, restart, pause, lock use and run-wide time control, by command type."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from ipcviz.format import speed_text
from ipcviz.protocol import (
    CloseKept,
    Command,
    Cont,
    FireTrigger,
    Kill,
    PauseRun,
    PauseSteps,
    Restart,
    ResumeRun,
    ResumeSteps,
    SendSignal,
    SetLock,
    SetSpeed,
    StepAll,
    StepWorker,
    Stop,
    TimeCommand,
    from_scenario,
)
from ipcviz.runtime.forking import Workers
from ipcviz.runtime.procs import Proc
from ipcviz.runtime.run_objects import Log, RunClock, RunObjects
from ipcviz.runtime.scheduler import Scheduler
from ipcviz.runtime.sending import SignalSender
from ipcviz.scenario.schema import Scenario
from ipcviz.telemetry import table as T


class Actions:
    """Carries out commands on the run's workers."""

    def __init__(self, model: Scenario, objects: RunObjects, clock: RunClock,
                 workers: Workers, sender: SignalSender, scheduler: Scheduler, log: Log):
        self._objects = objects
        self._clock = clock
        self._workers = workers
        self._sender = sender
        self._scheduler = scheduler
        self._log = log
        #: a trigger's key -> the command it fires
        self._triggers = {t.key: from_scenario(t) for t in model.triggers}
        self._handlers: dict[type, Callable[[Any, str], None]] = {
            SendSignal: self._send, Kill: self._kill_stop_cont,
            Stop: self._kill_stop_cont, Cont: self._kill_stop_cont,
            Restart: self._restart, PauseSteps: self._pause, ResumeSteps: self._pause,
            SetLock: self._lock, FireTrigger: self._trigger, CloseKept: self._close,
            PauseRun: self._time, ResumeRun: self._time, StepAll: self._time,
            StepWorker: self._time, SetSpeed: self._time,
        }  # (Quit is the session's: the input ends)

    def execute(self, command: Command, source: str = "key") -> None:
        """A UI command, a trigger or a timeline entry (protocol.py), by its type."""
        handler = self._handlers.get(type(command))
        if handler is not None:
            handler(command, source)

    def _send(self, command: SendSignal, source: str) -> None:
        if command.interval and command.count > 1:
            self._sender.send_spaced(command.to, command.sig, command.count,
                                     command.interval, source)
        else:
            self._sender.send(command.to, command.sig, command.count, source)

    def _kill_stop_cont(self, command: Kill | Stop | Cont, source: str) -> None:
        sig = {Kill: signal.SIGKILL, Stop: signal.SIGSTOP, Cont: signal.SIGCONT}[type(command)]
        self._sender.send(command.to, int(sig), 1, source)

    def _restart(self, command: Restart, source: str) -> None:
        for proc in self._workers.targets(command.worker):
            self._workers.restart(proc)

    def _pause(self, command: PauseSteps | ResumeSteps, source: str) -> None:
        pause = isinstance(command, PauseSteps)
        for proc in self._workers.targets(command.worker):
            when = self._clock.elapsed()  # before the worker can act on it: cause first
            self._control_bit(proc, T.CTRL_PAUSE, T.PAUSE_WORKER, pause)
            self._log(proc.name, "steps paused" if pause else "steps resumed", "runtime",
                      at=when)

    def _close(self, command: CloseKept, source: str) -> None:
        """Ask the worker to close the pipe ends it keeps (it does, in its read's wait or
        before its next step, and says so in an event of its own)."""
        for proc in self._workers.targets(command.worker):
            when = self._clock.elapsed()
            self._control(proc, T.CTRL_CLOSE_KEPT, 1)
            self._log(proc.name, "asked to close the pipe ends it kept", "runtime", at=when)

    def _lock(self, command: SetLock, source: str) -> None:
        for proc in self._workers.targets(command.worker):
            when = self._clock.elapsed()
            self._control(proc, T.CTRL_LOCK_OFF, 0 if command.enabled else 1)
            self._log(proc.name, f"lock use {'on' if command.enabled else 'OFF'}", "runtime",
                      at=when)

    def _time(self, command: TimeCommand, source: str) -> None:
        """Run-wide time control, through the scheduler (scheduler.py)."""
        sched = self._scheduler
        when = self._clock.elapsed()  # dated before the workers can act on it
        if isinstance(command, PauseRun):
            sched.pause()
            self._log("runtime", "run paused", "runtime", at=when)
        elif isinstance(command, ResumeRun):
            sched.resume()
            self._log("runtime", "run resumed", "runtime", at=when)
        elif isinstance(command, StepAll):
            sched.step_all()
        elif isinstance(command, StepWorker):
            if not sched.step(command.worker):
                self._log(command.worker, "cannot take a step now", "runtime")
        else:
            sched.set_speed(command.factor)
            self._log("runtime", f"speed {speed_text(command.factor) or '×1'}", "runtime",
                      at=when)

    def _trigger(self, command: FireTrigger, source: str) -> None:
        trigger = self._triggers.get(command.key)
        if trigger is not None:
            self.execute(trigger, "trigger")

    def _control(self, proc: Proc, cell: int, value: int) -> None:
        table = self._objects.need_table()
        table.cells[table.row_base(proc.row) + cell] = value

    def _control_bit(self, proc: Proc, cell: int, bit: int, on: bool) -> None:
        """Set or clear one bit of a control cell (the run-wide bits stay as they are)."""
        table = self._objects.need_table()
        at = table.row_base(proc.row) + cell
        cells = table.cells
        cells[at] = cells[at] | bit if on else cells[at] & ~bit
