"""A plain worker's pipe ends are read from /proc again only when they may have changed
(runtime/pipe_holders.py): its descriptor generation, which ipcviz's code makes odd
around every change of its descriptors that may touch a pipe's end, and the kernel's
count of its open descriptors, which its end makes 0. Every frame is still exact: a
closed end is gone on the next frame, an ended process holds nothing, a spawned child's
ends are counted once, a program's are read on every frame."""

from __future__ import annotations

import mmap
import os
import signal

from ipcviz.protocol import CloseKept
from ipcviz.runtime.pipe_holders import RUNTIME, DescriptorRecord, read_ends
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from tests.waiting import wait_until

PAIRS = 3
SLEEPERS = ("channels:\n" + "".join(f"  p{i}: {{kind: pipe}}\n" for i in range(PAIRS))
            + "workers:\n" + "".join(
                f"  w{i}: {{steps: [{{write: {{to: p{i}, size: 8}}}}, {{sleep: 60}}]}}\n"
                f"  r{i}: {{steps: [{{read: {{from: p{i}, bytes: 8}}}}, {{sleep: 60}}]}}\n"
                for i in range(PAIRS))).encode()

KEEPER = b"""\
channels:
  p: {kind: pipe}
workers:
  writer: {steps: [{write: {to: p, size: 8}}, {sleep: 60}]}
  reader: {keeps: {p: write}, loop: true, steps: [{read: {from: p, bytes: 8}}]}
"""

SPAWNER = b"""\
channels:
  p: {kind: pipe}
workers:
  spawner:
    steps: [{spawn: kid}, {spawn: kid}, {sleep: 60}]
  kid:
    spawned: true
    steps: [{write: {to: p, size: 8}}, {sleep: 60}]
  reader: {loop: true, steps: [{read: {from: p, bytes: 8}}]}
"""

PROGRAM = b"""\
channels:
  p: {kind: pipe}
workers:
  writer: {steps: [{write: {to: p, size: 8}}, {sleep: 60}]}
  cat: {exec: [cat], stdin: {from: p}}
"""


class ListedDirs:
    """The processes whose /proc/PID/fd this process lists (os.listdir of a directory
    descriptor, as pipe_holders.py reads them), frame by frame."""

    def __init__(self, monkeypatch) -> None:
        self.pids: list[int] = []
        real = os.listdir

        def listdir(path=".") -> list[str]:
            if isinstance(path, int):
                where = os.readlink(f"/proc/self/fd/{path}")
                parts = where.split("/")
                if len(parts) == 4 and parts[1] == "proc" and parts[3] == "fd":
                    self.pids.append(int(parts[2]))
            return real(path)

        monkeypatch.setattr(os, "listdir", listdir)

    def take(self) -> list[int]:
        pids, self.pids = self.pids, []
        return pids


def _ends(snap, channel: str) -> tuple[list[str], list[str]]:
    data = snap.channel(channel).data
    return sorted(data["write_ends"]), sorted(data["read_ends"])


def _started(text: bytes):
    runtime = Runtime(load_text(text, "holders.yaml"), allow_exec=True)
    return runtime, Sampler(runtime)


def test_unchanged_workers_are_not_read_again(monkeypatch, nothing_left_behind) -> None:
    """Six workers asleep, their ends unchanged: after the frame that read them, each frame
    lists only the runtime's own descriptors, and counts the same ends as before."""
    listed = ListedDirs(monkeypatch)
    runtime, sampler = _started(SLEEPERS)
    try:
        runtime.start()

        def settled():
            snap = sampler.sample()
            done = all(snap.channel(f"p{i}").data.get("bytes_read") == 8 for i in range(PAIRS))
            return snap if done and all(w.step_text == "sleep" for w in snap.workers) else None

        first = wait_until(settled, interval=0.1, message="every pipe read, every worker asleep")
        listed.take()
        for _ in range(4):
            snap = sampler.sample()
            assert listed.take() == [os.getpid()]  # the runtime's own, not its six workers'
            for i in range(PAIRS):
                assert _ends(snap, f"p{i}") == _ends(first, f"p{i}")
                writers, readers = _ends(snap, f"p{i}")
                assert [w.rpartition(" fd ")[0] for w in writers] == [RUNTIME, f"w{i}"]
                assert [r.rpartition(" fd ")[0] for r in readers] == [RUNTIME, f"r{i}"]
    finally:
        sampler.close()
        runtime.shutdown()


