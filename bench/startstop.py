"""Where a headless run's wall time goes: start (imports, the sweep, the cgroup, forking
each worker), the run itself, the final reading, and the stop (kill, reap, cgroup
removal, unlinking), for N busy workers.

    python bench/startstop.py                  (64, 128, 256 busy workers, 3 runs each)
    python bench/startstop.py --workers 256 --repeat 5
    python bench/startstop.py --tree ../other-checkout   (another commit, to compare)

Each run is a real `ipcviz run --headless --json` of N workers in tight increment loops
with `duration: 2`, started from a runner that wraps the runtime's phases with
timestamps (CLOCK_MONOTONIC, shared by both processes). The target (issue 34): 256
workers end within 2.5 s of wall time from the command's start, and start and stop grow
linearly in N (their per-worker cost is printed). Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = """name: {n} busy workers
duration: {duration}
channels:
  a: {{kind: shared_array, dtype: int64, shape: [1]}}
workers:
  w: {{count: {n}, loop: true, steps: [{{increment: {{array: a, index: 0}}}}]}}
"""

#: runs the CLI with the runtime's phases timed; the marks go to the file $MARKS names
RUNNER = r'''
import time
_T = {"begin": time.monotonic()}
import atexit, json, os, sys
from ipcviz.cli import main
from ipcviz.runtime import supervisor, cleanup, forking, session, containment, headless
from ipcviz.runtime.sampler import Sampler
from ipcviz.host import registry
_T["imported"] = time.monotonic()
_SUM = {}

def mark(name):
    _T.setdefault(name, time.monotonic())

def span(owner, attr, name, first=True):
    """Time each call of owner.attr: the first call's start and end, and the total."""
    inner = getattr(owner, attr)
    def wrapped(*a, **k):
        start = time.monotonic()
        try:
            return inner(*a, **k)
        finally:
            end = time.monotonic()
            if first:
                _T.setdefault(name + ".start", start)
                _T.setdefault(name + ".end", end)
            _SUM[name] = _SUM.get(name, 0.0) + end - start
    setattr(owner, attr, wrapped)

span(supervisor, "sweep_dead_runs", "sweep")
span(supervisor.Runtime, "start", "start")
span(containment.Containment, "make", "cgroup_make")
span(forking.Workers, "fork", "fork", first=False)
span(registry.Registry, "add_process", "registry_add", first=False)
span(session.Session, "run", "run")
span(Sampler, "sample", "sample", first=False)
span(cleanup.Cleaner, "quiesce", "quiesce")
span(supervisor.Runtime, "shutdown", "shutdown")
span(containment.Containment, "kill", "cgroup_kill")
span(containment.Containment, "remove", "cgroup_remove")
span(registry.Registry, "remove_all", "registry_remove")
span(cleanup.Cleaner, "leaks", "leaks")
span(headless, "build_summary", "summary")

@atexit.register
def _write():
    _T["exit"] = time.monotonic()
    with open(os.environ["MARKS"], "w") as fh:
        json.dump({"t": _T, "sum": _SUM}, fh)

