"""Throughput of each mechanism of the `speed_race` lesson, through ipcviz and in a bare
Python loop doing the same transfer, side by side in one run (target: ipcviz / bare
>= 0.90 for each).

    python bench/mechanisms.py             (5 rounds of each, about 2 minutes)
    python bench/mechanisms.py --rounds 9
    python bench/mechanisms.py --against /tmp/old   (a second checkout, e.g. `git worktree
                                                     add /tmp/old HEAD` before a change)

Each pair runs alone (in the lesson all five race at once, sharing the CPUs): the same
block sizes as the lesson (64 KiB writes to a pipe, a FIFO, a Unix and a TCP socket;
8,184-byte messages in a queue of 10; a 1 MiB mapping passed to and fro with two
semaphores). The bare side is two forked processes making the same system calls with
blocking descriptors; the ipcviz side is `ipcviz run --headless --json` of the pair, its
rate the channel's `moved` (as the lesson compares it) over `duration_s`. Sides alternate (and which goes first), and
the medians are compared, with the ranges; measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import posix_ipc

DURATION = 1.0
BLOCK = 65536
MESSAGE = 8184
MAPPING = 1 << 20
ROOT = str(Path(__file__).resolve().parent.parent)


def _pair(write: Callable[[float], None], read: Callable[[], int]) -> float:
    """Bytes a second: `write(end)` in a forked writer until `end`, then it closes its
    ends; `read()` in this process returns the bytes it received until the end."""
    writer = os.fork()
    if writer == 0:
        try:
            write(time.monotonic() + DURATION)
        finally:
            os._exit(0)
    start = time.monotonic()
    total = read()
    elapsed = time.monotonic() - start
    os.waitpid(writer, 0)
    return total / elapsed


def _stream(w_end, r_end, close_w, close_r) -> float:
    """A byte stream (pipe, FIFO, socket): `w_end()`/`r_end()` give write and read
    functions in the writer and the reader."""
    payload = b"x" * BLOCK

    def write(end: float) -> None:
        close_r()
        send = w_end()
        while time.monotonic() < end:
            for _ in range(16):
                send(payload)

    def read() -> int:
        close_w()
        recv = r_end()
        total = 0
        while True:
            data = recv(BLOCK)
            if not data:
                return total
            total += len(data)

    try:
        return _pair(write, read)
    finally:
        close_r()


def bare_pipe() -> float:
    r, w = os.pipe()
    return _stream(lambda: (lambda b: os.write(w, b)), lambda: (lambda n: os.read(r, n)),
                   lambda: _close(w), lambda: _close(r))


def bare_fifo() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fifo")
        os.mkfifo(path, 0o600)
        fds: dict[str, int] = {}

        def w_end():
            fds["w"] = os.open(path, os.O_WRONLY)
            return lambda b: os.write(fds["w"], b)

        def r_end():
            fds["r"] = os.open(path, os.O_RDONLY)
            return lambda n: os.read(fds["r"], n)

        return _stream(w_end, r_end, lambda: None, lambda: _close(fds.pop("r", -1)))


def bare_socket(family: str) -> float:
    if family == "unix":
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        a = socket.create_connection(server.getsockname())
        b, _ = server.accept()
        server.close()
    return _stream(lambda: a.sendall, lambda: b.recv, a.close, b.close)


def bare_mqueue() -> float:
    name = f"/ipcviz.bench.{os.getpid()}"
    mq = posix_ipc.MessageQueue(name, posix_ipc.O_CREX, mode=0o600, max_messages=10,
                                max_message_size=8192)
    payload = b"x" * MESSAGE

    def write(end: float) -> None:
        while time.monotonic() < end:
            for _ in range(16):
                mq.send(payload)
        mq.send(b"")

    def read() -> int:
        total = 0
        while True:
            message, _ = mq.receive()
            if not message:
                return total
            total += len(message)

    try:
        return _pair(write, read)
    finally:
        mq.close()
        mq.unlink()


def bare_shm() -> float:
    """A 1 MiB file mapping both processes see, the turn passed with two semaphores."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "shm")
        with open(path, "wb") as fh:
            fh.truncate(MAPPING)
        fd = os.open(path, os.O_RDWR)
        area = mmap.mmap(fd, MAPPING, mmap.MAP_SHARED)
        os.close(fd)
        base = f"/ipcviz.bench.{os.getpid()}"
        empty = posix_ipc.Semaphore(base + ".e", posix_ipc.O_CREX, mode=0o600, initial_value=1)
        full = posix_ipc.Semaphore(base + ".f", posix_ipc.O_CREX, mode=0o600, initial_value=0)
        done = mmap.mmap(-1, 8)
        payload = b"x" * MAPPING

        def write(end: float) -> None:
            while time.monotonic() < end:
                empty.acquire()
                area[0:MAPPING] = payload
                full.release()
            done[0] = 1  # (the reader may be holding the last block: no wait here)
            full.release()

        def read() -> int:
            total = 0
            while True:
                full.acquire()
                if done[0]:
                    return total
                total += len(bytes(area[0:MAPPING]))
                empty.release()

        try:
            return _pair(write, read)
        finally:
            for sem in (empty, full):
                sem.unlink()
                sem.close()
            area.close()


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


