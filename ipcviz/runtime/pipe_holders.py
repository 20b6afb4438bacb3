"""Who holds each end of the scenario's pipes, as the kernel says: every descriptor of
every process of the run (/proc/PID/fd links to `pipe:[INODE]`, the access mode from
/proc/PID/fdinfo), not the ends the scenario meant each worker to have.

A reader sees end-of-file only when no write end is left open anywhere, its own copy
included; these counts are how a lesson proves it (`write_ends_open` in a pipe's data).
A process whose descriptors the kernel will not show (another user's) is named in
`ends_hidden`, and then no count is given rather than one that might be short.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PipeEnd", "holders_of", "pipe_data"]

#: the name the runtime's own descriptors are given (it forks every worker, as a shell
#: does, and holds the pipes until no live worker needs an end)
RUNTIME = "ipcviz runtime"


@dataclass(frozen=True)
class PipeEnd:
    """One descriptor open on a pipe: which process (its worker name), its pid and
    descriptor number, and the end ("read" or "write")."""

    holder: str
    pid: int
    fd: int
    end: str

    @property
    def text(self) -> str:
        return f"{self.holder} fd {self.fd}"


def _end(fd_dir: int, fd: str) -> str:
    """"read" or "write": the access mode of a pipe descriptor, from the permission bits
    the kernel gives its /proc/PID/fd link (owner write for a descriptor open for
    writing, owner read for one open for reading; made anew from the open file at each
    lookup). One lstat, where /proc/PID/fdinfo's flags took an open, a read and a close
    of a file the kernel formats for each descriptor."""
    try:
        mode = os.stat(fd, dir_fd=fd_dir, follow_symlinks=False).st_mode
    except OSError:
        return ""
    if mode & stat.S_IWUSR:
        return "write"
    return "read" if mode & stat.S_IRUSR else ""


def holders_of(inodes: Iterable[int], processes: Iterable[tuple[str, int]]
               ) -> tuple[dict[int, list[PipeEnd]], list[str]]:
    """Every descriptor of these processes ((name, pid) pairs) open on one of these pipe
    inodes, by inode; and the names of the processes the kernel did not let us read."""
    wanted = {f"pipe:[{inode}]": inode for inode in inodes}
    found: dict[int, list[PipeEnd]] = {inode: [] for inode in wanted.values()}
    hidden: list[str] = []
    for name, pid in processes:
        try:  # the directory, not its path, from here on: a pid reused is not read
            fd_dir = os.open(f"/proc/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY)
        except PermissionError:
            hidden.append(name)
            continue
        except OSError:  # it has ended since it was listed
            continue
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            hidden.append(name)
            fds = []
        except OSError:
            fds = []
        try:
            for fd in fds:
                try:
                    inode = wanted.get(os.readlink(fd, dir_fd=fd_dir))
                except OSError:
                    continue
                if inode is None:
                    continue
                end = _end(fd_dir, fd)
                if end:
                    found[inode].append(PipeEnd(name, pid, int(fd), end))
        finally:
            os.close(fd_dir)
    for ends in found.values():
        ends.sort(key=lambda e: (e.holder == RUNTIME, e.holder, e.fd))
    return found, hidden


def pipe_data(ends: list[PipeEnd], hidden: list[str]) -> dict[str, object]:
    """A pipe's frame data from its ends: the holders of each end and how many are open
    (no count when some process's descriptors are hidden: it might hold one)."""
    data: dict[str, object] = {
        "write_ends": [e.text for e in ends if e.end == "write"],
        "read_ends": [e.text for e in ends if e.end == "read"],
    }
    if hidden:
        data["ends_hidden"] = list(hidden)
    else:
        data["write_ends_open"] = len(data["write_ends"])  # type: ignore[arg-type]
        data["read_ends_open"] = len(data["read_ends"])  # type: ignore[arg-type]
    return data
