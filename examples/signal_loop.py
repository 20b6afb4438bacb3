"""The classic handler loop: SIGINT is counted and printed, SIGTERM prints the totals and ends.

Usage: python3 signal_loop.py
"""

from __future__ import annotations

import os
import signal

counts = {"SIGINT": 0, "SIGTERM": 0}


def on_signal(signum: int, frame: object) -> None:
    """Count the signal (Python runs handlers between bytecodes, in the main thread)."""
    counts[signal.Signals(signum).name] += 1


def main() -> None:
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"ready pid {os.getpid()}: Ctrl-C counts, SIGTERM ends", flush=True)
    shown = 0
    while counts["SIGTERM"] == 0:
        signal.pause()
        if counts["SIGINT"] != shown:
            shown = counts["SIGINT"]
            print(f"SIGINT {shown}", flush=True)
    print(f"SIGTERM: ending after {counts['SIGINT']} SIGINT", flush=True)


if __name__ == "__main__":
    main()
