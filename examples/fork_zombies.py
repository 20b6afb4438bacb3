"""Forks 5 children that exit at once and never waits for them: 5 zombies.

Usage: python3 fork_zombies.py [SECONDS]
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    for i in range(5):
        if os.fork() == 0:
            os._exit(i)
    print("ready", flush=True)
    time.sleep(seconds)


if __name__ == "__main__":
    main()
