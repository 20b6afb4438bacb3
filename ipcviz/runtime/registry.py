"""Per-run names and the registry of everything a run creates, and the sweep of dead runs.

Every IPC object carries the run id in its name. Before an object is created it is
written to the run's registry file, so a run killed at any moment leaves a list
that the next `ipcviz` start (or `ipcviz clean`) uses to remove what it left.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

import posix_ipc

from ipcviz.runtime.ident import ProcessIdentity

PREFIX = "ipcviz"


def runs_root() -> Path:
    """Directory holding one private directory per run (mode 0700)."""
    override = os.environ.get("IPCVIZ_RUN_ROOT")
    if override:
        return Path(override)
    return Path("/tmp") / f"{PREFIX}-{os.getuid()}"


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
        root = runs_root()
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        run_id = f"{os.getpid()}-{secrets.token_hex(3)}"
        directory = root / run_id
        directory.mkdir(mode=0o700)
        owner = ProcessIdentity.of(os.getpid())
        assert owner is not None
        reg = cls(run_id, directory, owner)
        reg._save()
        return reg

    def ipc_name(self, channel: str) -> str:
        """Name for a POSIX shm/mqueue/semaphore: /ipcviz.<run>.<channel>."""
        return f"/{PREFIX}.{self.run_id}.{channel}"

    def path(self, channel: str) -> Path:
        """A file path (FIFO, socket, mmap file) in the run's private directory."""
        return self.directory / channel

    def add(self, kind: str, name: str) -> None:
        """Record an object before creating it."""
        self.objects.append({"kind": kind, "name": name})
        self._save()

    def add_process(self, ident: ProcessIdentity) -> None:
        self.processes.append([ident.pid, ident.start])
        with open(self.directory / "processes", "a") as fh:
            fh.write(f"{ident.pid} {ident.start}\n")

    def _save(self) -> None:
        tmp = self.directory / "registry.json.tmp"
        tmp.write_text(json.dumps({"run_id": self.run_id, "owner": [self.owner.pid, self.owner.start],
                                   "objects": self.objects}))
        os.replace(tmp, self.directory / "registry.json")

    def remove_all(self) -> None:
        """Unlink every registered object and the run directory."""
        for obj in self.objects:
            unlink_object(obj["kind"], obj["name"])
        shutil.rmtree(self.directory, ignore_errors=True)

    def leaked_objects(self) -> list[str]:
        """Registered objects (and the run dir) still present."""
        left = [f"{o['kind']} {o['name']}" for o in self.objects if object_exists(o["kind"], o["name"])]
        left += [f"/dev/shm/{n}" for n in os.listdir("/dev/shm") if self.run_id in n
                 and not any(o["name"].lstrip("/") in n for o in self.objects)]
        if self.directory.exists():
            left.append(f"run directory {self.directory}")
        return left


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


def _load(directory: Path) -> dict | None:
    try:
        return json.loads((directory / "registry.json").read_text())
    except (OSError, ValueError):
        return None


def sweep_dead_runs(owner_pid: int | None = None) -> list[str]:
    """Remove what runs whose owner process is gone left behind; return what was removed.

    A run whose owner is alive (same pid and start time) is never touched. With
    `owner_pid`, only the runs that process made (the UI sweeping its own runtime's run).
    """
    removed: list[str] = []
    root = runs_root()
    if not root.is_dir():
        return removed
    for directory in sorted(root.iterdir()):
        if not directory.is_dir():
            continue
        if owner_pid is not None and not directory.name.startswith(f"{owner_pid}-"):
            continue
        data = _load(directory)
        if data is not None:
            owner = ProcessIdentity(*data["owner"])
            if owner.exists():
                continue
        elif _owner_pid_alive(directory.name):
            continue
        removed.extend(_kill_recorded(directory))
        for obj in (data or {}).get("objects", []):
            if object_exists(obj["kind"], obj["name"]):
                unlink_object(obj["kind"], obj["name"])
                removed.append(f"{obj['kind']} {obj['name']}")
        run_id = directory.name
        for entry in os.listdir("/dev/shm"):
            if f"{PREFIX}.{run_id}." in entry:
                os.unlink(f"/dev/shm/{entry}")
                removed.append(f"/dev/shm/{entry}")
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(f"run directory {directory}")
    return removed


def _owner_pid_alive(run_id: str) -> bool:
    try:
        pid = int(run_id.split("-")[0])
    except ValueError:
        return False
    return os.path.exists(f"/proc/{pid}")


def _kill_recorded(directory: Path) -> list[str]:
    killed = []
    try:
        lines = (directory / "processes").read_text().split("\n")
    except OSError:
        return killed
    for line in lines:
        if not line.strip():
            continue
        pid, start = (int(x) for x in line.split())
        if ProcessIdentity(pid, start).send(signal.SIGKILL):
            killed.append(f"process {pid}")
    return killed
