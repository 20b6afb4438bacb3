"""`duration` is a promise: how far past it does a headless run end, under load?

    python bench/duration.py                  (both cases, workers' nice as shipped)
    python bench/duration.py --nice 0 10 19   (the busy case at several worker nice values)

Cases (each a real `ipcviz run --headless --json`):
- busy:  256 workers in tight increment loops, duration 1 s;
- burst: 2 timeline events x 100,000 SIGRTMIN to 16 workers each, duration 3 s.
For each: wall time of the whole command, the summary's `duration_s`, and the overrun
(`duration_s` minus the scenario's duration; the wall time adds start-up and cleanup).
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

BUSY = """name: 256 busy workers
duration: 1
channels:
  a: {kind: shared_array, dtype: int64, shape: [256]}
workers:
  w: {count: 256, loop: true, steps: [{increment: {array: a, index: 0}}]}
"""

BURST = """name: two bursts of 100,000
duration: 3
workers:
  w: {count: 16, handlers: {SIGRTMIN: count}}
timeline:
  - {at: 0.5, signal: {to: w, sig: SIGRTMIN, count: 100000}}
  - {at: 1.0, signal: {to: w, sig: SIGRTMIN, count: 100000}}
"""

#: runs the CLI with the workers' nice value set (the constant lives in runtime/forking.py)
#: ("default": as shipped, nice 10 and 19 beyond forking.CROWD workers; a number: that
#: nice value whatever the count)
RUNNER = ("import sys; from ipcviz.runtime import forking; n = sys.argv[1]\n"
          "if n != 'default': forking.WORKER_NICE = forking.CROWD_NICE = int(n)\n"
          "from ipcviz.cli import main; sys.exit(main(sys.argv[2:]))")


def run(text: str, nice: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(text)
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", RUNNER, str(nice), "run", str(path),
                                 "--headless", "--json"], capture_output=True, text=True,
                                cwd=ROOT, timeout=600)
        wall = time.monotonic() - started
    summary = json.loads(result.stdout)
    return {"wall_s": round(wall, 2), "duration_s": summary["duration_s"],
            "leaks": summary["leaks"], "workers": summary["workers"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nice", nargs="+", default=["default"],
                        help="worker nice values to try (default: as shipped)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for nice in args.nice:
        for _ in range(args.repeat):
            busy = run(BUSY, nice)
            print(f"busy  (256 workers, 1 s)  nice {nice}: duration_s {busy['duration_s']:.2f}"
                  f"  overrun {busy['duration_s'] - 1:+.2f} s  wall {busy['wall_s']:.2f} s")
    for _ in range(args.repeat):
        burst = run(BURST, args.nice[0])
        sent = sum(sum(w["signals_sent_to"].values()) for w in burst["workers"].values())
        got = sum(sum(w["signals_received"].values()) for w in burst["workers"].values())
        print(f"burst (16 x 2 x 100,000, 3 s) nice {args.nice[0]}: duration_s "
              f"{burst['duration_s']:.2f}  overrun {burst['duration_s'] - 3:+.2f} s  wall "
              f"{burst['wall_s']:.2f} s  sent {sent}  received {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
