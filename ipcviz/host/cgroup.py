"""A cgroup (v2) of the run's own: every worker joins it in its fork, before anything else,
so whatever the worker's program starts is in it too, in any session, after any number
of forks (`setsid`, a double fork, a daemon). The end of the run kills the whole cgroup at
once and removes it; its path is written into the run directory first, so `ipcviz clean`
ends what a killed run left in it.

The cgroup is made beside the runtime's own (a child of the runtime's cgroup, or of the
nearest ancestor it may write: root anywhere, a user in the subtree systemd delegated to
them), and is used only if a process can be moved into it (a probe fork joins it): moving
a process needs write access to the common ancestor's `cgroup.procs`, which a user's
login session scope does not give. Where it cannot be used, `None` and the reason; the
runtime then tracks the run's processes itself (runtime/containment.py).
"""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path

from ipcviz.host.runroot import read_private_file

#: the file in the run directory naming the run's cgroup (written before it is made)
CGROUP_FILE = "cgroup"
#: set (to anything but "" or "0") to never make a cgroup: the subreaper's tracking only
DISABLE_ENV = "IPCVIZ_NO_CGROUP"
_OPEN_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def cgroup_name(run_id: str) -> str:
    return f"ipcviz-{run_id}"


def _unescape(field: str) -> str:
    """A mountinfo path field (space, tab, newline and backslash are octal escapes)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def cgroup2_mounts() -> list[tuple[str, str]]:
    """(root inside the hierarchy, mount point) of every cgroup2 mount this process sees."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        left, sep, right = line.partition(" - ")
        parts = left.split()
        if sep and right.split()[:1] == ["cgroup2"] and len(parts) >= 5:
            found.append((_unescape(parts[3]), _unescape(parts[4])))
    return found


def own_cgroup_dir() -> str | None:
    """The directory of this process's cgroup v2 (None: no cgroup2 mounted here)."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    if path is None:
        return None
    for root, point in cgroup2_mounts():
        if path == root or path.startswith(root.rstrip("/") + "/"):
            rest = path[len(root.rstrip("/")):].lstrip("/")
            return os.path.normpath(os.path.join(point, rest))
    return None


def _may_write(directory: str) -> bool:
    """Whether we may make a cgroup in `directory` and move processes through it."""
    try:
        info = os.stat(directory)
    except OSError:
        return False
    if os.getuid() != 0 and info.st_uid != os.getuid():
        return False
    return (os.access(directory, os.W_OK | os.X_OK)
            and os.access(os.path.join(directory, "cgroup.procs"), os.W_OK))


def make_run_cgroup(run_id: str, run_dir: Path) -> tuple[str | None, str]:
    """Make the run's cgroup and prove a process can join it: (its path, "") or (None,
    why not). Its path is written to the run directory before it is made."""
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return None, f"{DISABLE_ENV} is set"
    mine = own_cgroup_dir()
    if mine is None:
        return None, "no cgroup v2 file system is mounted"
    mounts = [point for _, point in cgroup2_mounts()]
    directory = mine
    while not _may_write(directory):
        parent = os.path.dirname(directory)
        if directory in mounts or parent == directory:
            return None, f"no cgroup of yours to make it in (yours is {mine})"
        directory = parent
    path = os.path.join(directory, cgroup_name(run_id))
    record(path, run_dir)
    try:
        os.mkdir(path)
    except OSError as exc:
        return None, f"cannot make {path}: {exc.strerror}"
    if not _probe_join(path):
        remove(path)
        return None, f"a process cannot be moved into {path}"
    return path, ""


def record(path: str, run_dir: Path) -> None:
    """Name the cgroup in the run directory (a new private file), for the sweep."""
    fd = os.open(run_dir / CGROUP_FILE, _OPEN_NEW, 0o600)
    try:
        os.write(fd, f"{path}\n".encode())
    finally:
        os.close(fd)


def _probe_join(path: str) -> bool:
    """Fork a process that joins the cgroup and ends: whether it could."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if join(path) else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def join(path: str) -> bool:
    """Move the calling process into the cgroup at `path` (in a fresh fork)."""
    try:
        fd = os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.write(fd, b"0")
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _subtree(path: str) -> list[str]:
    """The cgroup and every cgroup under it (a program may make its own), deepest first."""
    found = []
    for top, dirs, _ in os.walk(path):
        found += [os.path.join(top, d) for d in dirs]
    return sorted(found, key=lambda p: p.count("/"), reverse=True) + [path]


def members(path: str) -> list[int]:
    """Every pid in the cgroup and in the cgroups under it."""
    pids = []
    for group in _subtree(path):
        try:
            with open(os.path.join(group, "cgroup.procs"), encoding="ascii") as fh:
                pids += [int(p) for p in fh.read().split()]
        except (OSError, ValueError):
            pass
    return pids


