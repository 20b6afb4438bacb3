"""What sleeping on the run clock costs: wake-ups of sleeping workers, running and paused.

    python bench/sleep_clock.py [--workers N] [--seconds S] [--sleep T]

N workers (default 200) loop on `sleep: T` (default 2 s) in a runtime driven in this
process. For S seconds (default 4) each: the run runs, then it is paused (every sleep
stands still with the run clock), then it runs again. Printed for each stretch: the
workers' voluntary context switches (each one a wake-up: /proc/PID/status) per worker
per second, and the run clock's advance. Running, a sleep is one wake-up (one system
call) per T seconds; paused, a sleeper wakes once at the wall time its sleep would have
ended, then looks at the clock every 20 ms (as a worker held at its step boundary does).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ipcviz.host.process import become_subreaper  # noqa: E402
from ipcviz.runtime.supervisor import Runtime  # noqa: E402
from ipcviz.scenario.load import load_text  # noqa: E402


def switches(pids: list[int]) -> int:
    """Voluntary context switches of `pids` so far, added up."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def stretch(runtime: Runtime, pids: list[int], seconds: float) -> tuple[float, float]:
    """Poll the runtime for `seconds`: (wake-ups per worker per second, run clock gained)."""
    before, clock = switches(pids), runtime.run_time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        runtime.poll(0.05)
    return (switches(pids) - before) / len(pids) / seconds, runtime.run_time - clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--sleep", type=float, default=2.0)
    args = parser.parse_args()
    text = (f"duration: 600\nworkers:\n  w: {{count: {args.workers}, loop: true, "
            f"steps: [{{sleep: {args.sleep}}}]}}\n").encode()
    runtime = Runtime(load_text(text, "sleepers.yaml"))
    try:
        runtime.start()
        pids = [p.ident.pid for p in runtime.procs if p.ident is not None]
        stretch(runtime, pids, 1.0)  # every worker in its first sleep
        for name, action in (("running", None), ("paused", runtime.scheduler.pause),
                             ("running again", runtime.scheduler.resume)):
            if action is not None:
                action()
            rate, gained = stretch(runtime, pids, args.seconds)
            print(f"{name:>14}: {rate:6.2f} wake-ups per worker per second; run clock "
                  f"+{gained:.2f} s in {args.seconds:g} s")
    finally:
        runtime.shutdown()
        become_subreaper(False)


if __name__ == "__main__":
    main()
