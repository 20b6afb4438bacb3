"""Per-run names and the registry of everything a run creates (the sweep of dead runs is
in sweep.py).

Every IPC object carries the run id in its name. Before an object is created it is
written to the run's registry file, so a run killed at any moment leaves a list
that the next `ipcviz` start (or `ipcviz clean`) uses to remove what it left.

A run directory `<root>/<run id>` holds the run's bookkeeping at its top (`registry.json`,
`processes`, one `<worker>.log` per worker) and every channel file (FIFOs, socket files,
mapped files, queue spools) in its `ch/` subdirectory, so no channel name can collide
with the bookkeeping.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import posix_ipc

from ipcviz.host.ownership import ipc_identity, is_ours, sysv_key
from ipcviz.host.process import ProcessIdentity
from ipcviz.host.runroot import (
    PREFIX,
    trusted_run_root,
)

CHANNEL_DIR = "ch"  # channel files live here; bookkeeping stays at the run directory's top
REGISTRY_FILE = "registry.json"
PROCESSES_FILE = "processes"
RUN_LOG_ENV = "IPCVIZ_RUN_LOG"  # when set, each new run id is appended to this file (tests)
IPC_KINDS = ("shm", "mqueue", "semaphore", "sysv_msg")
FILE_KINDS = ("fifo", "socket", "file")
SQUAT_RETRIES = 8  # names tried per IPC object when others already hold them
T = TypeVar("T")
_OPEN_NEW = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Registry:
    """The objects of one run; written to `<run dir>/registry.json` before each is created."""

    run_id: str
    directory: Path
    owner: ProcessIdentity
    objects: list[dict] = field(default_factory=list)
    processes: list[list[int]] = field(default_factory=list)

    @classmethod
    def create(cls) -> Registry:
        """Make a new run directory (and its `ch/`) under the trusted run root."""
        root = trusted_run_root()
        run_id = f"{os.getpid()}-{secrets.token_hex(3)}"
        directory = root / run_id
        directory.mkdir(mode=0o700)
        (directory / CHANNEL_DIR).mkdir(mode=0o700)
        _note_run_id(run_id)
        owner = ProcessIdentity.of(os.getpid())
        assert owner is not None
        reg = cls(run_id, directory, owner)
        reg._save()
        return reg

    def ipc_name(self, channel: str) -> str:
        """Name for a POSIX shm/mqueue/semaphore: /ipcviz.<run>.<channel>."""
        return f"/{PREFIX}.{self.run_id}.{channel}"

    def path(self, channel: str) -> Path:
        """A file path (FIFO, socket, mmap file) in the run's channel directory."""
        return self.directory / CHANNEL_DIR / channel

    def create_ipc(self, kind: str, channel: str, make: Callable[[str], T]) -> tuple[str, T]:
        """Create a POSIX IPC object (`make(name)`, which must use O_CREAT|O_EXCL) under a
        name of this run, and return (name, what `make` returned).

        The name is `/ipcviz.<run>.<channel>` when it is free. Another local user sees the
        run id in /dev/shm as soon as the run's first object exists and may create the
        next names first (squatting: a denial of service); a name that is taken is
        dropped from the registry (the object is not ours: never unlinked) and a name
        with a random suffix nobody can guess is used instead."""
        name = self.ipc_name(channel)
        for _ in range(SQUAT_RETRIES):
            self.add(kind, name)
            try:
                return name, make(name)
            except posix_ipc.ExistentialError:
                self._forget(kind, name)
                name = f"{self.ipc_name(channel)}.{secrets.token_hex(4)}"
        raise posix_ipc.ExistentialError(
            f"{kind} names of channel '{channel}' are all taken by other processes")

    def add(self, kind: str, name: str) -> None:
        """Record an object before creating it: one line appended to the registry (a
        rewrite per object made 8,000 semaphores take two minutes to start)."""
        self.objects.append({"kind": kind, "name": name})
        self._append({"kind": kind, "name": name})

    def _forget(self, kind: str, name: str) -> None:
        """The last object recorded turned out not to be ours (its name was taken)."""
        self.objects.pop()
        self._append({"kind": kind, "name": name, "dropped": True})

    def _append(self, entry: dict) -> None:
        fd = os.open(self.directory / REGISTRY_FILE, _OPEN_NEW | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
        finally:
            os.close(fd)

    def add_process(self, ident: ProcessIdentity) -> None:
        self.processes.append([ident.pid, ident.start])
        fd = os.open(self.directory / PROCESSES_FILE, _OPEN_NEW | os.O_APPEND, 0o600)
        try:
            os.write(fd, f"{ident.pid} {ident.start}\n".encode())
        finally:
            os.close(fd)

    def _save(self) -> None:
        """Write the registry's first line (the run and its owner); objects follow, one
        JSON line each, appended by `add`."""
        tmp = self.directory / f"{REGISTRY_FILE}.tmp"
        text = json.dumps({"run_id": self.run_id, "owner": [self.owner.pid, self.owner.start],
                           "objects": self.objects}) + "\n"
        fd = os.open(tmp, _OPEN_NEW | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / REGISTRY_FILE)

    def remove_all(self) -> None:
        """Unlink every registered object that is ours, and the run directory."""
        for obj in self.objects:
            if obj["kind"] in IPC_KINDS and not is_ours(obj["kind"], obj["name"]):
                continue  # gone, or another user's object under a name we meant to use
            unlink_object(obj["kind"], obj["name"])
        shutil.rmtree(self.directory, ignore_errors=True)

    def leaked_objects(self) -> list[str]:
        """Registered objects (and the run dir) still present."""
        left = [f"{o['kind']} {o['name']}" for o in self.objects if object_exists(o["kind"], o["name"])]
        registered = {o["name"].lstrip("/") for o in self.objects}
        left += [f"/dev/shm/{n}" for n in os.listdir("/dev/shm") if self.run_id in n
                 and n not in registered and n.removeprefix("sem.") not in registered
                 and _lstat_uid(f"/dev/shm/{n}") == os.getuid()]  # others' names: not ours
        if self.directory.exists():
            left.append(f"run directory {self.directory}")
        return left


def _note_run_id(run_id: str) -> None:
    """Append the run id to $IPCVIZ_RUN_LOG when set, so a test suite can tell its own
    runs' objects from those of other runs on the machine."""
    log = os.environ.get(RUN_LOG_ENV)
    if not log:
        return
    fd = os.open(log, _OPEN_NEW | os.O_APPEND, 0o600)
    try:
        os.write(fd, f"{run_id}\n".encode())
    finally:
        os.close(fd)


def unlink_object(kind: str, name: str) -> None:
    try:
        if kind == "shm":
            posix_ipc.unlink_shared_memory(name)
        elif kind == "mqueue":
            posix_ipc.unlink_message_queue(name)
        elif kind == "semaphore":
            posix_ipc.unlink_semaphore(name)
        elif kind == "sysv_msg":
            _remove_sysv_queue(name)
        else:  # files: fifo, socket, mmap
            os.unlink(name)
    except (posix_ipc.ExistentialError, FileNotFoundError):
        pass
    except (posix_ipc.PermissionsError, PermissionError):
        pass  # not ours to remove (another user's object in sticky /dev/shm)


def object_exists(kind: str, name: str) -> bool:
    if kind == "shm":
        return os.path.exists("/dev/shm" + name)
    if kind == "semaphore":
        return os.path.exists("/dev/shm/sem." + name.lstrip("/"))
    if kind == "mqueue":
        try:
            posix_ipc.MessageQueue(name).close()
            return True
        except posix_ipc.ExistentialError:
            return False
    if kind == "sysv_msg":
        return ipc_identity(kind, name) is not None
    return os.path.lexists(name)


def _remove_sysv_queue(name: str) -> None:
    """Remove the System V message queue of the run's name `name` (msgctl IPC_RMID) when
    it is ours; its key comes from the name (ownership.sysv_key)."""
    import sysv_ipc

    try:
        queue = sysv_ipc.MessageQueue(sysv_key(name))
        if queue.uid == os.getuid():
            queue.remove()
    except (sysv_ipc.ExistentialError, sysv_ipc.PermissionsError):
        pass


def _lstat_uid(path: str) -> int | None:
    try:
        return os.lstat(path).st_uid
    except OSError:
        return None