def _write(path: str, name: str, value: str) -> bool:
    try:
        with open(os.path.join(path, name), "w", encoding="ascii") as fh:
            fh.write(value)
        return True
    except OSError:
        return False


def kill(path: str, kill_file: bool = True) -> None:
    """SIGKILL every process in the cgroup and under it: `cgroup.kill` where the kernel has
    it (Linux 5.14; `kill_file=False` does without, as on older kernels); else the cgroup
    frozen (nothing in it can fork or exit meanwhile), each member killed, then thawed;
    on kernels without either, rounds until no member is left."""
    if kill_file and _write(path, "cgroup.kill", "1"):
        return
    frozen = _write(path, "cgroup.freeze", "1")
    if frozen:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and "frozen 1" not in _events(path):
            time.sleep(0.005)
    for _ in range(10):
        pids = members(path)
        if not pids:
            break
        for pid in pids:
            _kill_member(pid, path)
    if frozen:
        _write(path, "cgroup.freeze", "0")


def _kill_member(pid: int, path: str) -> None:
    """SIGKILL `pid` if it is still in the cgroup (pinned first: never a reused pid)."""
    inside = _hierarchy_path(path)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="replace") as fh:
            where = next((line[3:] for line in fh.read().splitlines()
                          if line.startswith("0::")), "")
        if inside is not None and (where == inside or where.startswith(inside + "/")):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(pidfd)


def _hierarchy_path(path: str) -> str | None:
    """A cgroup directory as /proc/PID/cgroup names it (its path inside the hierarchy)."""
    for root, point in cgroup2_mounts():
        if path.startswith(point.rstrip("/") + "/"):
            rest = path[len(point.rstrip("/")):]
            return root.rstrip("/") + rest
    return None


def _events(path: str) -> str:
    try:
        with open(os.path.join(path, "cgroup.events"), encoding="ascii") as fh:
            return fh.read()
    except OSError:
        return ""


def remove(path: str, timeout: float = 3.0,
           meanwhile: Callable[[], object] | None = None) -> bool:
    """Wait until nothing runs in the cgroup (calling `meanwhile`, e.g. to reap), then
    remove it and every cgroup under it; True when it is gone."""
    deadline = time.monotonic() + timeout
    while os.path.isdir(path):
        if "populated 1" not in _events(path):
            for group in _subtree(path):
                try:
                    os.rmdir(group)
                except FileNotFoundError:
                    pass
                except OSError:
                    break
            if not os.path.isdir(path):
                return True
        if time.monotonic() >= deadline:
            return False
        if meanwhile is not None:
            meanwhile()
        time.sleep(0.005)
    return True


def end(path: str, meanwhile: Callable[[], object] | None = None) -> tuple[int, bool]:
    """Kill everything in the cgroup and remove it: (processes killed, removed?)."""
    if not os.path.isdir(path):
        return 0, True
    count = len(members(path))
    kill(path)
    return count, remove(path, meanwhile=meanwhile)


def recorded_problem(path: str, run_id: str) -> str | None:
    """Why the cgroup a run directory names cannot be proven to be that run's, or None:
    it must be an absolute, plain path (no link on the way) inside a cgroup v2 file
    system, named after the run, and a directory of ours."""
    if not (os.path.isabs(path) and os.path.normpath(path) == path):
        return "not an absolute, normal path"
    if os.path.basename(path) != cgroup_name(run_id):
        return f"not named after the run ({cgroup_name(run_id)})"
    if not any(path.startswith(point.rstrip("/") + "/") for _, point in cgroup2_mounts()):
        return "not inside a cgroup v2 file system"
    if os.path.realpath(path) != path:
        return "a symbolic link on its way"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None  # already gone: nothing to do
    except OSError as exc:
        return exc.strerror
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    if info.st_uid != os.getuid():
        return f"belongs to uid {info.st_uid}, not to you"
    return None


def sweep_run_cgroup(directory: Path, run_id: str) -> tuple[list[str], list[str]]:
    """End the cgroup a dead run's directory names: (what was removed, what was refused)."""
    record = directory / CGROUP_FILE
    raw = read_private_file(record, limit=4096)
    if raw is None:
        if os.path.lexists(record):
            return [], [f"{record}: not a regular file of yours that only you can write; "
                        "no cgroup touched"]
        return [], []
    path = raw.decode("utf-8", "replace").strip()
    problem = recorded_problem(path, run_id)
    if problem:
        return [], [f"{record}: cgroup {path[:200]!r}: {problem}; left alone"]
    if not os.path.isdir(path):
        return [], []
    killed, gone = end(path)
    what = f"cgroup {path}" + (f" ({killed} process{'es' * (killed != 1)} in it killed)"
                               if killed else "")
    if gone:
        return [what], []
    return ([f"{killed} process{'es' * (killed != 1)} in cgroup {path}"] if killed else []), [
        f"cgroup {path}: still busy; not removed"]
