"""ipcviz.observe against real programs (examples/): pipe fill, zombies, masks, shm, queues."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import posix_ipc
import pytest

from ipcviz.observe import Observation, observe
from ipcviz.observe.cc import CompileError, NoCompiler, compile_c
from ipcviz.observe.fds import F_GETPIPE_SZ

from .conftest import ROOT
from .users import as_user as as_nobody_returning
from .waiting import wait_until

EXAMPLES = ROOT / "examples"


def c_program(name: str) -> str:
    """The compiled example, or a skip saying there is no compiler (the only reason to skip)."""
    try:
        return str(compile_c(EXAMPLES / f"{name}.c"))
    except NoCompiler as exc:
        pytest.skip(str(exc))


def python_program(name: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / f"{name}.py")]


@contextlib.contextmanager
def running(argv: list[str], names: tuple[str, ...] = ()
            ) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start a program in its own process group, wait for its "ready" line, and at the end
    SIGKILL that group (only the processes this test started), reap the program and unlink
    the POSIX shm/mq `names` it made (a killed program cannot remove them itself)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = ""
        while not line.startswith("ready"):
            line = proc.stdout.readline()
            assert line, f"{argv} ended before saying ready"
        yield proc, line
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        for name in names:
            for remove in (posix_ipc.unlink_shared_memory, posix_ipc.unlink_message_queue):
                with contextlib.suppress(posix_ipc.ExistentialError):
                    remove(name)


def observe_until(pid: int, done: Callable[[Observation], bool], limit: float = 10) -> Observation:
    """Observe until the kernel shows what the program is about to do (no timing asserted)."""
    def shown() -> Observation | None:
        seen = observe(pid)
        return seen if done(seen) else None

    return wait_until(shown, limit, interval=0.02, message=f"pid {pid} observed doing it")


def own_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def unique(prefix: str) -> str:
    """A POSIX object name for this test only (no "ipcviz" in it: other runs' sweeps ignore it)."""
    return f"/obs19_{prefix}_{os.getpid()}_{time.monotonic_ns()}"


def test_pipe_with_1000_bytes_paired_by_inode(nothing_left_behind) -> None:
    with running([c_program("pipe_hold")]) as (proc, line):
        _, _, writer, _, reader = line.split()
        writer_pid, reader_pid = int(writer), int(reader)
        before = own_fds()
        seen = observe_until(proc.pid, lambda o: o.process(reader_pid) is not None)
        assert own_fds() == before, "observation left a descriptor open"
        # (both also hold the write end of our stdout pipe: the one read here is the other)
        [pipe] = [p for p in seen.pipes if reader_pid in p.readers]
        assert pipe.buffered == 1000
        r, w = os.pipe()
        assert pipe.capacity == fcntl.fcntl(w, F_GETPIPE_SZ)
        os.close(r), os.close(w)
        assert pipe.readers == (reader_pid,)
        assert pipe.writers == (writer_pid,)
        assert [e.mode for e in pipe.ends if e.pid == reader_pid] == ["r"]
        assert [e.mode for e in pipe.ends if e.pid == writer_pid] == ["w"]
        assert seen.process(writer_pid).children == (reader_pid,)
        assert seen.process(reader_pid).ppid == writer_pid
        again = observe(proc.pid)  # reading the level consumed nothing
        assert [p.buffered for p in again.pipes if p.inode == pipe.inode] == [1000]


@pytest.mark.parametrize("language", ["c", "python"])
def test_five_zombies_under_a_parent_that_never_waits(language: str, nothing_left_behind) -> None:
    argv = [c_program("fork_zombies")] if language == "c" else python_program("fork_zombies")
    with running(argv) as (proc, _):
        seen = observe_until(proc.pid, lambda o: o.zombies_under(proc.pid) == 5
                             and o.process(proc.pid).wait is not None)
        assert seen.zombies_under(proc.pid) == 5
        parent = seen.process(proc.pid)
        assert len(parent.children) == 5
        assert [seen.process(k).state_words for k in parent.children] == ["zombie"] * 5
        assert parent.wait is not None and parent.wait.words == "sleep"


def test_sigusr1_pending_while_blocked(nothing_left_behind) -> None:
    with running(python_program("block_sigusr1")) as (proc, _):
        first = observe(proc.pid).process(proc.pid)
        assert "SIGUSR1" in first.signals.blocked
        assert "SIGUSR1" not in first.signals.shared_pending
        for _ in range(50):
            os.kill(proc.pid, signal.SIGUSR1)
        for _ in range(3):
            os.kill(proc.pid, signal.SIGRTMIN)
        masks = observe(proc.pid).process(proc.pid).signals
        assert "SIGUSR1" in masks.shared_pending and "SIGUSR1" in masks.blocked
        assert "SIGRTMIN" in masks.shared_pending
        assert masks.pending == ()           # sent to the process, not to its thread
        assert masks.queued >= 2             # SigQ: one SIGUSR1 (coalesced) + 3 SIGRTMIN, per user
        assert masks.queue_limit > 0


@pytest.mark.parametrize("language", ["c", "python"])
def test_shared_array_segment_mapped_by_both_and_changing(language: str,
                                                          nothing_left_behind) -> None:
    name = unique("shm")
    argv = ([c_program("shm_array"), name] if language == "c"
            else [*python_program("shm_numpy"), name])
    with running(argv, (name,)) as (proc, line):
        _, _, parent, _, child = line.split()
        path = f"/dev/shm{name}"
        first = observe_until(proc.pid, lambda o: o.mapping(path) is not None
                              and len(o.mapping(path).mappers) == 2).mapping(path)
        assert first.kind == "posix_shm" and first.name == name
        assert first.size == 40
        assert first.mappers == tuple(sorted((int(parent), int(child))))
        assert len(first.contents) == 40
        later = observe_until(proc.pid, lambda o: o.mapping(path).contents != first.contents)
        values = np.frombuffer(later.mapping(path).contents, dtype=np.int64)
        start = np.frombuffer(first.contents, dtype=np.int64)
        assert later.mapping(path).contents != first.contents
        assert (values > start).any() and (values >= start).all()
    assert not os.path.exists(path), "segment left behind"


def test_message_queue_depth_and_capacity(nothing_left_behind) -> None:
    name = unique("mq")
    with running([c_program("mq_hold"), name, "3"], (name,)) as (proc, _):
        before = own_fds()
        seen = observe(proc.pid)
        assert own_fds() == before
        queue = seen.queue(name)
        assert queue is not None, seen.descriptors
        assert (queue.depth, queue.capacity, queue.message_size) == (3, 8, 64)
        assert queue.queued_bytes == 3 * len("message 0")
        assert [(e.pid, e.mode) for e in queue.holders] == [(proc.pid, "w")]
        assert observe(proc.pid).queue(name).depth == 3   # reading took no message
    with pytest.raises(posix_ipc.ExistentialError):
        posix_ipc.MessageQueue(name)
    assert not os.path.exists(f"/dev/mqueue{name}")


def test_echo_server_tree_sockets_and_storing_pipe(tmp_path: Path, nothing_left_behind) -> None:
    store = tmp_path / "store.txt"
    with running([*python_program("echo_server"), "0", str(store)]) as (proc, line):
        port, storer = int(line.split()[2]), int(line.split()[4])
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"hello\n")
            assert client.recv(100) == b"hello\n"
            mine = os.fstat(client.fileno()).st_ino
            seen = observe_until(proc.pid, lambda o: len(o.processes) == 3 and all(
                p.wait is not None for p in o.processes))
            server = seen.process(proc.pid)
            [handler] = [k for k in server.children if k != storer]
            assert server.wait.words == "accept"
            assert seen.process(storer).wait.words == "pipe read"
            assert seen.process(handler).wait.words == "socket read"
            [listener] = [s for s in seen.sockets if s.state == "listen"]
            assert listener.local == f"127.0.0.1:{port}" and listener.family == "tcp"
            [conn] = [s for s in seen.sockets if s.holders[0].pid == handler
                      and s.state == "established"]
            assert conn.peer_inode == mine and conn.rx_queue == 0
            [pipe] = [p for p in seen.pipes_of(storer) if storer in p.readers]
            assert pipe.readers == (storer,)
            assert set(pipe.writers) == {proc.pid, handler}
            assert pipe.buffered == 0
    assert store.read_bytes() == b"hello\n"


