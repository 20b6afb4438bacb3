"""Who holds each end of the scenario's pipes, as the kernel says: every descriptor of
every process of the run (/proc/PID/fd links to `pipe:[INODE]`, the access mode from
/proc/PID/fdinfo), not the ends the scenario meant each worker to have.

A reader sees end-of-file only when no write end is left open anywhere, its own copy
included; these counts are how a lesson proves it (`write_ends_open` in a pipe's data).
A process whose descriptors the kernel will not show (another user's) is named in
`ends_hidden`, and then no count is given rather than one that might be short.

Reading every descriptor of every process on every tick is a listing and a readlink per
descriptor, most of a tick's cost in a big run. A plain worker (forked by the runtime,
running ipcviz's steps) changes its descriptor table only through ipcviz's code, and
wherever that code may add or remove a pipe's end it marks the change in the worker's
own row of the telemetry table (`table.changing_descriptors`): the row's descriptor
generation is made odd before the change and even after it. So a plain worker's ends are
kept (`DescriptorRecord`) and read again only when they may have changed:

- the runtime reads the generation, live from the shared table, BEFORE it reads the
  worker's /proc/PID/fd; a record is made only of a reading whose generation was even;
- on a later frame it reads the generation again: the same even value means no change
  began since that reading's generation was read (the worker makes it odd before it
  touches its table, and it only grows), so the table was the same from then until now,
  and the ends read in between are the worker's ends now. Odd (a change under way, or a
  life that died inside one) or different: read again;
- what no code of the worker can mark, its end (an exit, or a signal's default action:
  SIGKILL, SIGPIPE), is the kernel's: /proc/PID/fd's size is the number of descriptors
  the process has open (Linux 6.2 and later), 0 once its table is gone. It is stat()ed
  after the generation is read, and a record is used only while it gives the count the
  record was read with (never 0: an older kernel, which always says 0, reads every
  process on every frame as before);
- a new life (a restart: a new pid) gets a new record; the runtime itself, programs
  (`exec:`), attached processes and spawned children are read on every frame.

The worker's stores are seen in the order it makes them (x86-64's ordering; elsewhere
the kernel's lock around the table's change orders the store before it), so a reading
of the generation that does not show the odd mark was made before the change.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["DescriptorRecord", "Holder", "PipeEnd", "holders_of", "pipe_data", "read_ends"]

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


#: one process's descriptors on the pipes looked for: (inode, descriptor number, end)
Ends = list[tuple[int, int, str]]


class DescriptorRecord:
    """A plain worker's ends of the run's pipes as last read from /proc, with what they
    were read with: its descriptor generation (`generation()` reads it live from the
    worker's row), its count of open descriptors and the pipes looked for. One per life
    of a worker (see the module's docstring for why a record stands for the ends now)."""

    def __init__(self, generation: Callable[[], int]) -> None:
        self.generation = generation
        #: the generation read before the last reading (None: no record to use)
        self.read_at: int | None = None
        #: the descriptors the process had open then (listed)
        self.count = 0
        #: the pipes looked for then (their /proc link names)
        self.wanted: frozenset[str] = frozenset()
        self.ends: Ends = []

    def ends_now(self, pid: int, wanted: dict[str, int], key: frozenset[str]) -> Ends | None:
        """The process's ends now: from the record while the generation, the pipes looked
        for (`key`: `wanted`'s names) and the count of open descriptors are the same,
        else read again (None: the kernel hid its descriptors)."""
        generation = self.generation()
        if (generation == self.read_at and self.count > 0
                and (key is self.wanted or key == self.wanted)):
            try:
                count = os.stat(f"/proc/{pid}/fd").st_size
            except OSError:
                count = -1
            if count == self.count:
                return self.ends
        read = read_ends(pid, wanted)
        if read is None:
            self.read_at = None
            return None
        self.ends, self.count = read
        self.read_at = None if generation & 1 else generation
        self.wanted = key
        return self.ends


class Holder(NamedTuple):
    """A process whose descriptors are read: its name (a worker's, or RUNTIME), its pid,
    and for a plain worker its DescriptorRecord (None: read on every frame)."""

    name: str
    pid: int
    record: DescriptorRecord | None = None


def read_ends(pid: int, wanted: dict[str, int]) -> tuple[Ends, int] | None:
    """Process `pid`'s descriptors on the pipes `wanted` ({"pipe:[INODE]": INODE}) and
    how many descriptors it has open, read from /proc now ([] and 0 for a process that
    has ended); None when the kernel does not let us read them."""
    try:  # the directory, not its path, from here on: a pid reused is not read
        fd_dir = os.open(f"/proc/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY)
    except PermissionError:
        return None
    except OSError:  # it has ended since it was listed
        return [], 0
    found: Ends = []
    try:
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            return None
        except OSError:
            return [], 0
        for fd in fds:
            try:
                inode = wanted.get(os.readlink(fd, dir_fd=fd_dir))
            except OSError:
                continue
            if inode is None:
                continue
            end = _end(fd_dir, fd)
            if end:
                found.append((inode, int(fd), end))
    finally:
        os.close(fd_dir)
    return found, len(fds)


def holders_of(inodes: Iterable[int], processes: Iterable[Holder | tuple[str, int]]
               ) -> tuple[dict[int, list[PipeEnd]], list[str]]:
    """Every descriptor of these processes (Holders, or (name, pid) pairs: read now) open
    on one of these pipe inodes, by inode; and the names of the processes the kernel did
    not let us read. A process listed twice is read once."""
    wanted = {f"pipe:[{inode}]": inode for inode in inodes}
    found: dict[int, list[PipeEnd]] = {inode: [] for inode in wanted.values()}
    hidden: list[str] = []
    seen: set[int] = set()
    key = frozenset(wanted)
    for holder in processes:
        name, pid = holder[0], holder[1]
        record = holder.record if isinstance(holder, Holder) else None
        if pid in seen:
            continue
        seen.add(pid)
        if record is not None:
            ends = record.ends_now(pid, wanted, key)
        else:
            read = read_ends(pid, wanted)
            ends = None if read is None else read[0]
        if ends is None:
            hidden.append(name)
            continue
        for inode, fd, end in ends:
            found[inode].append(PipeEnd(name, pid, fd, end))
    for pipe_ends in found.values():
        pipe_ends.sort(key=lambda e: (e.holder == RUNTIME, e.holder, e.fd))
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
