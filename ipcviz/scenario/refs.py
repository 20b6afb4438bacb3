"""What the scenario checks share: summary keys an `expect:` may name, comparisons, the
names a broken part still declares (`Unsure`) and replica names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ipcviz.channels.state_keys import checked_keys
from ipcviz.scenario import schema as s
from ipcviz.scenario.kinds import CHANNELS, state_class

WORKER_KEYS = frozenset({
    "pid", "state", "blocked_on", "exit", "restarts", "zombies", "self_reads",
    "signals_received", "signals_sent", "signals_sent_to", "bytes_written", "bytes_read",
    "messages_sent", "messages_received", "epipe_errors", "increments", "duplicates",
    "output_lines",
})
CHANNEL_KEYS = frozenset({
    "kind", "bytes_written", "bytes_read", "buffered", "max_buffered", "capacity", "depth", "max_depth",
    "messages_sent", "messages_received", "dtype", "shape", "values", "increments",
    "lost_updates", "sum", "initial_sum", "value", "holder", "waiters", "duplicates", "path", "connections",
    "writes", "reads", "dropped", "peers_refused",
    "records_written", "records_read", "torn_reads",
    "calls", "answered", "in_flight", "timeouts", "retries", "gave_up", "executed",
    "executed_twice", "errors", "latency_ms_mean", "latency_ms_max",
    "bytes_sent", "bytes_received", "moved", "mb_per_s", "rank", "handoff", "busy",
    "held", "max_held", "empty_receives", "accept_queue", "max_accept_queue",
    "write_ends_open", "read_ends_open",
    "interrupted_reads", "restarted_reads",
    "in_dev_shm", "size", "declared_size", "contents", "unlinked_by_runtime",
    "syscalls_counted", "messages", "copy_calls", "syscalls", "copy_calls_per_message",
    "syscalls_per_message", "cpu_us_per_message",
})
#: the keys an `expect:` may check in a channel's entry, by kind (the entry has more:
#: docs/scenario-format.md, Channel entries): its state's fields marked `Checked`
#: (channels/state_keys.py), or the keys its row lists; entries.channel_keys adds those
#: that depend on the channel's options and the scenario
CHANNEL_KIND_KEYS: dict[str, frozenset[str]] = {
    kind: checked_keys(state_class(kind), kind) if row.keys is None else row.keys
    for kind, row in CHANNELS.items()}
# and every key of a kind
CHANNEL_KEYS |= {key for keys in CHANNEL_KIND_KEYS.values() for key in keys}
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
