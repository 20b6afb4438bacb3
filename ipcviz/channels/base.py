"""What every channel kind provides, in the runtime and inside a worker.

Runtime side (the supervisor process): `create()` the kernel object and register its
name, say which descriptors a worker needs (`child_fds`), drop ends no live worker
needs any more (`release`), read the kernel's own view (`observe`), and `close()`.
Worker side (after fork): `attach(roles)` returns an endpoint with the operations
the step interpreter calls (write/read, send/receive, ...).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ipcviz.host.registry import Registry


class Channel:
    """Base class: one instance per channel of a run, living in the runtime."""

    #: the scenario `kind:` it runs; the roles its steps give workers on it ("write",
    #: "read", "server", ...) are in the table of kinds (ipcviz.scenario.kinds)
    kind: ClassVar[str] = ""

    def __init__(self, name: str, index: int, spec: Any, registry: Registry):
        self.name = name
        self.index = index
        self.spec = spec
        self.registry = registry

    def create(self) -> None:
        """Create the kernel object (the name goes in the registry first)."""

    def child_fds(self, roles: set[str]) -> set[int]:
        """Descriptors a worker with these roles keeps open across fork."""
        return set()

    def attach(self, roles: set[str]) -> Any:
        """In the worker: an endpoint for the steps."""
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
