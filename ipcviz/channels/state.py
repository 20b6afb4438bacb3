"""What one channel is in one frame, typed: a frozen state per family of channel kinds.

The runtime sums each channel's counters over the workers' rows and reads the kernel's
view of it (`Channel.observe`); the result crosses to the UI, the summary, the recordings
and the frame checks as one of these states, never as loose keys. A state's `to_dict()`
is the channel's `data` in the JSON summary and in recordings, key for key as it has
always been: a field that is None is a key the frame does not have (a socket has no
`buffered`, a pipe used only by programs no `bytes_written`), so `from_dict(to_dict())`
gives the same state back and old recordings still load.

Families: `StreamState` here (bytes through a stream: pipe, fifo, socket, file, and kinds
registered from elsewhere), with the kind-specific parts in small subclasses
(`PipeState`, `SocketState`, `FileState`); `QueueState` (queue_state.py), `LockState`
(lock_state.py), `RpcState` (rpc_state.py), and memory's, one per kind
(memory_state.py); a kind of a family with no state of its own (registered from
elsewhere) carries its keys in a `DictState` (families.py says which state each family
has). Each state states its relations (`relations`), the invariants every frame keeps:
`ipcviz replay --check` and the sampler check them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, ClassVar, NamedTuple, TypeVar

from ipcviz.channels.wire import Checked, Wire

__all__ = ["Broken", "ChannelState", "Cost", "DictState", "FileState", "PipeState", "Race",
           "SocketState", "StreamState"]



class Broken(NamedTuple):
    """A relation a channel's frame state broke: the rule's name and the values that
    broke it (the invariants check, ipcviz/telemetry/invariants.py, adds where)."""

    rule: str
    values: dict[str, Any]

S = TypeVar("S", bound="ChannelState")

#: the keys a channel in the speed race carries (`Race`), last in its data
RACE_KEYS = ("moved", "mb_per_s", "rank")


@dataclass(frozen=True)
class Race:
    """A channel the scenario compares (`compare:`): the bytes that arrived (read from a
    stream, received from a queue), their average rate over the run so far, and its place
    (1 = the most bytes moved; ties share a place)."""

    moved: int
    mb_per_s: float
    rank: int


@dataclass(frozen=True)
class Cost:
    """A compared channel's system-call cost (`compare:` with the kernel's counts): whether
    the calls are counted (or why not), the messages, calls and CPU time, per message too."""

    syscalls_counted: bool
    syscalls_unavailable: str | None = None
    messages: int | None = None
    syscalls: int | None = None
    syscalls_per_message: float | None = None
    cpu_us_per_message: float | None = None
    copy_calls: int | None = None
    """The calls that copy the data (read, write, ...), for kinds whose calls copy it."""
    copy_calls_per_message: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: value for f in fields(self)
                if (value := getattr(self, f.name)) is not None}


def cost_of(data: Mapping[str, Any]) -> Cost | None:
    """The cost keys of a channel's data, when it has them."""
    if "syscalls_counted" not in data:
        return None
    return Cost(**{f.name: data[f.name] for f in fields(Cost) if f.name in data})


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(klass: type) -> tuple[str, ...]:
    """A state's keys in their order: its fields less `race` and `cost` (their keys go
    last) and the `recorded_` ones (keys of old recordings, written back as they were);
    made once a class."""
    names = _NAMES.get(klass)
    if names is None:
        names = _NAMES[klass] = tuple(f.name for f in fields(klass)
                                       if f.name not in ("race", "cost")
                                       and not f.name.startswith("recorded_"))
    return names


