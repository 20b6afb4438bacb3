"""Key to screen under load (issue 18's third target), measured the way a person sees it.

    python bench/keys.py [--presses 30] [--light | --crowd]

One `ipcviz launch` of the UI load (64 workers, 16 pipes, 8 queues, a 64x64 array; the
scenario of bench/run.py) runs in a real terminal (tmux, 120x40). `space` is sent to the
terminal (tmux send-keys) and the terminal's screen is read (tmux capture-pane, every
2 ms) until the header says PAUSED, then `space` again until it no longer does: the
whole path of a key (the UI, the runtime pausing every worker, the next frame, Textual
painting, the terminal). Prints the median and p95 of the presses. `--crowd`: the 512
processes of bench/crowd.py (510 workers in sleep loops and a busy pipe pair) instead.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from crowd import SCENARIO as CROWD  # noqa: E402
from run import ui_scenario  # noqa: E402
from terminal import launch, quit_app  # noqa: E402

SESSION = "bench-keys"


def header() -> str:
    out = subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION, "-S", "0", "-E", "0"],
                         capture_output=True, text=True).stdout
    return out


def press_until(paused: bool, timeout: float = 5.0) -> float | None:
    start = time.monotonic()
    subprocess.run(["tmux", "send-keys", "-t", SESSION, "Space"], check=True)
    while time.monotonic() - start < timeout:
        if ("PAUSED" in header()) == paused:
            return time.monotonic() - start
        time.sleep(0.002)
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--light", action="store_true",
                        help="one worker in a sleep loop instead of the UI load (a baseline)")
    parser.add_argument("--crowd", action="store_true",
                        help="512 processes (bench/crowd.py) instead of the UI load")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("needs tmux", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "ui.yaml"
        if args.light:
            scenario.write_text("name: light\nduration: 600\nworkers:\n  w: {loop: true, "
                                "steps: [{sleep: 0.1}]}\n")
        elif args.crowd:
            scenario.write_text(CROWD)
        else:
            ui_scenario(scenario)
        launch(SESSION, scenario)
        times: list[float] = []
        missed = 0
        try:
            deadline = time.monotonic() + 60
            while args.crowd and "512/512 workers alive" not in header():
                if time.monotonic() > deadline:
                    print("the 512 workers did not all start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            time.sleep(6)  # started, first frames drawn
            for k in range(args.presses):
                took = press_until(paused=k % 2 == 0)
                if took is None:
                    missed += 1
                else:
                    times.append(took)
                time.sleep(0.3)
        finally:
            quit_app(SESSION, 3)
    if not times:
        print("no press reached the screen", file=sys.stderr)
        return 1
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    load = "512 processes" if args.crowd else "one worker" if args.light else "64 workers"
    print(f"{load}: key to screen p95 {p95 * 1e3:.0f} ms (median "
          f"{statistics.median(times) * 1e3:.0f}, max {times[-1] * 1e3:.0f}, {len(times)} "
          f"presses, missed {missed}), target <= 100, ratio {p95 * 10:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
