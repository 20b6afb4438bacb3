"""Cost of one kernel observation (ipcviz.observe) of external process trees.

Builds a tree of N processes (N = 16, 64, 256): a root and N-1 children, each child with
its own pipe to the root holding 100 unread bytes, all mapping one 4 KiB POSIX shm
segment, the root holding one message queue with 3 messages. Then times observe(root)
and prints microseconds per process per observation and the share of one core that
observing 64 processes at 10 frames per second takes.

Usage: .venv/bin/python bench/observe.py [--sizes 16,64,256] [--repeat 20]
"""

from __future__ import annotations

import argparse
import mmap
import os
import signal
import statistics
import sys
import time

import posix_ipc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from ipcviz.observe import observe  # noqa: E402


def build_tree(size: int, tag: str) -> tuple[int, int]:
    """Fork a root that forks size-1 children; returns (root pid, readiness fd)."""
    ready_r, ready_w = os.pipe()
    root = os.fork()
    if root:
        os.close(ready_w)
        return root, ready_r
    os.close(ready_r)
    shm = posix_ipc.SharedMemory(f"/obsbench_{tag}", posix_ipc.O_CREX, size=4096)
    area = mmap.mmap(shm.fd, 4096)
    shm.close_fd()
    shm.unlink()  # mapped stays valid; nothing to leave behind
    queue = posix_ipc.MessageQueue(f"/obsbench_{tag}", posix_ipc.O_CREX, max_messages=8)
    queue.unlink()
    for _ in range(3):
        queue.send(b"m")
    kept: list[int] = []
    for _ in range(size - 1):
        r, w = os.pipe()
        if os.fork() == 0:
            for fd in (r, *kept):
                os.close(fd)
            os.write(w, b"x" * 100)
            area[0] = 1
            signal.pause()
            os._exit(0)
        os.close(w)
        kept.append(r)
    os.write(ready_w, b"!")
    signal.pause()
    os._exit(0)


def measure(size: int, repeat: int, maps: bool = True) -> list[float]:
    root, ready = build_tree(size, f"{os.getpid()}_{size}")
    try:
        os.read(ready, 1)
        while len(observe(root).processes) < size:
            time.sleep(0.05)
        timings = []
        for _ in range(repeat):
            start = time.perf_counter()
            seen = observe(root, maps=maps)
            timings.append(time.perf_counter() - start)
        assert len(seen.processes) == size, len(seen.processes)
        return timings
    finally:
        os.close(ready)
        for p in observe(root).processes[::-1]:
            try:
                os.kill(p.pid, signal.SIGKILL)  # only the tree this script forked
            except ProcessLookupError:
                pass
        os.waitpid(root, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,64,256")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    print("| processes | maps | one observation, median [min-max] | per process |")
    print("|---|---|---|---|")
    per_64: dict[bool, float] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        for maps in (True, False):
            timings = measure(size, args.repeat, maps)
            median = statistics.median(timings)
            if size == 64:
                per_64[maps] = median
            print(f"| {size} | {'yes' if maps else 'no'} | {median * 1e3:.1f} ms "
                  f"[{min(timings) * 1e3:.1f}-{max(timings) * 1e3:.1f}] | "
                  f"{median / size * 1e6:.0f} µs |")
    for maps, median in per_64.items():
        print(f"\n64 processes at 10 frames per second{'' if maps else ', without maps'}: "
              f"{median * 10 * 100:.0f} % of one core")


if __name__ == "__main__":
    main()
