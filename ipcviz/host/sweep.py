"""The sweep of dead runs: what runs whose owner process is gone left behind, removed only
where it can be proved ours (`ipcviz clean`, and every start)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ipcviz.host.process import ProcessIdentity
from ipcviz.host.registry import (
    CHANNEL_DIR,
    FILE_KINDS,
    IPC_KINDS,
    PROCESSES_FILE,
    REGISTRY_FILE,
    object_exists,
    unlink_object,
)
from ipcviz.host import program_leaks
from ipcviz.host.cgroup import sweep_run_cgroup
from ipcviz.host.ownership import UNKNOWN, ipc_owner, is_ours
from ipcviz.host.runroot import PREFIX, is_run_id, read_private_file, trusted_run_root


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
        if name == program_leaks.FILENAME:  # the list `clean --program-leaks` reads
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
        parsed = _parse_registry(raw, run_id)
        if parsed is None:
            report.refused.append(f"{registry_path}: not a registry of run {run_id}; "
                                  "run left alone")
            return
        data = parsed
        owner = ProcessIdentity(*data["owner"])
        if owner.exists():
            return
        owner_start = owner.start
    removed, cgroup_left = sweep_run_cgroup(directory, run_id)  # all, wherever it went
    report.removed += removed
    report.refused += cgroup_left
    _kill_recorded(directory, owner_start, report)
    for obj in data["objects"]:
        problem = _object_problem(obj, run_id, directory)
        if problem:
            report.refused.append(f"{directory}: registry entry {json.dumps(obj)[:200]}: {problem}")
            continue
        kind, name = obj["kind"], obj["name"]
        # asked again just before: a name gone at the check and taken by another user
        # since (root may remove anyone's) is not ours
        if is_ours(kind, name) if kind in IPC_KINDS else object_exists(kind, name):
            unlink_object(kind, name)
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
    if cgroup_left:  # the run directory keeps naming it: a later sweep tries again
        return
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
        owner = ipc_owner(kind, name)
        if owner == UNKNOWN:
            return "the kernel does not say whose the object is"
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
