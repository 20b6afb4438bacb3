"""What every channel kind provides, in the runtime and inside a worker.

Runtime side (the supervisor process): `create()` the kernel object and register its
name, say which descriptors a worker needs (`child_fds`), drop ends no live worker
needs any more (`release`), read the kernel's own view (`observe`), and `close()`.
Worker side (after fork): `attach(roles)` returns an endpoint with the operations
the step interpreter calls (write/read, send/receive, ...): each kind's own class, which
satisfies the protocol of its shape (channels/endpoints.py: `StreamEnd`, `MessageEnd`,
...), the only thing the step handlers see of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

from ipcviz.channels.endpoints import Endpoint
from ipcviz.channels.state import Broken
from ipcviz.host.registry import Registry

__all__ = ["Broken", "Channel", "never_down"]

#: what a kind's channel class reads of its options (its `spec`): a protocol its module
#: declares (the options models are a layer above, in scenario/models.py; each one is
#: checked against its kind's protocol in scenario/spec_fits.py)
SpecT = TypeVar("SpecT")


def never_down(data: Mapping[str, Any], before: Mapping[str, Any] | None,
               keys: tuple[str, ...]) -> list[Broken]:
    """Counters that only ever grow: each of `keys` in `data` is >= its value `before`."""
    if before is None:
        return []
    out = []
    for key in keys:
        now, then = data.get(key), before.get(key)
        if isinstance(now, int) and isinstance(then, int) and now < then:
            out.append(Broken("counters never go down", {key: now, "before": then}))
    return out


#: a memory page: what /dev/shm and a file system hand out at least
PAGE = 4096


def pages(n: float) -> float:
    """`n` bytes rounded up to whole pages (math.inf stays itself: no bound)."""
    return math.ceil(n / PAGE) * PAGE if n != math.inf else math.inf


class Room(NamedTuple):
    """What one channel takes at worst, in bytes, checked before a run starts
    (scenario/resources.py): in /dev/shm, in the run directory's file system, and of
    kernel message-queue memory (RLIMIT_MSGQUEUE); or why it has no bound (the field
    path under the channel's entry, and one line)."""

    shm: float = 0
    disk: float = 0
    kernel_queues: float = 0
    unbounded: tuple[tuple[str, ...], str] | None = None


class Traffic(Protocol):
    """What the scenario's steps put through one channel at most in one run, worked out
    by the loader (scenario/resources.py): math.inf where nothing bounds it."""

    def appended(self) -> float:
        """Bytes its writers append (a `from_read` write as its worker's largest read)."""
        ...

    def sends(self) -> float:
        """Messages sent to it (retries and acknowledgements included)."""
        ...

    def largest_message(self) -> int:
        """The largest message sent to it, in bytes (0: none)."""
        ...


class Channel(Generic[SpecT]):
    """Base class: one instance per channel of a run, living in the runtime. Generic in
    what it reads of its options (`Channel[PipeSpec]`)."""

    #: the scenario `kind:` it runs; the roles its steps give workers on it ("write",
    #: "read", "server", ...) are in the table of kinds (ipcviz.scenario.kinds)
    kind: ClassVar[str] = ""

    def __init__(self, name: str, index: int, spec: SpecT, registry: Registry):
        self.name = name
        self.index = index
        self.spec = spec
        self.registry = registry

    def create(self) -> None:
        """Create the kernel object (the name goes in the registry first)."""

    def child_fds(self, roles: set[str]) -> set[int]:
        """Descriptors a worker with these roles keeps open across fork."""
        return set()

    def attach(self, roles: set[str]) -> Endpoint:
        """In the worker: its end for the steps, holding what `roles` use (the kind's
        endpoint class, of the shape its steps use: channels/endpoints.py)."""
        raise NotImplementedError

    def release(self, needed: set[str]) -> None:
        """Close the runtime's handles for roles no live or restartable worker needs."""

    def reopen(self, role: str, holders: list[tuple[int, set[str]]]) -> None:
        """Get back a released end from a live process that holds the object, if any."""

    def observe(self) -> dict:
        """The kernel's view of the object, for Snapshots."""
        return {}

    def close(self) -> None:
        """Close the runtime's handles (the registry unlinks names)."""

    #: its messages carry a type (`type:` on send and receive steps)
    MESSAGE_TYPES: ClassVar[bool] = False

    @classmethod
    def step_problems(cls, step: str, args: Any) -> list[tuple[tuple[str, ...], str]]:
        """What is wrong with a step of kind `step` (its `args`) working on a channel of
        this kind, as (field path under the step, one line); checked when the scenario
        loads. Here: `type:` only where messages have types."""
        if not cls.MESSAGE_TYPES and getattr(args, "type", None) is not None:
            return [(("type",), f"{cls.kind} channels have no message types; `type:` "
                                "needs a sysv_queue")]
        return []

    @classmethod
    def room(cls, spec: SpecT, traffic: Traffic) -> Room:
        """What a channel of this kind, configured as `spec`, takes at worst when the
        scenario's steps put `traffic` through it. Here: nothing beyond descriptors."""
        return Room()

    @classmethod
    def counted(cls, column: Any) -> dict:
        """Frame data a kind adds from its own counter cells (`column(cell)`: that cell of
        this channel in every worker's row), beyond its family's counters."""
        return {}

    @classmethod
    def derived(cls, data: dict) -> None:
        """Add to the frame data what follows from the rest of it (after `counted` and
        `observe`)."""

    #: the counters of its frame data that only ever grow (summed over the workers)
    COUNTERS: ClassVar[tuple[str, ...]] = ()
    #: a worker's wait on it can change the kernel object as the wait ends, a moment before
    #: the worker counts it (a semaphore taken): the sampler checks its relations after
    #: each reading and reads again when they break (runtime/moment.py)
    WAIT_CHANGES_IT: ClassVar[bool] = False

    @classmethod
    def relations(cls, data: Mapping[str, Any], before: Mapping[str, Any] | None
                  ) -> list[Broken]:
        """The relations this kind's frame data always satisfies, for a kind whose state
        is not typed (a typed state states its own: `ChannelState.relations`), broken
        ones returned: here its COUNTERS never go down from the frame `before` (None for
        the first frame); kinds add their own. Every frame must keep these (`ipcviz
        replay FILE --check`)."""
        return never_down(data, before, cls.COUNTERS)
