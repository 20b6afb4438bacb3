"""Every bundled lesson, recorded on a loaded machine, keeps on every frame the relations
a real run cannot break (telemetry/invariants.py): one moment per frame
(runtime/moment.py), whatever the machine is doing beside the run."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ipcviz.telemetry.invariants import check_frames
from ipcviz.telemetry.recording_file import parse_recording

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
#: seconds each lesson is recorded, and how many recordings run at once (with the two
#: busy processes, more than the machine's cores want: the load is the point)
SECONDS = 2.5
AT_ONCE = 3


def record(name: str, out: Path) -> tuple[str, list[str]]:
    """Record lesson `name`; its violations as lines (or why it was not recorded)."""
    run = subprocess.run([sys.executable, "-m", "ipcviz", "record", name, "-o", str(out),
                          "--duration", str(SECONDS)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    if run.returncode != 0:
        return name, [f"not recorded (exit {run.returncode}): {run.stderr[-500:]}"]
    # the frames as `ipcviz replay --check` reads them: a key its reader does not know
    # (telemetry/wire_types.py) is dropped there, and a relation that needs it breaks
    frames = parse_recording(out.read_bytes(), str(out))
    # (a lesson whose workers all end at once, like shell_pipeline's two programs, has a
    # short recording: its last frame says the run is over)
    if len(frames) < 5 and (not frames or frames[-1].running):
        return name, [f"only {len(frames)} frames"]
    return name, [v.line() for v in check_frames(frames)]


@pytest.mark.slow
@pytest.mark.timeout(400)  # 24 recordings: minutes when other tests share the machine
def test_every_lesson_keeps_every_relation_on_a_loaded_machine(
        tmp_path: Path, nothing_left_behind) -> None:
    busy = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(2)]
    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            results = dict(pool.map(lambda n: record(n, tmp_path / f"{n}.jsonl"), LESSONS))
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert len(results) == len(LESSONS) >= 24
    broken = {name: lines[:3] for name, lines in results.items() if lines}
    assert broken == {}
