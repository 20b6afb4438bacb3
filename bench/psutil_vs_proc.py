"""psutil against ipcviz's own /proc readers, on the same processes, in one run.

For each size N (default 64 and 500) it starts N sleeping children and times, per process
per frame:
- the sampler's hot path: ipcviz's kept-open /proc/PID/stat pread (`StatFiles.read`:
  state, parent, CPU ticks, start time, the legacy signal masks) against psutil's
  `Process.oneshot()` asking status, ppid, cpu_times and create_time;
- a watched tree of 6 processes beside the N others: `observe.procs.tree(root)` (the
  kernel's per-task children files: its cost follows the tree) against psutil's
  `children(recursive=True)` (a scan of every process on the machine), per frame;
- CPU and memory of a watched process: psutil's `cpu_times()` + `memory_info()` in one
  `oneshot()` (what `watch` shows) against reading /proc/PID/stat and statm by hand.

Each line prints both figures and their ratio; the table in bench/README.md and the
dependencies page (docs/dependencies.md) quote them. Nothing is asserted.

Usage: .venv/bin/python bench/psutil_vs_proc.py [--sizes 64,500] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import psutil

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from ipcviz.host.process import StatFiles, read_proc  # noqa: E402
from ipcviz.observe import procs  # noqa: E402


def start_children(n: int) -> list[int]:
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            signal.pause()
            os._exit(0)
        pids.append(pid)
    return pids


def per_process_us(fn, pids: list[int], repeat: int) -> float:
    fn(pids)  # warm up (opens kept files, fills caches)
    started = time.perf_counter()
    for _ in range(repeat):
        fn(pids)
    return (time.perf_counter() - started) / repeat / len(pids) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,500")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, psutil {psutil.__version__}, "
          f"{len(psutil.pids())} processes running")
    for size in (int(s) for s in args.sizes.split(",")):
        pids = start_children(size)
        try:
            stats = StatFiles(limit=128)

            def ours_stat(ps: list[int]) -> None:
                for pid in ps:
                    stats.read(pid)

            def psutil_stat(ps: list[int], cache: dict[int, psutil.Process] = {}) -> None:
                for pid in ps:
                    proc = cache.get(pid) or cache.setdefault(pid, psutil.Process(pid))
                    with proc.oneshot():
                        proc.status(), proc.ppid(), proc.cpu_times(), proc.create_time()

            def ours_cpu_mem(ps: list[int]) -> None:
                for pid in ps:
                    read_proc(pid, "stat"), read_proc(pid, "statm")

            def psutil_cpu_mem(ps: list[int], cache: dict[int, psutil.Process] = {}) -> None:
                for pid in ps:
                    proc = cache.get(pid) or cache.setdefault(pid, psutil.Process(pid))
                    with proc.oneshot():
                        proc.cpu_times(), proc.memory_info()

            me = os.getpid()

            small = subprocess.Popen(["sh", "-c", "for i in 1 2 3 4 5; do sleep 600 & done; "
                                      "wait"], start_new_session=True)
            while len(procs.tree(small.pid)) < 6:
                time.sleep(0.01)

            def ours_tree(_: list[int]) -> None:
                procs.tree(small.pid)

            def psutil_tree(_: list[int]) -> None:
                for child in psutil.Process(small.pid).children(recursive=True):
                    child.pid

            rows = [("sampler stat, per process", ours_stat, psutil_stat, len(pids)),
                    ("tree of 6, per frame", ours_tree, psutil_tree, 1),
                    ("cpu + memory, per process", ours_cpu_mem, psutil_cpu_mem, len(pids))]
            try:
                for label, ours, theirs, per in rows:
                    a = per_process_us(ours, pids, args.repeat) * len(pids) / per
                    b = per_process_us(theirs, pids, args.repeat) * len(pids) / per
                    print(f"{size:4d} others  {label:27s} ipcviz {a:8.1f} us  "
                          f"psutil {b:8.1f} us  psutil/ipcviz {b / a:6.2f}")
            finally:
                stats.close()
                os.killpg(small.pid, signal.SIGKILL)
                small.wait()
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            for pid in pids:
                os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
