"""Record bundled lessons on a loaded machine and count the frames that break a relation
every frame must keep (ipcviz/telemetry/invariants.py), by lesson and rule.

    .venv/bin/python bench/frame_truth.py [--duration 4] [--busy 2] [LESSON ...]

Two busy processes (`--busy`) run beside each recording, as a loaded machine would; they
are ended afterwards. Prints one line per lesson with its frames, broken frames and
violations by rule, then the totals.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ipcviz.telemetry.invariants import check_frames  # noqa: E402
from ipcviz.telemetry.snapshot import Snapshot  # noqa: E402


def lessons() -> list[str]:
    return sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))


def busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*")
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--busy", type=int, default=2)
    args = parser.parse_args()
    names = args.lessons or lessons()
    hogs = busy(args.busy)
    totals: collections.Counter[str] = collections.Counter()
    frames_all = bad_all = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                out = os.path.join(tmp, name + ".jsonl")
                run = subprocess.run(
                    [str(ROOT / ".venv/bin/ipcviz"), "record", name, "-o", out,
                     "--duration", str(args.duration)],
                    capture_output=True, text=True, timeout=args.duration + 60)
                if run.returncode != 0 or not os.path.exists(out):
                    print(f"{name}: not recorded ({run.returncode}): "
                          f"{run.stderr.strip()[-200:]}")
                    continue
                with open(out) as fh:
                    frames = [Snapshot.from_dict(json.loads(line)) for line in fh]
                rules: collections.Counter[str] = collections.Counter()
                bad = set()
                for v in check_frames(frames):
                    rules[v.rule] += 1
                    bad.add(v.frame)
                totals.update(rules)
                frames_all += len(frames)
                bad_all += len(bad)
                detail = ", ".join(f"{rule}: {n}" for rule, n in rules.most_common())
                print(f"{name}: {len(frames)} frames, {len(bad)} broken"
                      + (f" ({detail})" if detail else ""), flush=True)
    finally:
        for hog in hogs:
            hog.send_signal(signal.SIGKILL)
            hog.wait()
    print(f"total: {frames_all} frames, {bad_all} broken")
    for rule, n in totals.most_common():
        print(f"  {rule}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
