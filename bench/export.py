"""`ipcviz export` of a 60 s recording of the UI load (target: under 2 s).

    python bench/export.py                      (records 60 s first, then times)
    python bench/export.py --recording FILE     (times an existing recording)

The load is bench/run.py's UI scenario: 64 workers, 16 pipes, 8 message queues and a
64x64 shared array, all changing every frame. It is recorded with `ipcviz record
--duration 60`; then `ipcviz export` runs ROUNDS times as a command (what a person waits
for: start-up, reading and checking the recording, the conversion, the write), and the
median of its wall and CPU time is printed with the range, the recording's size and
the trace's. Measured, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from run import ui_scenario  # noqa: E402

ROUNDS = 5


def record(directory: Path, seconds: float) -> Path:
    """A recording of `seconds` of the UI load, made for real."""
    scenario, recording = directory / "load.yaml", directory / "load.jsonl"
    ui_scenario(scenario)
    subprocess.run([sys.executable, "-m", "ipcviz", "record", str(scenario), "-o",
                    str(recording), "--duration", str(seconds)], check=True,
                   timeout=seconds + 120, stdout=subprocess.DEVNULL)
    return recording


def time_export(recording: Path, directory: Path) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system) of each `ipcviz export` round, as a
    command. On a machine shared with other work the wall time is mostly waiting for a
    core: the CPU time is what the export itself costs."""
    walls, cpus = [], []
    for n in range(ROUNDS):
        out = directory / f"trace{n}.json"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ipcviz", "export", str(recording), "-o",
                        str(out)], check=True, timeout=300, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording", type=Path, help="time this recording instead")
    parser.add_argument("--seconds", type=float, default=60, help="seconds to record")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        recording = args.recording or record(directory, args.seconds)
        walls, cpus = time_export(recording, directory)
        trace = json.loads((directory / "trace0.json").read_text())
        lines = recording.read_text().splitlines()
        events = trace["traceEvents"]
        kinds = {ph: sum(1 for e in events if e["ph"] == ph) for ph in "XsCi"}
        print(f"recording: {len(lines)} frames, {recording.stat().st_size / 1e6:.1f} MB, "
              f"{json.loads(lines[-1])['elapsed']:.1f} s, "
              f"{len(json.loads(lines[-1])['workers'])} workers")
        print(f"trace: {len(events)} events ({kinds['X']} slices, {kinds['s']} arrows, "
              f"{kinds['C']} counter values, {kinds['i']} marks), "
              f"{(directory / 'trace0.json').stat().st_size / 1e6:.1f} MB")
        for what, times in (("wall", walls), ("CPU", cpus)):
            print(f"export, {what}: median {statistics.median(times):.2f} s "
                  f"[{min(times):.2f}-{max(times):.2f}] over {ROUNDS} runs (target < 2 s)")
        print(f"load average while measuring: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
