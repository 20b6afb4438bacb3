"""What watching costs, side by side with htop (issue 18's first target).

    python bench/htop.py [--rounds 3] [--seconds 10]

One `ipcviz launch` of the UI load (64 workers, 16 pipes, 8 queues, a 64x64 array; the
scenario of bench/run.py) runs in a real terminal (tmux, 120x40). Alternately, for
`--seconds` each: the CPU of ipcviz's two processes (the UI and the runtime) while it
shows the run at 10 frames a second, then the CPU of `htop -d 1` (10 refreshes a
second) in a second tmux window of the same size, watching the same machine with the
same workers running. CPU is read from /proc/PID/stat (utime + stime), so painting to
the terminal counts. Prints each round and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ui_scenario  # noqa: E402
from terminal import launch, quit_app  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    rest = raw[raw.rfind(b")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def children(pid: int) -> list[int]:
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as fh:
            out += [int(x) for x in fh.read().split()]
    return out


def pane_pid(session: str) -> int:
    text = subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
                          capture_output=True, text=True, check=True).stdout
    return int(text.split()[0])


def find(root: int, needle: str) -> int | None:
    """The first Python process under `root` (or root) whose command line holds `needle`
    (not the shell that started it)."""
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            if needle.encode() in b" ".join(argv) and not argv[0].endswith(b"sh"):
                return pid
            todo += children(pid)
        except OSError:
            continue
    return None


def share(pids: list[int], seconds: float) -> float:
    """Percent of one core these processes used over `seconds`."""
    return sum(shares(pids, seconds))


def shares(pids: list[int], seconds: float) -> list[float]:
    """Percent of one core each of these processes used over the same `seconds`."""
    before = [cpu_ticks(p) for p in pids]
    time.sleep(seconds)
    after = [cpu_ticks(p) for p in pids]
    return [100.0 * (a - b) / TICKS / seconds for a, b in zip(after, before)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if shutil.which("htop") is None or shutil.which("tmux") is None:
        print("needs htop and tmux (Debian packages htop, tmux)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "ui.yaml"
        ui_scenario(scenario)
        env = dict(os.environ, IPCVIZ_RUN_ROOT=tempfile.mkdtemp(dir=tmp))
        os.chmod(env["IPCVIZ_RUN_ROOT"], 0o700)
        launch("bench-ipcviz", scenario, env)
        try:
            time.sleep(6)  # started, first frames drawn
            shell = pane_pid("bench-ipcviz")
            ui = find(shell, "ipcviz launch")
            runtime = find(ui, "ipcviz.runtime") if ui else None
            if ui is None or runtime is None:
                screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", "bench-ipcviz"],
                                        capture_output=True, text=True).stdout
                print("ipcviz did not start:\n" + screen.strip(), file=sys.stderr)
                return 1
            ours, theirs = [], []
            for r in range(args.rounds):
                split = shares([ui, runtime], args.seconds)
                ours.append(sum(split))
                subprocess.run(["tmux", "new", "-d", "-s", "bench-htop", "-x", "120", "-y",
                                "40", "htop -d 1"], check=True)
                time.sleep(2)
                htop = find(pane_pid("bench-htop"), "htop")
                theirs.append(share([htop], args.seconds) if htop else float("nan"))
                subprocess.run(["tmux", "kill-session", "-t", "bench-htop"], check=False)
                print(f"round {r + 1}: ipcviz (UI + runtime) {ours[-1]:5.1f} % (UI "
                      f"{split[0]:.1f}, runtime {split[1]:.1f})   htop -d 1 {theirs[-1]:5.1f} %")
        finally:
            quit_app("bench-ipcviz", 3)
    mine, htops = statistics.median(ours), statistics.median(theirs)
    print(f"median: ipcviz {mine:.1f} % of a core, htop {htops:.1f} %: ratio "
          f"{mine / htops:.2f} (target <= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
