"""The plan of a run: what the scenario's steps mean for its channels and processes,
worked out once when the file is loaded (from the table of kinds) and only read after.

The runtime gives each worker the channel ends its roles need (and closes the rest),
the workers compile their steps against it, and the sampler picks its counters with it;
none of them walks the steps again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipcviz.channels.pipe import KEPT_PREFIX
from ipcviz.scenario import schema
from ipcviz.scenario.kinds import CHANNELS, STEPS
from ipcviz.scenario.programs import exec_roles

#: The target "row" of `signal: {to: parent}` (the runtime has no row of its own).
PARENT_TARGET = -1

Roles = dict[str, frozenset[str]]


@dataclass(frozen=True)
class Plan:
    """Read-only facts about one loaded scenario (every dict here is only read)."""

    #: worker definition -> channel -> roles: its own steps' roles plus those of the
    #: children it spawns (a spawner holds the ends its children inherit)
    roles: dict[str, Roles]
    #: worker definition -> the definitions its steps spawn
    spawns: dict[str, frozenset[str]]
    #: queues some sender may send the same message to twice (acknowledged sends retry)
    retried: frozenset[str]
    #: shared arrays some worker stores into with `set` (lost updates cannot be told)
    arrays_set: frozenset[str]
    #: a worker name or group -> the table rows it reaches (a row is the index of the
    #: instance the runtime starts, in file order)
    target_rows: dict[str, tuple[int, ...]]
    #: worker definition -> (target row, signal) -> slot: one cell per pair its `signal`
    #: steps can send, counted by the sender, added up per target by the sampler
    signal_slots: dict[str, dict[tuple[int, int], int]]

    @property
    def sent_slots(self) -> int:
        """Cells per row the `signal` counters need (the largest definition's)."""
        return max((len(slots) for slots in self.signal_slots.values()), default=0)


def channel_roles(steps: list[schema.Step]) -> dict[str, set[str]]:
    """Channel -> roles these steps (nested ones too) give their worker, from the table."""
    out: dict[str, set[str]] = {}
    for step in schema.all_steps(steps):
        for use, name in STEPS[step.kind].channel_names(step.args):
            out.setdefault(name, set()).add(use.role)
    return out


def spawned_by(steps: list[schema.Step]) -> frozenset[str]:
    """The worker definitions these steps (nested ones too) spawn."""
    return frozenset(step.args for step in schema.all_steps(steps) if step.kind == "spawn")


def make_plan(model: schema.Scenario, instances: list[tuple[str, str]]) -> Plan:
    """The plan of `model`, whose runtime starts `instances` ((name, group) in row order)."""
    workers = model.workers
    spawns = {group: spawned_by(w.steps) for group, w in workers.items()}
    own = {group: exec_roles(w) if w.exec is not None else channel_roles(w.steps)
           for group, w in workers.items()}
    for group, own_roles in own.items():  # a channel's server (and the kids it spawns) serves
        for name in own_roles:
            kind = CHANNELS[model.channels[name].kind]
            if kind.server_option is None:
                continue
            server = getattr(model.channels[name], kind.server_option)
            if server == group or group in spawns.get(server, ()):
                own_roles[name] = {"server"}
    roles: dict[str, Roles] = {}
    for group in workers:
        merged = {name: set(r) for name, r in own[group].items()}
        for kid in spawns[group]:
            for name, r in own[kid].items():
                merged.setdefault(name, set()).update(r)
        for name, end in workers[group].keeps.items():  # held, never used (keeps.py)
            merged.setdefault(name, set()).add(KEPT_PREFIX + end)
        roles[group] = {name: frozenset(r) for name, r in merged.items()}
    target_rows: dict[str, list[int]] = {}
    for row, (name, group) in enumerate(instances):
        target_rows.setdefault(group, []).append(row)
        target_rows.setdefault(name, [row])
    every = [(group, step) for group, w in workers.items() for step in schema.all_steps(w.steps)]
    return Plan(
        roles=roles,
        spawns=spawns,
        retried=frozenset(step.args.to for _, step in every if step.kind == "send"
                          and step.args.ack is not None and step.args.retries),
        arrays_set=frozenset(step.args.array for _, step in every if step.kind == "set"),
        target_rows={name: tuple(rows) for name, rows in target_rows.items()},
        signal_slots={group: _signal_slots(w.steps, target_rows)
                      for group, w in workers.items()},
    )


def _signal_slots(steps: list[schema.Step], target_rows: dict[str, list[int]]
                  ) -> dict[tuple[int, int], int]:
    """(target row, signal) -> slot, for every pair these `signal` steps can send."""
    slots: dict[tuple[int, int], int] = {}
    for step in schema.all_steps(steps):
        if step.kind != "signal":
            continue
        to, sig = step.args.to, int(step.args.sig)
        rows = [PARENT_TARGET] if to == "parent" else target_rows.get(to, [])
        for row in rows:
            slots.setdefault((row, sig), len(slots))
    return slots