@dataclass(frozen=True, kw_only=True)
class ChannelState:
    """What every channel's state has: its place in the speed race, if it runs in one."""

    race: Race | None = None
    """Set only for a channel the scenario compares (`compare:`)."""
    cost: Cost | None = None
    """Set only for a compared channel whose system calls are counted."""

    #: the fields that only ever grow (summed over the workers)
    COUNTERS: ClassVar[tuple[str, ...]] = ()
    #: fields whose key is there, None or not, when another field is there (a semaphore's
    #: `value` is null once the kernel object is gone, beside its `initial`)
    KEPT_WITH: ClassVar[dict[str, str]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The channel's `data` as the summary and the recordings have it."""
        kept = self.KEPT_WITH
        out = {name: value for name in _names(type(self))
               if (value := getattr(self, name)) is not None
               or name in kept and getattr(self, kept[name]) is not None}
        return self._with_race(out)

    def _with_race(self, out: dict[str, Any]) -> dict[str, Any]:
        """`out` with the race keys last, when the channel runs in one, and its cost."""
        if self.race is not None:
            out.update(moved=self.race.moved, mb_per_s=self.race.mb_per_s,
                       rank=self.race.rank)
        if self.cost is not None:
            out.update(self.cost.to_dict())
        return out

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any]) -> S:
        """The state of a channel's `data` (keys it does not know are left out)."""
        return cls(**cls.arguments(data))

    @classmethod
    def arguments(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of the state of `data`, by name."""
        names = _names(cls)
        known = {key: value for key, value in data.items() if key in names}
        known["race"] = race_of(data)
        known["cost"] = cost_of(data)
        return known

    def relations(self, before: ChannelState | None) -> list[Broken]:
        """The relations this state always satisfies, broken ones returned: here its
        COUNTERS never go down from the frame `before` (None for the first frame)."""
        if before is None or type(before) is not type(self):
            return []
        out = []
        for key in self.COUNTERS:
            now, then = getattr(self, key), getattr(before, key)
            if isinstance(now, int) and isinstance(then, int) and now < then:
                out.append(Broken("counters never go down", {key: now, "before": then}))
        return out

    def bytes_arrived(self) -> int:
        """The bytes that came out of it so far (read from a stream or memory, received
        from a queue): what the speed race compares. Here: none counted."""
        return 0


#: the keys of a compared channel's cost (`Cost`), after the race's
COST_KEYS = ("syscalls_counted", "syscalls_unavailable", "messages", "copy_calls",
             "syscalls", "copy_calls_per_message", "syscalls_per_message",
             "cpu_us_per_message")


def race_of(data: Mapping[str, Any]) -> Race | None:
    """The race keys of a channel's data, when it has them."""
    if "rank" not in data or "moved" not in data:
        return None
    return Race(data["moved"], data.get("mb_per_s", 0.0), data["rank"])


@dataclass(frozen=True, kw_only=True)
class DictState(ChannelState):
    """A channel of a family whose state is not typed yet: its keys as the runtime wrote
    them (`values`, the race keys aside)."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self._with_race(dict(self.values))

    def bytes_arrived(self) -> int:
        """Its bytes received, else its bytes read, as its keys say."""
        values = self.values
        return int(values.get("bytes_received", values.get("bytes_read", 0)) or 0)

    @classmethod
    def arguments(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        values = {key: value for key, value in data.items()
                  if key not in RACE_KEYS and key not in COST_KEYS}
        return {"race": race_of(data), "cost": cost_of(data), "values": values}


@dataclass(frozen=True, kw_only=True)
class ByteCounts(ChannelState):
    """Bytes the workers counted as they wrote and read them (a stream, or memory they
    share), and each reader's last read; the counters never go down."""

    bytes_written: Annotated[int | None, Checked()] = None
    """None for a pipe only programs (`exec:`) use: no step counts its bytes."""
    bytes_read: Annotated[int | None, Checked()] = None
    last_read: Annotated[dict[str, list[Any]] | None, Wire(dict[str, tuple[str, int]])] = None
    """Per worker that has read it: [its last read's first bytes as text, its length]."""

    COUNTERS: ClassVar[tuple[str, ...]] = ("bytes_written", "bytes_read")

    @property
    def written(self) -> int:
        """Bytes written (0 when not counted)."""
        return self.bytes_written or 0

    @property
    def read(self) -> int:
        """Bytes read (0 when not counted)."""
        return self.bytes_read or 0

    def bytes_arrived(self) -> int:
        return self.read


@dataclass(frozen=True, kw_only=True)
class StreamState(ByteCounts):
    """Bytes through a stream: counted by the workers that write and read it, and what
    the kernel holds of them (a buffer against its capacity) when it can say."""

    interrupted_reads: int | None = None
    """Reads a signal interrupted (EINTR), for a stream read with `interruptible: true`."""
    restarted_reads: int | None = None
    buffered: Annotated[int | None, Checked("pipe", "fifo")] = None
    """Bytes in the kernel now (written, not yet read); checked where the kernel always
    says (a pipe's or FIFO's buffer)."""
    max_buffered: Annotated[int | None, Checked("pipe", "fifo")] = None
    """The most the sampler has seen in the kernel."""
    capacity: Annotated[int | None, Checked("pipe", "fifo")] = None

    def relations(self, before: ChannelState | None) -> list[Broken]:
        """Every byte written is read or still in the kernel (written - read = in the
        kernel), and the kernel holds between 0 and its capacity, where it says."""
        out = super().relations(before)
        written, read, buffered = self.bytes_written, self.bytes_read, self.buffered
        if written is not None and read is not None and buffered is not None:
            if written - read != buffered:
                out.append(Broken("written - read = in the kernel", {
                    "written": written, "read": read, "in the kernel": buffered}))
        capacity = self.capacity
        if buffered is not None and capacity is not None and not 0 <= buffered <= capacity:
            out.append(Broken("0 <= in the kernel <= capacity", {
                "in the kernel": buffered, "capacity": capacity}))
        return out


@dataclass(frozen=True, kw_only=True)
class PipeState(StreamState):
    """A pipe or a FIFO: who holds its ends (from every process's descriptors), and
    what was lost when every end closed."""

    closed: bool | None = None
    """Every end is closed: the kernel freed the pipe (`buffered` is the last reading)."""
    unread_at_close: int | None = None
    path: Annotated[str | None, Checked("fifo")] = None
    """A FIFO's path."""
    open_by: dict[str, list[str]] | None = None
    """A FIFO: the workers holding it open, for "read" and for "write"."""
    write_ends: list[str] | None = None
    """A pipe: each holder of a write end ("reader fd 4")."""
    read_ends: list[str] | None = None
    write_ends_open: Annotated[int | None, Checked("pipe")] = None
    """A pipe: its ends still open, counted in every process of the run (/proc)."""
    read_ends_open: Annotated[int | None, Checked("pipe")] = None
    ends_hidden: list[str] | None = None
    """The processes whose descriptors the kernel hides (the ends are not counted)."""
    uncounted: bool | None = None
    """Only programs use it: no step counted its bytes."""
    traced_bytes: dict[str, list[int]] | None = None
    """What strace saw each traced program write and read through it."""

    @property
    def named(self) -> bool:
        """A FIFO: a pipe with a path."""
        return self.path is not None


@dataclass(frozen=True, kw_only=True)
class SocketState(StreamState):
    """A socket: its calls (a stream keeps no message boundaries, datagrams do), its
    address, and the kernel's connections, drops and accept queue."""

    writes: Annotated[int | None, Checked()] = None
    reads: Annotated[int | None, Checked()] = None
    peers_refused: Annotated[int | None, Checked()] = None
    """Connections from outside the run, refused."""
    address: str | None = None
    family: str | None = None
    """unix, tcp or udp."""
    type: str | None = None
    """"dgram" for a datagram socket; None for a stream."""
    server: str | None = None
    connections: int | None = None
    dropped: int | None = None
    """Datagrams the kernel dropped (a full receive buffer)."""
    accept_queue: int | None = None
    max_accept_queue: int | None = None

    COUNTERS: ClassVar[tuple[str, ...]] = ("bytes_written", "bytes_read", "writes", "reads")

    @property
    def datagrams(self) -> bool:
        return self.type == "dgram"


@dataclass(frozen=True, kw_only=True)
class FileState(StreamState):
    """A plain file appended to in records: records written and read whole, reads that
    found a record half written, and whether a lock guards them."""

    records_written: Annotated[int | None, Checked()] = None
    records_read: Annotated[int | None, Checked()] = None
    torn_reads: Annotated[int | None, Checked()] = None
    path: Annotated[str | None, Checked()] = None
    lock: bool | None = None
    file_bytes: int | None = None

    COUNTERS: ClassVar[tuple[str, ...]] = ("bytes_written", "bytes_read", "records_written",
                                           "records_read", "torn_reads")
