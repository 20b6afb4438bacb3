"""Per-run names and the registry of everything a run creates, and the sweep of dead runs.

Every IPC object carries the run id in its name. Before an object is created it is
written to the run's registry file, so a run killed at any moment leaves a list
that the next `ipcviz` start (or `ipcviz clean`) uses to remove what it left.

A run directory `<root>/<run id>` holds the run's bookkeeping at its top (`registry.json`,
`processes`, one `<worker>.log` per worker) and every channel file (FIFOs, socket files,
mapped files, queue spools) in its `ch/` subdirectory, so no channel name can collide
with the bookkeeping. The sweep acts only on what it can prove is ours (see `sweep_dead_runs`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import posix_ipc

from ipcviz.host.process import ProcessIdentity
from ipcviz.host.runroot import (
    PREFIX,
    is_run_id,
    read_private_file,
    trusted_run_root,
)

CHANNEL_DIR = "ch"  # channel files live here; bookkeeping stays at the run directory's top
REGISTRY_FILE = "registry.json"
PROCESSES_FILE = "processes"
RUN_LOG_ENV = "IPCVIZ_RUN_LOG"  # when set, each new run id is appended to this file (tests)
IPC_KINDS = ("shm", "mqueue", "semaphore")
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
            if obj["kind"] in IPC_KINDS and _ipc_owner(obj["kind"], obj["name"]) not in (
                    None, os.getuid()):
                continue  # another user's object under a name we meant to use: not ours
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
    return os.path.lexists(name)


# ------------------------------------------------------------------ the sweep


@dataclass
class SweepReport:
    """What a sweep removed, and what it refused to touch (with the reason)."""

    removed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def sweep_dead_runs(owner_pid: int | None = None) -> SweepReport:
    """Remove what runs whose owner process is gone left behind, proving each item ours.
    With `owner_pid`, only the runs that process made (the UI sweeping its own runtime's).

    Raises RunRootError when the run root itself cannot be trusted. Inside it, only
    directories named exactly `<pid>-<6 hex>`, real directories owned by us with mode 0700,
    holding a registry of ours that others cannot write, are swept; a run whose owner is
    alive (same pid and start time) is never touched. Registry entries must carry the run
    id (IPC names) or lie inside the run directory (files); recorded processes are killed
    only when they are ours, started after the run's owner, and match by pid and start
    time. Anything else is left alone and listed in `refused`.
    """
    report = SweepReport()
    root = trusted_run_root()
    for name in sorted(os.listdir(root)):
        directory = root / name
        if owner_pid is not None and not name.startswith(f"{owner_pid}-"):
            continue
        if not is_run_id(name):
            report.refused.append(f"{shown(directory)}: not an ipcviz run directory name; "
                                  "left alone")
            continue
        try:
            info = os.lstat(directory)
        except OSError:
            continue
        problem = _not_our_directory(info)
        if problem:
            report.refused.append(f"{shown(directory)}: {problem}; left alone")
            continue
        _sweep_run(directory, name, report)
    return report


def shown(path: object) -> str:
    """A path as it may be printed: control characters (planted names) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


def _not_our_directory(info: os.stat_result) -> str | None:
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    if info.st_uid != os.getuid():
        return f"belongs to uid {info.st_uid}, not to you"
    if info.st_mode & 0o077:
        return f"mode {stat.S_IMODE(info.st_mode):04o}, open to others (ipcviz makes 0700)"
    return None


def _sweep_run(directory: Path, run_id: str, report: SweepReport) -> None:
    registry_path = directory / REGISTRY_FILE
    raw = read_private_file(registry_path)
    if raw is None:
        if os.path.lexists(registry_path):
            report.refused.append(f"{registry_path}: not a regular file of yours that only you "
                                  "can write; run left alone")
            return
        if _owner_pid_alive(run_id):  # between mkdir and the first save, or a recycled pid
            return
        data: dict = {"objects": []}
        owner_start = None
    else:
        data = _parse_registry(raw, run_id)
        if data is None:
            report.refused.append(f"{registry_path}: not a registry of run {run_id}; "
                                  "run left alone")
            return
        owner = ProcessIdentity(*data["owner"])
        if owner.exists():
            return
        owner_start = owner.start
    _kill_recorded(directory, owner_start, report)
    for obj in data["objects"]:
        problem = _object_problem(obj, run_id, directory)
        if problem:
            report.refused.append(f"{directory}: registry entry {json.dumps(obj)[:200]}: {problem}")
            continue
        if object_exists(obj["kind"], obj["name"]):
            unlink_object(obj["kind"], obj["name"])
            report.removed.append(f"{obj['kind']} {obj['name']}")
    for entry in sorted(os.listdir("/dev/shm")):
        if entry.startswith((f"{PREFIX}.{run_id}.", f"sem.{PREFIX}.{run_id}.")):
            path = f"/dev/shm/{entry}"
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
                os.unlink(path)
                report.removed.append(shown(path))
            else:
                report.refused.append(f"{shown(path)}: not a regular file of yours; left alone")
    shutil.rmtree(directory, ignore_errors=True)
    report.removed.append(f"run directory {directory}")


def _parse_registry(raw: bytes, run_id: str) -> dict | None:
    """The registry's data when it is well formed and names this run, else None.

    The first line is the run (`run_id`, `owner`, `objects`); each further complete line
    is one object (a line without its newline was being written when the run died: that
    object was not created yet). A line `{..., "dropped": true}` takes back the entry
    before it with that name (a name another user held)."""
    lines = raw.split(b"\n")
    try:
        data = json.loads(lines[0])
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("run_id") != run_id:
        return None
    owner, objects = data.get("owner"), data.get("objects")
    if not (isinstance(owner, list) and len(owner) == 2
            and all(type(x) is int and x > 0 for x in owner)):
        return None
    if not isinstance(objects, list):
        return None
    for line in lines[1:-1]:  # the last piece is "" or a torn line
        try:
            entry = json.loads(line)
        except ValueError:
            entry = line.decode("utf-8", "replace")[:200]  # refused as not an entry
        if isinstance(entry, dict) and entry.pop("dropped", False) is True:
            if entry in objects:
                objects.remove(entry)
            continue
        objects.append(entry)
    return data


_IPC_TAIL = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def _object_problem(obj: object, run_id: str, directory: Path) -> str | None:
    """Why a registry entry cannot be proven to be this run's object, or None."""
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return "not a {kind, name} entry"
    kind, name = obj.get("kind"), obj["name"]
    if kind in IPC_KINDS:
        prefix = f"/{PREFIX}.{run_id}."
        if not (name.startswith(prefix) and _IPC_TAIL.match(name[len(prefix):])):
            return f"the name does not carry this run's id ({prefix}...)"
        owner = _ipc_owner(kind, name)
        if owner is not None and owner != os.getuid():
            return f"the object belongs to uid {owner}"
        return None
    if kind in FILE_KINDS:
        parent, base = os.path.split(name)
        inside = (str(directory), str(directory / CHANNEL_DIR))
        if (os.path.normpath(name) != name or parent not in inside
                or base in ("", ".", "..")):
            return "the path is not inside this run's directory"
        return None
    return f"unknown kind {str(kind)[:40]!r}"


def _ipc_owner(kind: str, name: str) -> int | None:
    """The uid owning a POSIX IPC object, read where the kernel shows it as a file."""
    path = {"shm": f"/dev/shm/{name[1:]}", "semaphore": f"/dev/shm/sem.{name[1:]}",
            "mqueue": f"/dev/mqueue/{name[1:]}"}[kind]
    try:
        return os.lstat(path).st_uid
    except OSError:
        pass
    if kind != "mqueue" or os.path.isdir("/dev/mqueue"):
        return None
    # no mqueue file system mounted: a queue descriptor is a file descriptor on Linux
    try:
        queue = posix_ipc.MessageQueue(name, write=False)
    except posix_ipc.ExistentialError:
        return None
    except posix_ipc.Error:
        return -1  # we may not even open it: not ours
    try:
        return os.fstat(queue.mqd).st_uid
    except OSError:
        return None
    finally:
        queue.close()


def _lstat_uid(path: str) -> int | None:
    try:
        return os.lstat(path).st_uid
    except OSError:
        return None


def _owner_pid_alive(run_id: str) -> bool:
    pid = int(run_id.split("-")[0])
    return os.path.exists(f"/proc/{pid}")


def _kill_recorded(directory: Path, owner_start: int | None, report: SweepReport) -> None:
    """SIGKILL the recorded processes that are provably this run's workers."""
    path = directory / PROCESSES_FILE
    raw = read_private_file(path)
    if raw is None:
        if os.path.lexists(path):
            report.refused.append(f"{path}: not a regular file of yours that only you can "
                                  "write; no process signalled")
        return
    for number, line in enumerate(raw.decode("ascii", "replace").split("\n"), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            report.refused.append(f"{path}:{number}: not 'PID START'; ignored")
            continue
        ident = ProcessIdentity(int(fields[0]), int(fields[1]))
        if not ident.exists():
            continue
        if not ident.is_ours():
            report.refused.append(f"process {ident.pid}: not yours; not signalled")
        elif owner_start is not None and ident.start < owner_start:
            report.refused.append(f"process {ident.pid}: started before the run; not signalled")
        elif ident.signal(signal.SIGKILL):
            report.removed.append(f"process {ident.pid}")
