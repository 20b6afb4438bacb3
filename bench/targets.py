"""Every performance target of round three in one run, one line per target.

    python bench/targets.py [--only htop keys ...] [--no-write]

Runs each target's own script in turn (each is also usable alone, with more rounds),
prints every line in which a script states a target, and rewrites the table between
`<!-- targets -->` and `<!-- /targets -->` in bench/README.md with the machine it ran on
(processor, cores, kernel, Python, the load average before and after). A target's ratio
is always measured against its own baseline in the same script's run (htop beside
ipcviz, a bare Python loop beside a mechanism); the times are wall times as a person
sees them, so a busy machine makes them worse, and the load average is written beside
them.

A script's target line ends in `target OP VALUE` and `ratio R`: for a target that is
itself a ratio (VALUE at most 1) R is compared with VALUE, otherwise R is the measured
value over VALUE and is compared with 1.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from readme_table import replace_block  # noqa: E402

#: (key, what it measures, the script and its arguments); about 4 minutes in all on a quiet machine
STEPS: tuple[tuple[str, str, list[str]], ...] = (
    ("htop", "watching 64 workers against htop", ["htop.py", "--rounds", "2", "--seconds", "8"]),
    ("keys", "key to screen at 64 workers", ["keys.py", "--presses", "20"]),
    ("keys512", "key to screen at 512 processes", ["keys.py", "--crowd", "--presses", "20"]),
    ("crowd", "512 processes: frames, memory, scrolling",
     ["crowd.py", "--seconds", "8", "--pages", "10"]),
    ("startstop", "256 busy workers, duration 2",
     ["startstop.py", "--workers", "1", "256", "--repeat", "2"]),
    ("mechanisms", "each speed_race mechanism against a bare loop",
     ["mechanisms.py", "--rounds", "3"]),
    ("memory", "memory at 64 and 500 workers", ["memory.py"]),
)

TARGET = re.compile(r"target\s*(<=|>=|<)\s*([0-9.]+)")
RATIO = re.compile(r"ratio\s+([0-9.]+|nan|inf)")


def met(line: str) -> bool | None:
    """Whether a script's target line says its target is met (None: no verdict in it)."""
    target, ratio = TARGET.search(line), RATIO.search(line)
    if target is None or ratio is None:
        return None
    op, value, r = target.group(1), float(target.group(2)), float(ratio.group(1))
    bound = value if value <= 1.0 else 1.0
    if op == ">=":
        return r >= bound
    return r <= bound if op == "<=" else r < bound


def machine() -> str:
    """The processor, cores, kernel and Python this ran on."""
    model = "unknown processor"
    try:
        for raw in Path("/proc/cpuinfo").read_text().splitlines():
            if raw.startswith("model name"):
                model = raw.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def run_step(key: str, what: str, argv: list[str], index: int, total: int
             ) -> list[tuple[str, str, bool | None]]:
    """One script, its output shown as it comes; its target lines as rows."""
    print(f"[{index}/{total}] {what}: bench/{' '.join(argv)}", flush=True)
    rows: list[tuple[str, str, bool | None]] = []
    proc = subprocess.Popen([sys.executable, str(HERE / argv[0]), *argv[1:]],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=HERE.parent)
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        print(f"    {line}", flush=True)
        if TARGET.search(line):
            rows.append((what, line.strip(), met(line)))
    if proc.wait() != 0:
        rows.append((what, f"bench/{argv[0]} failed (exit status {proc.returncode})", False))
    return rows


def write_readme(rows: list[tuple[str, str, bool | None]], header: str) -> None:
    """The results table between the markers of bench/README.md (added at its end the
    first time)."""
    table = [header, "", "| what | the script's line | met |", "|---|---|---|"]
    for what, line, ok in rows:
        verdict = "-" if ok is None else ("yes" if ok else "**no**")
        table.append(f"| {what} | {line.replace('|', '/')} | {verdict} |")
    replace_block("targets", table)

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[k for k, _w, _a in STEPS],
                        help="run only these steps")
    parser.add_argument("--no-write", action="store_true",
                        help="print only; leave bench/README.md as it is")
    args = parser.parse_args()
    steps = [s for s in STEPS if not args.only or s[0] in args.only]
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    rows: list[tuple[str, str, bool | None]] = []
    for i, (key, what, argv) in enumerate(steps, 1):
        rows += run_step(key, what, argv, i, len(steps))
    load_after = os.getloadavg()[0]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"Measured {stamp} by `bench/targets.py` in {time.monotonic() - began:.0f} s on "
              f"{machine()}; load average {load_before:.1f} before, {load_after:.1f} after.")
    print()
    print(header)
    for what, line, ok in rows:
        verdict = "-" if ok is None else ("met" if ok else "NOT MET")
        print(f"{verdict:>7}  {what}: {line}")
    if not args.no_write and not args.only:
        write_readme(rows, header)
        print("written to bench/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