def test_a_closed_end_is_gone_on_the_next_frame(monkeypatch, nothing_left_behind) -> None:
    """The reader keeps the write end, and is not read again while it does; once it has
    closed it (`close`), the very next frame counts one write end fewer and lists it."""
    listed = ListedDirs(monkeypatch)
    runtime, sampler = _started(KEEPER)
    try:
        runtime.start()
        reader = next(p for p in runtime.procs if p.name == "reader")
        table = runtime.table
        assert table is not None

        def kept():
            snap = sampler.sample()
            data = snap.channel("p").data
            return snap if data.get("bytes_read") == 8 and data["write_ends_open"] == 3 else None

        before = wait_until(kept, interval=0.1, message="the writer's 8 bytes read")
        assert any(e.startswith("reader fd ") for e in before.channel("p").data["write_ends"])
        listed.take()
        sampler.sample()
        assert reader.ident is not None and reader.ident.pid not in listed.take()
        seen = int(table.array[reader.row, T.EVENT_SEQ])
        runtime.execute(CloseKept("reader"))

        def closed() -> bool:  # its own event says so (its ring, not a frame)
            events = table.events_since(reader.row, seen)[0]
            return any(code == EV.CLOSED_KEPT for _t, code, _c, _v in events)

        wait_until(closed, interval=0.01, message="the reader closed its write end")
        snap = sampler.sample()
        assert reader.ident.pid in listed.take()
        data = snap.channel("p").data
        assert data["write_ends_open"] == 2
        assert sorted(e.rpartition(" fd ")[0] for e in data["write_ends"]) == [RUNTIME, "writer"]
    finally:
        sampler.close()
        runtime.shutdown()


def test_spawned_children_are_counted_once(nothing_left_behind) -> None:
    """Each spawned child's inherited write end appears as soon as it runs, once: the
    parent's, the two children's and the runtime's, four write ends."""
    runtime, sampler = _started(SPAWNER)
    try:
        runtime.start()

        def spawned():
            snap = sampler.sample()
            return snap if len([w for w in snap.workers if w.name.startswith("kid#")]) == 2 \
                and all(w.step_text == "sleep" for w in snap.workers if w.name != "reader") \
                else None

        snap = wait_until(spawned, interval=0.05, message="both children spawned, asleep")
        writers = [e.rpartition(" fd ")[0] for e in _ends(snap, "p")[0]]
        kids = sorted(w.name for w in snap.workers if w.name.startswith("kid#"))
        assert writers == sorted(["spawner", *kids, RUNTIME])
        assert snap.channel("p").data["write_ends_open"] == 4
    finally:
        sampler.close()
        runtime.shutdown()


def test_a_program_is_read_on_every_frame(monkeypatch, nothing_left_behind) -> None:
    """A program (`exec:`) changes its descriptors without telling: its own are listed on
    every frame, its read end is its descriptor 0."""
    listed = ListedDirs(monkeypatch)
    runtime, sampler = _started(PROGRAM)
    try:
        runtime.start()
        cat = next(p for p in runtime.procs if p.name == "cat")

        def reading():
            snap = sampler.sample()
            return snap if "cat fd 0" in snap.channel("p").data["read_ends"] else None

        wait_until(reading, interval=0.05, message="cat reading the pipe on fd 0")
        assert cat.ident is not None
        for _ in range(3):
            listed.take()
            snap = sampler.sample()
            assert cat.ident.pid in listed.take()
            assert _ends(snap, "p")[1] == ["cat fd 0", f"{RUNTIME} fd {_runtime_read_fd(runtime)}"]
    finally:
        sampler.close()
        runtime.shutdown()


