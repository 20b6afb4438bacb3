"""512 workers in the app (issue 18's last target), seen the way a person sees it.

    python bench/crowd.py [--seconds 10]

`ipcviz launch` of 510 workers in 50 ms sleep loops and a busy 64-byte pipe pair (512
processes, the process cap) in tmux at 120x40. Once every worker runs: frames a second as
seen on the terminal (the header's run clock changes with every frame: it is read with
tmux capture-pane every 20 ms), the UI's RSS, the UI's and the runtime's CPU over the same
seconds, whether End and Home reach the last and the first worker, and how long a
PageDown takes to move the workers table on the screen (`--pages` presses, read every
2 ms: the table scrolls without a stall when its p95 is within the key target, 100 ms).
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

from htop import TICKS, cpu_ticks, find, pane_pid  # noqa: E402
from terminal import launch, quit_app  # noqa: E402

SESSION = "bench-crowd"
SCENARIO = """\
name: 512 workers
duration: 600
channels:
  p: {kind: pipe}
workers:
  w: {count: 510, loop: true, steps: [{sleep: 0.05}]}
  writer: {loop: true, steps: [{write: {to: p, size: 64}}]}
  reader: {loop: true, steps: [{read: {from: p, bytes: 64}}]}
"""


def screen(first: int = 0, last: int = 39) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION, "-S", str(first),
                           "-E", str(last)], capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("needs tmux", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crowd.yaml"
        path.write_text(SCENARIO)
        launch(SESSION, path)
        try:
            deadline = time.monotonic() + 60
            while "512/512 workers alive" not in screen(0, 0):
                if time.monotonic() > deadline:
                    print("the 512 workers did not all start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            time.sleep(3)
            shell = pane_pid(SESSION)
            ui = find(shell, "ipcviz launch")
            runtime = find(ui, "ipcviz.runtime") if ui else None
            if ui is None or runtime is None:
                print("ipcviz's processes not found", file=sys.stderr)
                return 1
            before = [cpu_ticks(ui), cpu_ticks(runtime)]
            start, last, changes = time.monotonic(), None, 0
            while time.monotonic() - start < args.seconds:
                header = screen(0, 0)
                if header != last:
                    changes, last = changes + 1, header
                time.sleep(0.02)
            took = time.monotonic() - start
            after = [cpu_ticks(ui), cpu_ticks(runtime)]
            cpu = [(a - b) / TICKS / took * 100 for a, b in zip(after, before)]
            with open(f"/proc/{ui}/status") as fh:
                rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
            subprocess.run(["tmux", "send-keys", "-t", SESSION, "End"], check=True)
            time.sleep(1.5)
            end_ok = " reader " in screen(2, 20)
            subprocess.run(["tmux", "send-keys", "-t", SESSION, "Home"], check=True)
            time.sleep(1.5)
            home_ok = " w.0 " in screen(2, 5)
            page_down()  # the cursor to the page's last row: each press from here scrolls
            pages = [page_down() for _ in range(args.pages)]
        finally:
            quit_app(SESSION, 5)
    fps = changes / took
    moved = sorted(p for p in pages if p is not None)
    print(f"512 workers: frames a second as seen {fps:.1f}, target >= 5, ratio "
          f"{fps / 5:.2f}")
    print(f"512 workers: UI RSS {rss // 1024} MB, target < 200, ratio {rss / 1024 / 200:.2f}")
    if moved:
        p95 = moved[min(len(moved) - 1, round(0.95 * (len(moved) - 1)))]
        print(f"512 workers: PageDown to screen p95 {p95 * 1e3:.0f} ms (median "
              f"{statistics.median(moved) * 1e3:.0f}, max {moved[-1] * 1e3:.0f}, "
              f"{len(pages) - len(moved)} of {len(pages)} not seen in 3 s), target <= 100, "
              f"ratio {p95 * 10:.2f}")
    print(f"512 workers: UI {cpu[0]:.0f} % and runtime {cpu[1]:.0f} % of a core; End "
          f"reaches the last worker: {end_ok}, Home the first: {home_ok}")
    return 0


def table_names() -> list[str]:
    """The worker names the table shows (the first word of each of its rows)."""
    return [" ".join(line.split()[:1]) for line in screen(3, 17).splitlines()]


def page_down(timeout: float = 3.0) -> float | None:
    """Seconds from a PageDown sent to the table's rows moving on the terminal."""
    before = table_names()
    start = time.monotonic()
    subprocess.run(["tmux", "send-keys", "-t", SESSION, "PageDown"], check=True)
    while time.monotonic() - start < timeout:
        if table_names() != before:
            took = time.monotonic() - start
            time.sleep(0.2)
            return took
        time.sleep(0.002)
    return None


if __name__ == "__main__":
    sys.exit(main())
