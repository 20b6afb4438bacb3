"""Memory of a run as a person starts it: each worker's PSS and the UI's RSS, at 64 and
at 500 workers (issue 34).

    python bench/memory.py [--settle 5]

`ipcviz launch` in tmux at 120x40, once with the UI load of `bench/run.py` (64 workers,
16 pipes, 8 queues, a 64x64 shared array), once with 498 workers in 50 ms sleep loops and
a busy 64-byte pipe pair (500). Once every worker runs and `--settle` seconds have passed:
the proportional set size (PSS, /proc/PID/smaps_rollup: each shared page divided among
the processes that map it, so the workers' sum is what they really add) of every worker,
the runtime and the UI, and the UI's RSS. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from htop import children, find, pane_pid  # noqa: E402
from run import ui_scenario  # noqa: E402
from terminal import launch, quit_app  # noqa: E402

SESSION = "bench-memory"
CROWD = """\
name: 500 workers
duration: 600
channels:
  p: {kind: pipe}
workers:
  w: {count: 498, loop: true, steps: [{sleep: 0.05}]}
  writer: {loop: true, steps: [{write: {to: p, size: 64}}]}
  reader: {loop: true, steps: [{read: {from: p, bytes: 64}}]}
"""


def kib(pid: int, field: str, name: str = "status") -> int:
    """A `field:` line of /proc/PID/status or smaps_rollup, in KiB (0: gone)."""
    try:
        with open(f"/proc/{pid}/{name}") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith(field + ":")),
                        0)
    except OSError:
        return 0


def header() -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION, "-S", "0", "-E", "0"],
                          capture_output=True, text=True).stdout


def measure(path: Path, workers: int, settle: float) -> dict | None:
    launch(SESSION, path)
    try:
        deadline = time.monotonic() + 90
        while f"{workers}/{workers} workers alive" not in header():
            if time.monotonic() > deadline:
                print(f"the {workers} workers did not all start", file=sys.stderr)
                return None
            time.sleep(0.2)
        time.sleep(settle)
        ui = find(pane_pid(SESSION), "ipcviz launch")
        runtime = find(ui, "ipcviz.runtime") if ui else None
        if ui is None or runtime is None:
            print("ipcviz's processes not found", file=sys.stderr)
            return None
        pss = sorted(kib(pid, "Pss", "smaps_rollup") for pid in children(runtime))
        return {"workers": len(pss), "median": pss[len(pss) // 2], "max": pss[-1],
                "sum": sum(pss), "runtime_pss": kib(runtime, "Pss", "smaps_rollup"),
                "runtime_rss": kib(runtime, "VmRSS"), "ui_rss": kib(ui, "VmRSS"),
                "ui_pss": kib(ui, "Pss", "smaps_rollup")}
    finally:
        quit_app(SESSION, 5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("needs tmux", file=sys.stderr)
        return 2
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        load, crowd = Path(tmp) / "load.yaml", Path(tmp) / "crowd.yaml"
        ui_scenario(load)
        crowd.write_text(CROWD)
        for path, n in ((load, 64), (crowd, 500)):
            m = measure(path, n, args.settle)
            if m is None:
                return 1
            print(f"{n} workers: worker PSS median {m['median'] / 1024:.2f} MiB, max "
                  f"{m['max'] / 1024:.2f}, sum {m['sum'] / 1024:.0f} MiB ({m['workers']} "
                  f"workers); runtime PSS {m['runtime_pss'] / 1024:.0f} MiB (RSS "
                  f"{m['runtime_rss'] / 1024:.0f}); UI RSS {m['ui_rss'] / 1024:.0f} MiB "
                  f"(PSS {m['ui_pss'] / 1024:.0f}), target < 200 MB, ratio "
                  f"{m['ui_rss'] / 1024 / 200:.2f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