def _runtime_read_fd(runtime: Runtime) -> int:
    return getattr(runtime.channel_by_name["p"], "fds")["read"]


#: the generation's row, shared with the children forked below (row base 0)
_SHARED = mmap.mmap(-1, 8 * T.HEADER, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
CELLS = memoryview(_SHARED).cast("q")


def _child(pipe_write: int, spare: int) -> tuple[int, int, int]:
    """A real process that holds both ends of a pipe and, for each b"s" sent to it, puts
    `spare` on the write end's number (dup2: one end fewer, the same count of descriptors)
    inside changing_descriptors, and answers. (pid, where to send, where it answers)."""
    commands_r, commands_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(commands_w)
            os.close(done_r)
            os.write(done_w, b"r")  # ready: its descriptors are what they stay
            while os.read(commands_r, 1) == b"s":
                with T.changing_descriptors(CELLS, 0):
                    os.dup2(spare, pipe_write)
                os.write(done_w, b"k")
        finally:
            os._exit(0)
    os.close(commands_r)
    os.close(done_w)
    assert os.read(done_r, 1) == b"r"
    return pid, commands_w, done_r


def test_a_marked_change_is_read_though_the_count_stays(nothing_left_behind) -> None:
    """A real process swaps its pipe end for another file on the same number (the count
    of its descriptors stays, only the mark says it changed): its record reads it again
    and finds no end; while nothing changes the record is not read again."""
    read_fd, write_fd = os.pipe()
    inode = os.fstat(read_fd).st_ino
    spare = os.open(os.devnull, os.O_RDONLY)
    CELLS[T.FD_GENERATION] = 0
    pid, commands_w, done_r = _child(write_fd, spare)
    wanted = {f"pipe:[{inode}]": inode}
    key = frozenset(wanted)
    record = DescriptorRecord(lambda: int(CELLS[T.FD_GENERATION]))
    try:
        assert [(fd, end) for _i, fd, end in record.ends_now(pid, wanted, key)] == [
            (read_fd, "read"), (write_fd, "write")]
        assert record.read_at == 0
        ends = record.ends_now(pid, wanted, key)
        assert ends is record.ends  # unchanged: not read again
        count = os.stat(f"/proc/{pid}/fd").st_size
        os.write(commands_w, b"s")
        assert os.read(done_r, 1) == b"k"
        assert os.stat(f"/proc/{pid}/fd").st_size == count  # the kernel's count says nothing
        assert [(fd, end) for _i, fd, end in record.ends_now(pid, wanted, key)] == [
            (read_fd, "read")]
        assert record.read_at == 2
    finally:
        os.close(commands_w)
        os.waitpid(pid, 0)
        for fd in (read_fd, write_fd, done_r, spare):
            os.close(fd)


def test_an_ended_process_holds_nothing(nothing_left_behind) -> None:
    """A real process killed (SIGKILL: nothing of it can mark its end) and not yet reaped
    holds no end on the next reading, though its generation never moved."""
    read_fd, write_fd = os.pipe()
    inode = os.fstat(read_fd).st_ino
    spare = os.open(os.devnull, os.O_RDONLY)
    CELLS[T.FD_GENERATION] = 0
    pid, commands_w, done_r = _child(write_fd, spare)
    wanted = {f"pipe:[{inode}]": inode}
    key = frozenset(wanted)
    record = DescriptorRecord(lambda: int(CELLS[T.FD_GENERATION]))
    reaped = False
    try:
        assert len(record.ends_now(pid, wanted, key) or []) == 2
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: _state(pid) == "Z", interval=0.01, message="the child a zombie")
        assert read_ends(pid, wanted) == ([], 0)
        assert record.ends_now(pid, wanted, key) == []
        os.waitpid(pid, 0)
        reaped = True
    finally:
        os.close(commands_w)
        if not reaped:
            os.waitpid(pid, 0)
        for fd in (read_fd, write_fd, done_r, spare):
            os.close(fd)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[0]
