"""A POSIX shared memory object by its name: it lives in the kernel (/dev/shm), not in a
process, and it has a fixed size.

The runtime creates it (shm_open O_CREAT|O_EXCL, mode 0600, ftruncate to `size`) and
keeps no descriptor and no mapping of it: once the workers that used it have exited, no
process holds it, and it is still there, with its bytes, until a worker's `unlink` step
(or the runtime's cleanup at the end of the run) removes the name. A worker opens it by
name on first use and maps it at the size it had then, keeping that mapping: when the
object is truncated under it (`truncate`), the mapping stays as long as it was, but the
pages past the new end have nothing behind them, and touching one raises SIGBUS.

The sampler reads the object as anyone would: lstat of /dev/shm/NAME (a regular file of
ours, not a link) and its first bytes through a descriptor opened for reading and closed
at once.
"""

from __future__ import annotations

import mmap
import os
import stat
from typing import Any, Protocol, runtime_checkable

import posix_ipc

from ipcviz.channels.base import Channel
from ipcviz.channels.endpoints import Endpoint
from ipcviz.channels.memory_state import ShmState

SHM_DIR = "/dev/shm"
#: bytes of the object's start shown (what a `read` of it sees first)
PREVIEW_BYTES = 32


def object_path(name: str) -> str:
    """The file behind a POSIX shm name on Linux ("/x" -> /dev/shm/x)."""
    return SHM_DIR + name


class NotOurs(PermissionError):
    """The name holds an object this user did not make (another user's, after an unlink)."""


def _open_ours(path: str, flags: int) -> int:
    """A descriptor of the object at `path`, refusing links and other users' objects."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        os.close(fd)
        raise NotOurs(f"{path} is not a shared memory object of yours")
    return fd


class ShmSpec(Protocol):
    """What a shm channel reads of its options."""

    @property
    def size(self) -> int:
        """The object's size in bytes when it is created."""


@runtime_checkable
class ShmEnd(Protocol):
    """A POSIX shm object used by its name. Nothing waits; OSError when the name is gone
    or is not ours. A store on a page past the object's end is a SIGBUS."""

    def mapping(self) -> mmap.mmap:
        """This worker's mapping (made on first use, at the size the object had then)."""
        ...

    def size_now(self) -> int:
        """The object's size in the kernel now."""
        ...

    def write(self, data: bytes, at: int) -> int:
        """Store `data` at offset `at` of the mapping: the bytes stored."""
        ...

    def read(self, nbytes: int) -> bytes:
        """A copy of the mapping's first `nbytes`."""
        ...

    def truncate(self, size: int) -> None:
        """ftruncate the object to `size` bytes."""
        ...

    def unlink(self) -> None:
        """shm_unlink the name (posix_ipc's error when it is gone)."""
        ...


class ShmEndpoint(ShmEnd, Endpoint):
    """A worker's use of the object: opened by name on first use, mapped at the size the
    object had then (that mapping is kept while the worker lives)."""

    def __init__(self, name: str):
        self.name = name
        self.path = object_path(name)
        self.map: mmap.mmap | None = None

    def for_roles(self, roles: set[str]) -> ShmEndpoint:
        return ShmEndpoint(self.name)  # a spawned child opens and maps it itself

    def mapping(self) -> mmap.mmap:
        if self.map is None:
            fd = _open_ours(self.path, os.O_RDWR)
            try:
                self.map = mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED)
            finally:
                os.close(fd)
        return self.map

    def size_now(self) -> int:
        """The object's size in the kernel now (another worker may have truncated it)."""
        return os.stat(self.path, follow_symlinks=False).st_size

    def write(self, data: bytes, at: int) -> int:
        """Store `data` at offset `at` of the mapping. A byte of a page past the object's
        end raises SIGBUS here: the process dies of it (its default action)."""
        view = self.mapping()
        n = max(0, min(len(data), len(view) - at))
        view[at:at + n] = data[:n]
        return n

    def read(self, nbytes: int) -> bytes:
        view = self.mapping()
        return bytes(view[:min(nbytes, len(view))])

    def truncate(self, size: int) -> None:
        fd = _open_ours(self.path, os.O_RDWR)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)

    def unlink(self) -> None:
        posix_ipc.unlink_shared_memory(self.name)


class ShmObjectChannel(Channel[ShmSpec]):
    """The runtime's side: create the object, then only look at it by its name."""

    kind = "shm"

    def create(self) -> None:
        def make(name: str) -> None:
            shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600,
                                         size=self.spec.size)
            shm.close_fd()  # the runtime keeps nothing of it open

        self.ipc_name, _ = self.registry.create_ipc("shm", self.name, make)
        self.path = object_path(self.ipc_name)
        self.gone = False

    def attach(self, roles: set[str]) -> ShmEndpoint:
        return ShmEndpoint(self.ipc_name)

    def observe(self) -> dict:
        data: dict[str, Any] = {"path": self.path, "declared_size": self.spec.size}
        if not self.gone:
            try:
                fd = _open_ours(self.path, os.O_RDONLY)
            except (FileNotFoundError, NotOurs):
                self.gone = True  # unlinked (a name someone made since is not ours)
            else:
                try:
                    size = os.fstat(fd).st_size
                    head = os.pread(fd, min(PREVIEW_BYTES, size), 0) if size else b""
                finally:
                    os.close(fd)
                data.update(in_dev_shm=True, size=size,
                            contents=head.split(b"\0", 1)[0].decode("utf-8", "replace"))
                return data
        data.update(in_dev_shm=False, size=0, contents="")
        return data


def after_cleanup(snap: Any) -> Any:
    """The run's last Snapshot with, for each shm object still in /dev/shm on it, whether
    the runtime's cleanup unlinked it (looked at after the cleanup: the name is gone)."""
    from dataclasses import replace

    channels = []
    for c in snap.channels:
        state = c.state
        if isinstance(state, ShmState) and state.in_dev_shm and state.path is not None:
            gone = not os.path.lexists(state.path)
            c = replace(c, state=replace(state, unlinked_by_runtime=gone))
        channels.append(c)
    return replace(snap, channels=tuple(channels))


def holds(pid: int, path: str) -> bool:
    """Process `pid` has the object at `path` mapped (/proc/PID/maps, " (deleted)" once
    unlinked) or a descriptor of it open; False when the process is gone."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            if any(line.rstrip("\n").removesuffix(" (deleted)").endswith(" " + path)
                   for line in maps):
                return True
        fd_dir = f"/proc/{pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(f"{fd_dir}/{fd}").removesuffix(" (deleted)") == path:
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False