code = main()  # (argv None: the command line, as the console script calls it)
sys.stdout.flush()
sys.exit(code)
'''


def run_once(n: int, duration: float, tree: Path = ROOT) -> dict:
    """One timed run of `n` busy workers: the marks, relative to the command's start
    (`tree`: the checkout whose ipcviz runs, another one to compare with this one)."""
    with tempfile.TemporaryDirectory() as tmp:
        path, marks = Path(tmp) / "busy.yaml", Path(tmp) / "marks.json"
        path.write_text(SCENARIO.format(n=n, duration=duration))
        env = dict(os.environ, MARKS=str(marks))
        # as a user's `pip install` leaves it: every module's bytecode cached (a shell
        # with PYTHONDONTWRITEBYTECODE would otherwise compile ipcviz from source in
        # every run, about 0.2 s of the start)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", RUNNER, "run", str(path), "--headless",
                                 "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                cwd=tree, env=env, timeout=300)
        ended = time.monotonic()
        data = json.loads(marks.read_text())
    summary = json.loads(result.stdout)
    t, total = data["t"], data["sum"]
    rel = {k: v - started for k, v in t.items()}
    return {
        "n": n, "wall": ended - started, "python_up": rel["begin"],
        "imports": t["imported"] - t["begin"],
        "sweep": total.get("sweep", 0.0), "cgroup_make": total.get("cgroup_make", 0.0),
        "forks": total.get("fork", 0.0), "registry_add": total.get("registry_add", 0.0),
        "start": total["start"], "run": total["run"], "duration_s": summary["duration_s"],
        "final_reading": t["shutdown.start"] - t["run.end"],
        "quiesce": total.get("quiesce", 0.0),
        "shutdown": total["shutdown"], "cgroup_kill": total.get("cgroup_kill", 0.0),
        "cgroup_remove": total.get("cgroup_remove", 0.0),
        "registry_remove": total.get("registry_remove", 0.0),
        "after_shutdown": t["exit"] - t["shutdown.end"],
        "process_exit": ended - t["exit"],
        "leaks": summary["leaks"]["processes"] + summary["leaks"]["ipc_objects"],
        "increments": summary["channels"]["a"]["increments"],
        "sum": summary["channels"]["a"]["sum"],
    }


def line(r: dict) -> str:
    return (f"n {r['n']:4d}  wall {r['wall']:5.2f} s  (python up {r['python_up']:.2f}, "
            f"imports {r['imports']:.2f}, sweep {r['sweep']:.3f}, start {r['start']:.2f}: "
            f"forks {r['forks']:.2f} [registry {r['registry_add']:.3f}], "
            f"cgroup {r['cgroup_make']:.3f}; run {r['run']:.2f}; "
            f"final reading {r['final_reading']:.2f} [quiesce {r['quiesce']:.2f}]; "
            f"stop {r['shutdown']:.2f}: kill {r['cgroup_kill']:.3f}, "
            f"cgroup removal {r['cgroup_remove']:.2f}, unlink {r['registry_remove']:.3f}; "
            f"then {r['after_shutdown']:.2f} + exit {r['process_exit']:.2f})  "
            f"leaks {r['leaks']}, increments {r['increments']} = sum {r['sum']}")


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the checkout to run (default: this one)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(args.tree / "ipcviz")],
                   env=env, check=True)  # the bytecode a `pip install` would have written
    results: dict[int, list[dict]] = {}
    for _ in range(args.repeat):  # sizes interleaved: the machine's load hits each alike
        for n in args.workers:
            r = run_once(n, args.duration, args.tree)
            results.setdefault(n, []).append(r)
            print(line(r), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    phases = ("forks", "final_reading", "shutdown")
    medians = {n: {k: median([r[k] for r in runs]) for k in ("wall", *phases)}
               for n, runs in results.items()}
    for n, runs in results.items():
        walls = [r["wall"] for r in runs]
        print(f"n {n:4d}: wall {medians[n]['wall']:.2f} s [{min(walls):.2f}-{max(walls):.2f}]"
              f", forks {medians[n]['forks'] / n * 1000:.2f} ms a worker, final reading "
              f"{medians[n]['final_reading'] * 1000:.0f} ms, stop "
              f"{medians[n]['shutdown'] / n * 1000:.2f} ms a worker")
    sizes = sorted(n for n in medians if n > 1)
    if len(sizes) >= 2:  # the slope between the smallest and the largest run
        low, high = sizes[0], sizes[-1]
        for phase in ("forks", "shutdown"):
            slope = (medians[high][phase] - medians[low][phase]) / (high - low) * 1000
            print(f"{phase}: {slope:.2f} ms per added worker from {low} to {high} "
                  f"(per worker at each size: " + ", ".join(
                      f"{n}: {medians[n][phase] / n * 1000:.2f}" for n in sizes) + ")")
    if 256 in results:
        wall = median([r["wall"] for r in results[256]])
        print(f"256 busy workers, duration 2: wall {wall:.2f} s, target <= 2.5 s, "
              f"ratio {wall / 2.5:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
