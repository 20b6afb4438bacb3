"""What `ipcviz watch` costs a pipe-heavy program: a parent writes 4 KiB blocks through a
pipe to its child for 2 s; the child prints the bytes per second it read. Run bare, under
`ipcviz watch --headless` (the observer reads the tree, its graph and its diagnoses at
each 10 Hz tick: a pipe both processes keep blocking on makes it look for outside holders
each second), and under `watch --trace` (strace), alternately, ROUNDS times each; prints
the medians and the ratios. The program is pinned to one core (taskset) in every run. Usage: python
bench/watch_cost.py [ROUNDS]"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys

PROGRAM = """\
import os, sys, time
r, w = os.pipe()
if os.fork() == 0:
    os.close(w)
    total, start = 0, time.perf_counter()
    while True:
        got = os.read(r, 65536)
        if not got:
            break
        total += len(got)
    print(int(total / (time.perf_counter() - start)), flush=True)
    os._exit(0)
os.close(r)
block, end = b"x" * 4096, time.perf_counter() + 2.0
while time.perf_counter() < end:
    os.write(w, block)
os.close(w)
os.wait()
"""


#: both processes of the program on one core, bare and watched alike: where the scheduler
#: puts a writer and its reader (same core or not) changes a pipe's speed by 2x, more
#: than anything measured here; the observer runs wherever it is put
PINNED = ["taskset", "-c", "0"] if shutil.which("taskset") else []


def bare() -> int:
    out = subprocess.run([*PINNED, sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                         check=True, timeout=60)
    return int(out.stdout.split()[-1])


def watched(*extra: str) -> tuple[int, int]:
    """Bytes per second under watch, and how many diagnoses it made (none expected)."""
    out = subprocess.run([sys.executable, "-m", "ipcviz", "watch", "--headless", "--json",
                          "--duration", "30", *extra, "--", *PINNED, sys.executable, "-c",
                          PROGRAM],
                         capture_output=True, text=True, check=True, timeout=120)
    (entry,) = json.loads(out.stdout)["workers"].values()
    return int(entry["program"]["last_output"][-1]), len(entry["program"]["diagnoses"])


def per_reading() -> None:
    """The observer's own cost per 10 Hz reading of the same program's tree: observe(),
    then the graph and the diagnoses, then the look through /proc for outside holders
    (done at most once a second, when a process is blocked on a pipe)."""
    import time

    from ipcviz.observe import observe
    from ipcviz.observe.diagnose import diagnose
    from ipcviz.observe.graph import build_graph
    from ipcviz.runtime.diagnosis import OutsideLook

    proc = subprocess.Popen([sys.executable, "-c", PROGRAM], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    seen_t, graph_t, scan_t = [], [], []
    try:
        for _ in range(50):
            t0 = time.perf_counter()
            seen = observe(proc.pid, contents_limit=64, maps=False)
            t1 = time.perf_counter()
            graph = build_graph(seen)
            diagnose(seen, graph)
            t2 = time.perf_counter()
            OutsideLook.start(graph, {o.id for o in graph.objects}).step(
                {p.pid for p in seen.processes}, 10.0)
            t3 = time.perf_counter()
            seen_t.append(t1 - t0)
            graph_t.append(t2 - t1)
            scan_t.append(t3 - t2)
    finally:
        proc.wait()
    processes = len(list(__import__("os").scandir("/proc")))
    print(f"per reading: observe {statistics.median(seen_t) * 1e3:.2f} ms, graph and "
          f"diagnoses {statistics.median(graph_t) * 1e3:.3f} ms; the look through /proc "
          f"for outside holders {statistics.median(scan_t) * 1e3:.1f} ms "
          f"({processes} entries in /proc)")


def main() -> None:
    per_reading()
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    runs: dict[str, list[int]] = {"bare": [], "watch": [], "watch --trace": []}
    diagnosed = 0
    for i in range(rounds):
        order = ["bare", "watch", "watch --trace"]
        for name in order[i % 3:] + order[:i % 3]:   # alternate which goes first
            if name == "bare":
                runs[name].append(bare())
            else:
                bps, found = watched(*(["--trace"] if "trace" in name else []))
                runs[name].append(bps)
                diagnosed += found
    base = statistics.median(runs["bare"])
    for name, values in runs.items():
        med = statistics.median(values)
        print(f"{name:>13}: median {med / 1e6:8.1f} MB/s [{min(values) / 1e6:.1f}-"
              f"{max(values) / 1e6:.1f}], ratio to bare {med / base:.2f}")
    print(f"diagnoses made on this bug-free program: {diagnosed}")


if __name__ == "__main__":
    main()
