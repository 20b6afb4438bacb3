"""The cost of a message in system calls (`count_syscalls: true`): for each compared
channel, the system calls of the workers that move its messages, counted by the kernel
(host/syscall_count.py), beside the messages they moved and the CPU time they spent.

What is counted: each worker's counters are opened right after it is forked, while it
waits at the start gate, and started before the gate opens; they run to the worker's
end (a counter of an exited process keeps its final count, so the last reading sees it
even after the worker was reaped). A held start (`start: held`) counts from the moment
it goes on (space), not its wait; a run paused or slowed down later counts the calls of
that waiting too. Two kinds of count:

- `copy_calls`: the calls that copied a message into or out of the kernel, named per kind
  (a pipe's or FIFO's write and read, a socket's sendto and recvfrom, a queue's
  mq_timedsend and mq_timedreceive), counted only when they moved something (a write,
  read, send or receive that returned at least one byte; a queue's send that returned
  0). A call that failed with EAGAIN, and the gate's own read of end-of-file, are not
  counted. Exact: two per message for these kinds. Shared memory has no such call: the
  reader's loads read the writer's stores, so its count is 0 by construction. Other kinds
  (a file, the runtime's queue) have no `copy_calls`: their calls are not one pair.
- `syscalls`: every call the workers entered, waiting included (poll after EAGAIN, the
  semaphores' futex when one has to sleep, signal masks around a burst of writes, the
  worker's own start and end). It depends on how often a process had to wait, so it
  varies from run to run.

`cpu_us_per_message`: the CPU time of the channel's workers (the kernel's task clock, in
nanoseconds) per message, while every compared pair shares this machine's CPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ipcviz.channels.queue_state import QueueState
from ipcviz.channels.state import Cost
from ipcviz.host.syscall_count import CpuClock, SyscallCounter, unavailable
from ipcviz.scenario import schema as s

if TYPE_CHECKING:
    from ipcviz.runtime.procs import Proc
    from ipcviz.telemetry.snapshot import ChannelView

__all__ = ["COPY_CALLS", "NO_COPY_CALLS", "SyscallViews"]

#: per channel kind: the call that copies a message in (the writer's) and out (the
#: reader's), each with the least it returns when it moved something
COPY_CALLS: dict[str, tuple[tuple[str, int], tuple[str, int]]] = {
    "pipe": (("write", 1), ("read", 1)),
    "fifo": (("write", 1), ("read", 1)),
    "socket": (("sendto", 1), ("recvfrom", 1)),
    "mqueue": (("mq_timedsend", 0), ("mq_timedreceive", 0)),
}
#: kinds no system call copies a message through: 0 copy calls by construction
NO_COPY_CALLS = frozenset({"mmap"})
_SENDS, _RECEIVES = ("write", "send"), ("read", "receive")


@dataclass
class _Counted:
    """One worker's counters and their last readings."""

    every: SyscallCounter
    cpu: CpuClock
    #: channel -> its copy counters (writer's side, reader's side, as the worker uses it)
    copies: dict[str, list[SyscallCounter]] = field(default_factory=dict)
    calls: int = 0
    cpu_ns: int = 0
    copied: dict[str, int] = field(default_factory=dict)

    def read(self) -> None:
        try:
            self.calls, self.cpu_ns = self.every.read(), self.cpu.read()
            self.copied = {c: sum(k.read() for k in ks) for c, ks in self.copies.items()}
        except OSError:
            pass  # (the last readings stand)

    def counters(self) -> list[SyscallCounter | CpuClock]:
        """Every counter of the worker."""
        return [self.every, self.cpu, *(k for ks in self.copies.values() for k in ks)]

    def close(self) -> None:
        for counter in self.counters():
            counter.close()


def _uses(worker: s.Worker, channel: str) -> tuple[bool, bool]:
    """(sends to it, receives from it): how the worker's steps use the channel."""
    sends = receives = False
    for step in s.all_steps(worker.steps):
        if step.kind in _SENDS and getattr(step.args, "to", None) == channel:
            sends = True
        if step.kind in _RECEIVES and getattr(step.args, "from_", None) == channel:
            receives = True
    return sends, receives


