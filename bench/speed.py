"""Slow motion: the same headless run at speed 1 and at 0.25 (issue 14: about 4x as long).

The scenario is a two-way pipe conversation of 10 rounds with a 0.1 s pause per round, about
1 s at full speed: its time is mostly sleeps (stretched by 1/f) plus a few operations per
round (paced at 64 x f per worker per second). Each speed runs ROUNDS times; the medians of
`duration_s` (the run's wall time) are compared. Measured, not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROUNDS = 3
SCENARIO = """\
duration: 30
channels:
  ask: {kind: pipe}
  answer: {kind: pipe}
workers:
  asker:
    loop: 10
    steps:
      - write: {to: ask, data: "Who are you?"}
      - read: {from: answer, bytes: 64}
      - sleep: 0.1
  answerer:
    loop: 10
    steps:
      - read: {from: ask, bytes: 12}
      - write: {to: answer, data: "Thank you"}
"""


def run_at(path: str, speed: float) -> float:
    out = subprocess.run([sys.executable, "-m", "ipcviz", "run", path, "--headless", "--json",
                          "--speed", str(speed)], capture_output=True, text=True,
                         check=True).stdout
    summary = json.loads(out)
    assert summary["channels"]["ask"]["bytes_read"] == 120, summary["channels"]
    return float(summary["duration_s"])


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(SCENARIO)
    try:
        full = [run_at(fh.name, 1.0) for _ in range(ROUNDS)]
        slow = [run_at(fh.name, 0.25) for _ in range(ROUNDS)]
    finally:
        os.unlink(fh.name)
    print(f"speed 1:    {median(full):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in full)})")
    print(f"speed 0.25: {median(slow):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in slow)})")
    print(f"ratio {median(slow) / median(full):.2f} (target about 4)")


if __name__ == "__main__":
    main()
