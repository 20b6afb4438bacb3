"""What the runtime hands a freshly forked worker (and a spawner hands its children)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ipcviz.channels.endpoints import Endpoint
from ipcviz.host.process import ProcessIdentity
from ipcviz.scenario import schema
from ipcviz.scenario.plan import Plan
from ipcviz.telemetry import table as T
from ipcviz.worker.ends import Ends


@dataclass
class WorkerContext:
    """Everything a freshly forked worker needs, handed over by the runtime."""

    name: str
    definition: schema.Worker
    row: int
    table: T.Table
    #: its end of each channel it uses, as the kind's `attach` made it
    endpoints: dict[str, Endpoint]
    channel_index: dict[str, int]
    runtime: ProcessIdentity
    #: the scenario's plan (roles per definition, signal targets and slots, retried
    #: queues), worked out at load; only read
    plan: Plan
    gate_fd: int | None = None
    #: rows this worker may give to the children it spawns
    spawn_rows: list[int] = field(default_factory=list)
    #: worker definitions by name (for `spawn`)
    definitions: dict[str, schema.Worker] = field(default_factory=dict)
    channel_kinds: dict[str, str] = field(default_factory=dict)
    #: the worker definition's name (group), to know its roles and signal slots
    definition_name: str = ""
    #: the run's process slots (host/limits.py): take one to spawn, give one per reap
    process_slots: tuple[int, int] | None = None
    #: the same ends, by the shape the step handlers use (`ends.stream[name]`, ...)
    ends: Ends = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.ends = Ends(self.endpoints, self.channel_kinds)

    def own_roles(self, channel: str) -> frozenset[str] | None:
        """The roles this worker's group has on `channel`, or None when the group is not
        known (then assume it may do anything)."""
        if not self.definition_name:
            return None
        return self.plan.roles.get(self.definition_name, {}).get(channel, frozenset())
