"""The kernel's count of a process's system calls (host/syscall_count.py): exact counts of
real calls through a real pipe, queue, socket and semaphore, in this process and in a
child, and a clear line where the count is not readable."""

from __future__ import annotations

import os
import socket

import posix_ipc
import pytest

from ipcviz.host.syscall_count import SyscallCounter, unavailable

from .waiting import wait_until

N = 1000
MESSAGE = b"m" * 64

pytestmark = pytest.mark.skipif(unavailable() is not None,
                                reason=unavailable() or "system calls are counted")


def _count(body) -> int:
    """The system calls this process entered while `body` ran."""
    counter = SyscallCounter()
    try:
        counter.start()
        body()
        return counter.read()
    finally:
        counter.close()


def test_nothing_done_is_zero_calls() -> None:
    assert _count(lambda: None) == 0


def test_a_pipe_message_is_one_write_and_one_read(nothing_left_behind) -> None:
    r, w = os.pipe()
    try:
        def body() -> None:
            for _ in range(N):
                os.write(w, MESSAGE)
                os.read(r, len(MESSAGE))
        assert _count(body) == 2 * N
    finally:
        os.close(r)
        os.close(w)


def test_a_queue_message_is_one_send_and_one_receive(nothing_left_behind) -> None:
    queue = posix_ipc.MessageQueue(None, posix_ipc.O_CREX, max_messages=4,
                                   max_message_size=len(MESSAGE))
    try:
        def body() -> None:
            for _ in range(N):
                queue.send(MESSAGE)
                queue.receive()
        assert _count(body) == 2 * N
    finally:
        queue.close()
        queue.unlink()


def test_a_socket_message_is_one_send_and_one_receive(nothing_left_behind) -> None:
    a, b = socket.socketpair()
    try:
        def body() -> None:
            for _ in range(N):
                a.send(MESSAGE)
                b.recv(len(MESSAGE))
        assert _count(body) == 2 * N
    finally:
        a.close()
        b.close()


def test_a_semaphore_nobody_waits_on_makes_no_call(nothing_left_behind) -> None:
    """sem_post and sem_wait stay in user space when nobody has to wait (the futex's
    fast path); /proc/PID/io could not tell this from a queue's calls, which it misses."""
    sem = posix_ipc.Semaphore(None, posix_ipc.O_CREX, initial_value=0)
    try:
        def body() -> None:
            for _ in range(N):
                sem.release()
                sem.acquire()
        assert _count(body) == 0
    finally:
        sem.unlink()


def _asleep(pid: int) -> bool:
    """The process sleeps (here: in its read of the gate, the only call that can sleep)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0] == b"S"


def test_another_process_is_counted_after_it_exits(nothing_left_behind) -> None:
    """A child held at a gate, counted from outside: its N writes and its exit_group."""
    gate_r, gate_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait at the gate, then write N times and exit
        try:
            os.close(gate_w)
            os.read(gate_r, 1)
            null = os.open(os.devnull, os.O_WRONLY)
            for _ in range(N):
                os.write(null, MESSAGE)
        finally:
            os._exit(0)
    os.close(gate_r)
    counter = SyscallCounter(pid)
    try:
        wait_until(lambda: _asleep(pid), message="the child waits at its gate")
        counter.start()
        os.write(gate_w, b"g")
        os.waitpid(pid, 0)
        assert counter.read() == N + 2  # openat of /dev/null, N writes, exit_group
    finally:
        counter.close()
        os.close(gate_w)


def test_a_user_without_access_gets_one_line(nothing_left_behind) -> None:
    """Another user (nobody) may not read tracefs: unavailable() says so in one line."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgid(65534)
            os.setuid(65534)
            os.write(w, (unavailable() or "").encode())
        finally:
            os._exit(0)
    os.close(w)
    text = b""
    while chunk := os.read(r, 4096):
        text += chunk
    os.close(r)
    os.waitpid(pid, 0)
    line = text.decode()
    assert line.startswith("the kernel's count of system calls is not readable here")
    assert "\n" not in line


def test_one_call_counted_and_only_where_it_succeeded(nothing_left_behind) -> None:
    """Writes into a non-blocking pipe until it is full: every write returns, the last
    one with EAGAIN; the successful ones are exactly those that moved a message."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    moved = refused = 0
    every = SyscallCounter(call="write")
    succeeded = SyscallCounter(call="write", succeeded=True)
    try:
        every.start()
        succeeded.start()
        while not refused:
            try:
                os.write(w, MESSAGE)
                moved += 1
            except BlockingIOError:
                refused += 1
        assert moved > 0
        assert (succeeded.read(), every.read()) == (moved, moved + 1)
    finally:
        every.close()
        succeeded.close()
        os.close(r)
        os.close(w)


def test_a_counter_of_reads_leaves_out_its_own(nothing_left_behind) -> None:
    r, w = os.pipe()
    counter = SyscallCounter(call="read")
    try:
        counter.start()
        assert counter.read() == 0
        for _ in range(N):
            os.write(w, MESSAGE)
            os.read(r, len(MESSAGE))
        assert counter.read() == N
        assert counter.read() == N
    finally:
        counter.close()
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("name", ["../../raw_syscalls/sys_enter", "Write", "no_such_call"])
def test_a_call_that_is_not_one_is_an_error(name: str) -> None:
    with pytest.raises(OSError):
        SyscallCounter(call=name)
