"""Every frame's pipe holders, as the kept records give them, against a full reading of
every process's /proc/PID/fd made right after (runtime/pipe_holders.py).

    .venv/bin/python bench/holders_check.py [--seconds 4] [--busy 2] [--ui] [LESSON ...]

Each lesson (default: every bundled lesson with a pipe) runs in-process with its own
session loop for `--seconds` (`--ui`: also the UI load of bench/run.py, 64 workers and
16 pipes), with `--busy` busy processes beside it. On every frame that reads the holders,
the same processes are read in full just before and just after; a frame whose ends are
neither of those two readings is printed (two real changes within the three readings
could do it too: a difference is a lead to look at). Prints per lesson: frames compared, processes
taken from their records, processes read, frames that differ.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ipcviz.runtime import channel_views, pipe_holders  # noqa: E402
from ipcviz.runtime.sampler import Sampler  # noqa: E402
from ipcviz.runtime.supervisor import Runtime  # noqa: E402
from ipcviz.scenario.load import load_scenario  # noqa: E402


def pipe_lessons() -> list[str]:
    return sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml")
                  if "kind: pipe" in p.read_text())


class Shadow:
    """Wraps channel_views.holders_of: each call's answer beside a full reading."""

    def __init__(self) -> None:
        self.frames = self.kept = self.read = 0
        self.differ: list[str] = []
        self.real = pipe_holders.holders_of

    def __call__(self, inodes, processes):
        processes = list(processes)
        inodes = list(inodes)
        reads: list[int] = []
        read_ends = pipe_holders.read_ends

        def counted(pid, wanted):
            reads.append(pid)
            return read_ends(pid, wanted)

        plain = [(h[0], h[1]) for h in processes]
        before = self.real(inodes, plain)
        pipe_holders.read_ends = counted
        try:
            found, hidden = self.real(inodes, processes)
        finally:
            pipe_holders.read_ends = read_ends
        after = self.real(inodes, plain)
        self.frames += 1
        self.read += len(reads)
        self.kept += len({h[1] for h in processes}) - len(reads)

        def key(ends):
            return {i: sorted((e.holder, e.fd, e.end) for e in v) for i, v in ends.items()}

        seen = (key(found), hidden)
        if seen not in ((key(before[0]), before[1]), (key(after[0]), after[1])):
            self.differ.append(f"frame {self.frames}: {seen} is neither of the full readings "
                               f"before and after it: {key(before[0])}, {key(after[0])}")
        return found, hidden


def run(path: Path, seconds: float) -> Shadow:
    shadow = Shadow()
    channel_views.holders_of = shadow
    runtime = Runtime(load_scenario(path), allow_exec=True)
    sampler = Sampler(runtime)
    try:
        runtime.start()
        end = time.monotonic() + seconds
        tick = 0
        while time.monotonic() < end and not runtime.all_ended():
            runtime.poll(0.02)
            tick += 1
            sampler.sample(kernel=tick % 5 == 0)
    finally:
        sampler.close()
        runtime.shutdown()
        channel_views.holders_of = shadow.real
    return shadow


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--ui", action="store_true")
    args = parser.parse_args()
    paths = [ROOT / "scenarios" / f"{name}.yaml" for name in args.lessons or pipe_lessons()]
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(args.busy)]
    total_differ = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.ui:
                from run import ui_scenario
                ui = Path(tmp) / "ui.yaml"
                ui_scenario(ui)
                paths.append(ui)
            for path in paths:
                s = run(path, args.seconds)
                total_differ += len(s.differ)
                print(f"{path.stem}: {s.frames} frames, {s.kept} processes from records, "
                      f"{s.read} read, {len(s.differ)} differ", flush=True)
                for line in s.differ[:5]:
                    print("   ", line[:900])
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(f"total: {total_differ} frames differ")
    return 1 if total_differ else 0


if __name__ == "__main__":
    sys.exit(main())