UNIX_PAIR = """
import os, socket, sys, time
a, b = socket.socketpair()
child = os.fork()
if child == 0:
    a.close(); time.sleep(60); os._exit(0)
b.close(); a.sendall(b"x" * 100)
print("ready", child, flush=True); time.sleep(60)
"""


def test_unix_socketpair_peers_and_queued_bytes(nothing_left_behind) -> None:
    with running([sys.executable, "-c", UNIX_PAIR]) as (proc, line):
        child = int(line.split()[1])
        seen = observe_until(proc.pid, lambda o: o.process(child) is not None
                             and o.process(child).wait is not None)
        by_pid = {s.holders[0].pid: s for s in seen.sockets if s.family == "unix"}
        ours, theirs = by_pid[proc.pid], by_pid[child]
        assert ours.peer_inode == theirs.inode and theirs.peer_inode == ours.inode
        assert theirs.rx_queue == 100 and ours.rx_queue == 0
        assert seen.process(child).wait.words == "sleep"


FIFO_HOLD = """
import os, sys, time
r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
w = os.open(sys.argv[1], os.O_WRONLY)
os.write(w, b"y" * 321)
print("ready", flush=True); time.sleep(60)
"""


def test_fifo_level_and_ends(tmp_path: Path, nothing_left_behind) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    try:
        with running([sys.executable, "-c", FIFO_HOLD, str(fifo)]) as (proc, _):
            [pipe] = [p for p in observe(proc.pid).pipes if p.kind == "fifo"]
            assert (pipe.kind, pipe.path, pipe.buffered) == ("fifo", str(fifo), 321)
            assert pipe.readers == pipe.writers == (proc.pid,)
    finally:
        fifo.unlink()  # no FIFO of the tests stays behind (pytest keeps tmp dirs)


