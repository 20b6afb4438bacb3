"""What the scenario checks share: summary keys an `expect:` may name, comparisons, the
names a broken part still declares (`Unsure`) and replica names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ipcviz.channels.state import COST_KEYS, RACE_KEYS
from ipcviz.channels.state_keys import checked_keys
from ipcviz.scenario import schema as s
from ipcviz.scenario.kinds import CHANNELS, state_class

WORKER_KEYS = frozenset({
    "pid", "state", "blocked_on", "exit", "restarts", "zombies", "self_reads",
    "signals_received", "signals_sent", "signals_sent_to", "bytes_written", "bytes_read",
    "messages_sent", "messages_received", "epipe_errors", "increments", "duplicates",
    "output_lines",
})
#: the keys an `expect:` may check in a channel's entry, by kind (the entry has more:
#: docs/scenario-format.md, Channel entries): its state's fields marked `Checked`
#: (channels/state_keys.py), or the keys its row lists; entries.channel_keys adds those
#: that depend on the channel's options and the scenario (below)
CHANNEL_KIND_KEYS: dict[str, frozenset[str]] = {
    kind: checked_keys(state_class(kind), kind) if row.keys is None else row.keys
    for kind, row in CHANNELS.items()}
#: a stream socket's connections, a datagram socket's drops, a TCP listener's accept queue
#: (channels/tcp_table.py)
STREAM_SOCKET_KEYS = frozenset({"connections"})
DATAGRAM_KEYS = frozenset({"dropped"})
TCP_KEYS = frozenset({"accept_queue", "max_accept_queue"})
#: a pipe's or FIFO's reads that a signal interrupted or restarted: counted only where a
#: worker reads it with `interruptible: true` (worker/eintr.py)
EINTR_KEYS = frozenset({"interrupted_reads", "restarted_reads"})
#: a channel named in `compare:` has its race's keys ...
COMPARE_KEYS = frozenset(RACE_KEYS)
#: ... and, with `count_syscalls: true`, its cost's (runtime/syscall_views.py), but the
#: reason they are not counted, which only some machines give
SYSCALL_KEYS = frozenset(COST_KEYS) - {"syscalls_unavailable"}
#: every key a check may name in some channel's entry (`duplicates`, a worker's key, is
#: accepted here too, as it always was)
CHANNEL_KEYS = frozenset({"kind", "duplicates"}).union(
    *CHANNEL_KIND_KEYS.values(), STREAM_SOCKET_KEYS, DATAGRAM_KEYS, TCP_KEYS, EINTR_KEYS,
    COMPARE_KEYS, SYSCALL_KEYS)
_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_comparison(value: object) -> tuple[str, object] | None:
    """'>=1' -> ('>=', 1); 5 -> ('==', 5); 'SIGKILL' -> ('==', 'SIGKILL'); None if not a value."""
    if isinstance(value, bool) or value is None or isinstance(value, list):
        return ("==", value)
    if isinstance(value, (int, float)):
        return ("==", value)
    if isinstance(value, str):
        m = _COMPARISON.match(value)
        if m:
            number = float(m.group(2))
            return (m.group(1) or "==", int(number) if number.is_integer() else number)
        return ("==", value)
    return None


@dataclass
class Unsure:
    """Names the file declares whose definitions did not validate (partial.py): a
    reference to one of them is neither known to be wrong nor checkable further."""

    channels: set[str] = field(default_factory=set)
    workers: set[str] = field(default_factory=set)
    #: the whole `channels:` (or `workers:`) section is broken: no name is known
    all_channels: bool = False
    all_workers: bool = False
    #: broken channels whose `kind` itself is valid: steps can be checked against it
    channel_kinds: dict[str, str] = field(default_factory=dict)

    def channel(self, name: str) -> bool:
        return self.all_channels or name in self.channels

    def declared(self, known: Iterable[str], workers: bool) -> list[str]:
        """`known` names and then the declared ones whose definitions are broken, for the
        list an "unknown ..." line shows."""
        names = list(known)
        return names + sorted((self.workers if workers else self.channels) - set(names))

    def worker(self, name: str) -> bool:
        """A group, or one of its instances (NAME.0) or spawned children (NAME#1)."""
        return self.all_workers or name in self.workers or \
            re.split(r"[.#]", name)[0] in self.workers


def instance_names(name: str, worker: s.Worker) -> list[str]:
    """The process names a worker definition starts: NAME, or NAME.0, NAME.1, ..."""
    if worker.count == 1:
        return [name]
    return [f"{name}.{i}" for i in range(worker.count)]
