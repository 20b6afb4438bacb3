"""Blocks SIGUSR1 and sleeps: SIGUSR1 sent to it stays pending (standard signals coalesce,
so however many arrive, one is pending); real-time signals sent to it queue.

Usage: python3 block_sigusr1.py [SECONDS]   (prints "ready" once SIGUSR1 is blocked)
"""

from __future__ import annotations

import signal
import sys
import time


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGRTMIN})
    print("ready", flush=True)
    time.sleep(seconds)


if __name__ == "__main__":
    main()
