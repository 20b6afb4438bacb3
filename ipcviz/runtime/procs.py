"""The runtime's records of its processes: workers (across restarts) and the children
they spawn."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ipcviz.host.process import ProcessIdentity
from ipcviz.scenario.load import WorkerInstance
from ipcviz.signals import signal_name


#: the exit of an attached process that has gone (its parent, not ipcviz, gets its status)
ENDED = "ended"


@dataclass
class SpawnedProc:
    """A child a worker spawned (its row in the table says who and which pid)."""

    row: int
    name: str
    group: str
    parent: str
    ident: ProcessIdentity
    exit: int | str | None


@dataclass
class Proc:
    """The runtime's record of one worker process (across restarts)."""

    instance: WorkerInstance
    row: int
    roles: dict[str, frozenset[str]]  # channel -> roles (the plan's, for its definition)
    ident: ProcessIdentity | None = None
    alive: bool = False  # forked and not yet reaped
    exit: int | str | None = None
    restarts: int = 0
    last_signal_from_us: int | None = None
    user_killed: bool = False
    restart_pending: bool = False
    restart_at: float | None = None
    sent_to: Counter = field(default_factory=Counter)
    #: `sent_to` when the current process life began (a restart starts a new count of
    #: what this life was sent, for the "why sent != received" words)
    sent_before_life: Counter = field(default_factory=Counter)
    started_once: bool = False
    spawn_rows: list[int] = field(default_factory=list)
    #: per semaphore, what earlier lives of this worker took and never gave back (read
    #: as a new life is forked): a restarted worker does not hold what its dead one held
    held_before_life: dict[str, int] = field(default_factory=dict)
    #: the row's received-signal counters when the current life began (None: first life)
    received_before_life: Any = None
    #: what other workers' `signal` steps had sent to this worker (signal -> count) when
    #: the current life was forked: they count for the whole run, not per life
    workers_sent_before_life: Counter = field(default_factory=Counter)
    #: an attached process (`attach:`, watch --pid): its command line when the run began
    attached_argv: list[str] | None = None

    @property
    def name(self) -> str:
        return self.instance.name

    @property
    def runs_program(self) -> bool:
        """It runs a program (`exec:`) or is an attached process: no steps, no boundary."""
        return self.instance.definition.runs_program

    @property
    def exit_text(self) -> str:
        if self.exit is None:
            return ""
        if self.exit == ENDED:
            return "ended (not ipcviz's child: its status went to its own parent)"
        if isinstance(self.exit, str):
            return f"killed by {self.exit}"
        return f"exited {self.exit}"



def decode_status(status: int) -> int | str:
    """A wait status as the summary shows it: an exit code, or the killing signal's name."""
    if os.WIFSIGNALED(status):
        return signal_name(os.WTERMSIG(status))
    return os.WEXITSTATUS(status)