def test_compile_cache_and_missing_compiler(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source = tmp_path / "hello.c"
    source.write_text("int main(void) { return 7; }\n")
    try:
        built = compile_c(source)
    except NoCompiler as exc:
        pytest.skip(str(exc))
    assert built.parent == tmp_path / "cache" / "ipcviz" / "cc"
    assert (built.parent.stat().st_mode & 0o777) == 0o700
    assert subprocess.run([str(built)]).returncode == 7
    assert compile_c(source) == built                      # cached: not rebuilt
    source.write_text("int main(void) { return 8; }\n")
    assert compile_c(source) != built                      # edited: rebuilt
    source.write_text("int main(void) { return }\n")
    with pytest.raises(CompileError) as bad:
        compile_c(source)
    assert "\n" not in str(bad.value) and "hello.c" in str(bad.value)
    monkeypatch.setenv("CC", "no-such-compiler-xyz")
    with pytest.raises(NoCompiler) as missing:
        compile_c(source)
    assert str(missing.value).startswith("no C compiler") and "\n" not in str(missing.value)


def test_observation_is_plain_data_and_a_gone_pid_is_empty() -> None:
    seen = observe(os.getpid())
    json.dumps(seen.to_dict())
    with pytest.raises(AttributeError):
        seen.root = 1  # type: ignore[misc]
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert observe(gone.pid).processes == ()


SYSV = """
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0
shmid = libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
address = libc.shmat(shmid, None, 0)
libc.shmctl(shmid, IPC_RMID, None)   # removed once both have detached (they die)
msqid = libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
class Msg(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("text", ctypes.c_char * 16)]
for i in range(2):
    libc.msgsnd(msqid, ctypes.byref(Msg(1, b"hello")), 5, 0)
child = os.fork()
if child == 0:
    time.sleep(60); os._exit(0)
print("ready", shmid, msqid, child, flush=True); time.sleep(60)
"""


def _remove_message_queue(msqid: int) -> None:
    import ctypes
    ctypes.CDLL(None).msgctl(msqid, 0, None)   # IPC_RMID


def test_system_v_shm_and_queue(nothing_left_behind) -> None:
    msqid = None
    try:
        with running([sys.executable, "-c", SYSV]) as (proc, line):
            shmid, msqid, child = (int(x) for x in line.split()[1:])
            seen = observe_until(proc.pid, lambda o: o.process(child) is not None)
            pids = tuple(sorted((proc.pid, child)))
            [shm] = [s for s in seen.sysv if s.kind == "shm" and s.id == shmid]
            assert (shm.size, shm.attached, shm.pids) == (4096, 2, pids)
            [queue] = [s for s in seen.sysv if s.kind == "msg" and s.id == msqid]
            assert (queue.messages, queue.queued_bytes, queue.pids) == (2, 10, (proc.pid,))
            [mapped] = [m for m in seen.mappings if m.kind == "sysv_shm"]
            assert (mapped.inode, mapped.mappers) == (shmid, pids)
    finally:
        if msqid is not None:
            _remove_message_queue(msqid)
    # the killed child detaches as init reaps it
    wait_until(lambda: shmid not in sysv_ids("shm"), 5, interval=0.02,
               message="the segment removed once its last user detached")
    assert msqid not in sysv_ids("msg")


def sysv_ids(kind: str) -> set[int]:
    rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
    return {int(row.split()[1]) for row in rows}


def test_observe_package_stands_alone() -> None:
    """No Textual, and nothing of ipcviz but the pure helpers (signals, format) and the
    bounded reader of a source file (host/inputs.py, which imports only os and stat)."""
    code = ("import sys, ipcviz.observe, ipcviz.observe.cc\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')"
            " or (m.startswith('ipcviz.') and not m.startswith('ipcviz.observe')"
            " and m not in ('ipcviz.signals', 'ipcviz.format', 'ipcviz.host',"
            " 'ipcviz.host.inputs'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.strip()
    assert out == "[]"


def test_tree_without_children_files_matches(monkeypatch, nothing_left_behind) -> None:
    """Kernels without CONFIG_PROC_CHILDREN: the tree from one pass over /proc/*/stat."""
    from ipcviz.observe import procs
    with running([c_program("fork_zombies")]) as (proc, _):
        seen = observe_until(proc.pid, lambda o: o.zombies_under(proc.pid) == 5)
        monkeypatch.setattr(procs, "CHILDREN_FILES", False)
        again = observe(proc.pid)
        assert again.process(proc.pid).children == seen.process(proc.pid).children
        assert again.zombies_under(proc.pid) == 5


@pytest.mark.parametrize("language", ["c", "python"])
def test_signal_loop_handlers_seen_caught(language: str, nothing_left_behind) -> None:
    argv = [c_program("signal_loop")] if language == "c" else python_program("signal_loop")
    with running(argv) as (proc, _):
        seen = observe_until(proc.pid, lambda o: o.process(proc.pid).wait is not None)
        me = seen.process(proc.pid)
        assert {"SIGINT", "SIGTERM"} <= set(me.signals.caught)
        assert me.wait.words == "pause (any signal)"
        os.kill(proc.pid, signal.SIGINT)
        assert proc.stdout.readline() == "SIGINT 1\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.stdout.readline() == "SIGTERM: ending after 1 SIGINT\n"
        assert proc.wait() == 0


SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to observe as another user")
def test_another_users_process_is_named_not_read(nothing_left_behind) -> None:
    """Observed as `nobody`, root's process is listed with one problem line, nothing guessed.
    (The observer is a forked child that dropped to nobody: it needs nothing from the
    checkout, which may sit where nobody cannot enter.)"""
    with running([sys.executable, "-c", SLEEPER]) as (proc, _):
        def look() -> list:
            seen = observe(proc.pid)
            return [len(seen.processes), seen.descriptors == (), list(seen.problems)]

        assert as_nobody_returning(look) == [1, True, [
            f"pid {proc.pid}: descriptors not readable (another user's process)"]]


MAPPED_FILE = """
import mmap, os, sys, time
with open(sys.argv[1], "r+b") as f:
    area = mmap.mmap(f.fileno(), 0)
child = os.fork()
if child == 0:
    time.sleep(60); os._exit(0)
print("ready", child, flush=True); time.sleep(60)
"""


def test_mapped_file_shared_by_parent_and_child(tmp_path: Path, nothing_left_behind) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"z" * 10000)
    with running([sys.executable, "-c", MAPPED_FILE, str(data)]) as (proc, line):
        child = int(line.split()[1])
        seen = observe_until(proc.pid, lambda o: o.process(child) is not None)
        mapped = seen.mapping(str(data))
        assert (mapped.kind, mapped.size, mapped.inode) == ("file", 10000, data.stat().st_ino)
        assert mapped.mappers == tuple(sorted((proc.pid, child)))
        assert mapped.contents is None   # contents are copied for POSIX shm only


def test_cpu_time_and_resident_memory_of_a_watched_process(nothing_left_behind) -> None:
    """psutil's reading: a child that spent 0.3 s of CPU and touched 64 MiB shows at
    least that; a zombie and a process that has gone show neither (None, not 0)."""
    program = ("import time, sys\n"
               "block = bytearray(64 << 20)\n"
               "for i in range(0, len(block), 4096): block[i] = 1\n"
               "start = time.process_time()\n"
               "while time.process_time() - start < 0.3: pass\n"
               "print('ready', flush=True)\n"
               "time.sleep(60)\n")
    with running([sys.executable, "-c", program]) as (proc, _):
        child = observe(proc.pid).process(proc.pid)
        assert child is not None and child.cpu_seconds is not None and child.rss is not None
        assert child.cpu_seconds >= 0.3
        assert child.rss >= 64 << 20
    from ipcviz.observe.procs import usage

    assert usage(proc.pid) is None  # reaped: gone