PAIR = """  writer: {{loop: true, steps: [{{write: {{to: c, size: {size}}}}}]}}
  reader: {{loop: true, steps: [{{read: {{from: c, bytes: {size}}}}}]}}
"""

SCENARIOS = {
    "pipe": ("channels: {c: {kind: pipe}}\nworkers:\n" + PAIR.format(size=BLOCK), bare_pipe),
    "FIFO": ("channels: {c: {kind: fifo}}\nworkers:\n" + PAIR.format(size=BLOCK), bare_fifo),
    "unix socket": ("channels: {c: {kind: socket, family: unix, server: reader}}\nworkers:\n"
                    + PAIR.format(size=BLOCK), lambda: bare_socket("unix")),
    "tcp socket": ("channels: {c: {kind: socket, family: tcp, server: reader}}\nworkers:\n"
                   + PAIR.format(size=BLOCK), lambda: bare_socket("tcp")),
    "mqueue": ("channels: {c: {kind: mqueue, capacity: 10, message_size: 8192}}\nworkers:\n"
               f"  writer: {{loop: true, steps: [{{send: {{to: c, size: {MESSAGE}}}}}]}}\n"
               "  reader: {loop: true, steps: [{receive: {from: c}}]}\n", bare_mqueue),
    "shm (mmap + 2 semaphores)": (
        f"channels:\n  c: {{kind: mmap, size: {MAPPING}}}\n"
        "  empty: {kind: semaphore, value: 1}\n  full: {kind: semaphore, value: 0}\n"
        "workers:\n"
        f"  writer: {{loop: true, steps: [{{acquire: empty}}, {{write: {{to: c, size: {MAPPING}}}}},"
        " {release: full}]}\n"
        f"  reader: {{loop: true, steps: [{{acquire: full}}, {{read: {{from: c, bytes: {MAPPING}}}}},"
        " {release: empty}]}\n", bare_shm),
}


def at_nice(bare: Callable[[], float], nice: int) -> float:
    """`bare()` in a forked process at `nice` (its writer, forked from it, inherits it):
    ipcviz's workers run at nice 10, and on a loaded machine that alone moves a rate."""
    if not nice:
        return bare()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.nice(nice)
            os.write(w, repr(bare()).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        out = fh.read()
    os.waitpid(pid, 0)
    return float(out)


def through_ipcviz(text: str, tree: str | None = None) -> float:
    """The pair's rate through `ipcviz run` (of the checkout `tree`: its package is
    imported first when run from there; None: this one)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pair.yaml"
        path.write_text(f"duration: {DURATION}\ncompare: [c]\n" + text)
        out = subprocess.run([sys.executable, "-m", "ipcviz", "run", str(path), "--headless",
                              "--json"], capture_output=True, text=True, check=True,
                             timeout=120, cwd=tree or ROOT).stdout
    summary = json.loads(out)
    return summary["channels"]["c"]["moved"] / summary["duration_s"]


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run(rounds: int, only: list[str] | None = None, nice: int = 0,
        against: str | None = None) -> list[tuple[str, list[float], list[float], list[float]]]:
    """(mechanism, bare rates, ipcviz rates, rates of the checkout `against`), `rounds` of
    each, alternating (the order turns each round); the bare pair at `nice`."""
    rows = []
    for name, (text, bare) in SCENARIOS.items():
        if only and name.split()[0] not in only:
            continue
        rates: dict[str, list[float]] = {"bare": [], "ours": [], "other": []}
        sides: list[tuple[str, Callable[[], float]]] = [
            ("bare", lambda: at_nice(bare, nice)), ("ours", lambda: through_ipcviz(text))]
        if against:
            sides.append(("other", lambda: through_ipcviz(text, against)))
        for round_ in range(rounds):
            turn = round_ % len(sides)
            for key, measure in sides[turn:] + sides[:turn]:
                rates[key].append(measure())
        rows.append((name, rates["bare"], rates["ours"], rates["other"]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="first words of the mechanisms to run")
    parser.add_argument("--bare-nice", type=int, default=0,
                        help="run the bare pair at this nice value (ipcviz's workers: 10)")
    parser.add_argument("--against", metavar="DIR",
                        help="a second checkout, measured in the same rounds (before/after)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.bare_nice:
        print(f"the bare pair at nice {args.bare_nice}")
    for name, raw, ours, other in run(args.rounds, args.only, args.bare_nice, args.against):
        ratio = median(ours) / median(raw)
        print(f"throughput {name:<26} ipcviz {median(ours) / 1e6:8.1f} MB/s "
              f"[{min(ours) / 1e6:.0f}-{max(ours) / 1e6:.0f}]  bare {median(raw) / 1e6:8.1f} "
              f"MB/s [{min(raw) / 1e6:.0f}-{max(raw) / 1e6:.0f}]  target >= 0.90  "
              f"ratio {ratio:.2f}", flush=True)
        if other:
            print(f"  {args.against:<35} {median(other) / 1e6:8.1f} MB/s "
                  f"[{min(other) / 1e6:.0f}-{max(other) / 1e6:.0f}]  ratio "
                  f"{median(other) / median(raw):.2f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