def message_size(scn: s.Scenario, channel: str) -> int:
    """The size of the messages written or sent to `channel` (its first sending step's)."""
    for worker in scn.workers.values():
        for step in s.all_steps(worker.steps):
            if step.kind in _SENDS and getattr(step.args, "to", None) == channel:
                return len(step.args.payload_bytes()) or 1
    return 1


class SyscallViews:
    """Counts the compared channels' workers' system calls and adds them to the channels'
    views; does nothing unless the scenario says `count_syscalls: true`."""

    def __init__(self, scn: s.Scenario) -> None:
        self.scenario = scn
        self.wanted = scn.count_syscalls and bool(scn.compare)
        #: why the calls are not counted (None: they are, or were not asked for)
        self.reason: str | None = unavailable() if self.wanted else None
        self.counted: dict[str, _Counted] = {}
        #: compared channel -> the workers (their definitions' names) that use it
        self.users = {c: [w for w, d in scn.workers.items() if any(_uses(d, c))]
                      for c in scn.compare} if self.wanted else {}

    def open(self, procs: list[Proc]) -> None:
        """Open and start every counter of the workers that use a compared channel (before
        the start gate opens)."""
        if not self.wanted or self.reason is not None:
            return
        try:
            for proc in procs:
                definition = proc.instance.definition
                mine = [c for c, users in self.users.items()
                        if proc.instance.group in users]
                if not mine or proc.ident is None:
                    continue
                counted = self.counted[proc.name] = _Counted(
                    SyscallCounter(proc.ident.pid), CpuClock(proc.ident.pid))
                for channel in mine:
                    calls = COPY_CALLS.get(self.scenario.channels[channel].kind)
                    if calls is None:
                        continue
                    counted.copies[channel] = [
                        SyscallCounter(proc.ident.pid, call, least=least)
                        for (call, least), used in zip(calls, _uses(definition, channel))
                        if used]
            for counted in self.counted.values():
                for counter in counted.counters():
                    counter.start()
        except OSError as exc:
            self.close()
            self.reason = f"the kernel's count of system calls could not start ({exc.strerror})"

    def restart(self) -> None:
        """Every count back to zero: a held start goes on (every worker still held at its
        first step, so no copy call is lost), and its waiting is not counted."""
        try:
            for counted in self.counted.values():
                for counter in counted.counters():
                    counter.start()
        except OSError:
            pass  # (counting from the gate, as without a held start)

    def read(self) -> None:
        """Every counter's count now."""
        for counted in self.counted.values():
            counted.read()

    def annotate(self, channels: tuple[ChannelView, ...]) -> tuple[ChannelView, ...]:
        """Each compared channel's messages, calls and CPU time, per message too, in its
        state's `cost`."""
        if not self.wanted:
            return channels
        return tuple(replace(view, state=replace(view.state, cost=self._cost(view)))
                     if view.name in self.users else view for view in channels)

    def _cost(self, view: ChannelView) -> Cost:
        if self.reason is not None:
            return Cost(False, self.reason)
        state = view.state
        mine = [c for name, c in self.counted.items()
                if name.split(".")[0] in self.users[view.name]]
        received = state.messages_received if isinstance(state, QueueState) else None
        if received is not None:
            messages = received
        else:
            moved = state.race.moved if state.race is not None else 0
            messages = moved // message_size(self.scenario, view.name)
        calls = sum(c.calls for c in mine)
        cpu_ns = sum(c.cpu_ns for c in mine)
        copies = copies_per = None
        if view.kind in COPY_CALLS or view.kind in NO_COPY_CALLS:
            copies = sum(c.copied.get(view.name, 0) for c in mine)
            copies_per = round(copies / messages, 2) if messages else None
        # before a message has gone through there is no "per message" (not 0: a pipe
        # shown making 0 copy calls a message would be saying what shared memory does)
        return Cost(True, None, messages, calls,
                    round(calls / messages, 2) if messages else None,
                    round(cpu_ns / 1e3 / messages, 2) if messages else None,
                    copies, copies_per)

    def close(self) -> None:
        """Give every counter back."""
        for counted in self.counted.values():
            counted.close()
        self.counted.clear()
