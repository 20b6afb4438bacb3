"""One pipe used both ways (the race) against two pipes, one per direction.

Usage: python3 pipes.py one|two [ROUNDS]
With one pipe, parent and child both write then read the same pipe, so each can read back
its own message. With two pipes every message reaches the other side.
"""

from __future__ import annotations

import os
import sys
import time


def talk(who: str, mine: bytes, write_fd: int, read_fd: int, rounds: int) -> None:
    """Write our message, read one message, count the reads that were our own."""
    self_reads = 0
    for _ in range(rounds):
        os.write(write_fd, mine)
        if os.read(read_fd, len(mine)) == mine:
            self_reads += 1
        time.sleep(0.001)
    print(f"{who}: {self_reads} of {rounds} reads were its own message", flush=True)


def main() -> None:
    two = len(sys.argv) > 1 and sys.argv[1] == "two"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    down = os.pipe()
    up = os.pipe() if two else down
    child = os.fork()
    if child == 0:
        talk("child ", b"CHILD!!!", up[1], down[0], rounds)
        os._exit(0)
    talk("parent", b"PARENT!!", down[1], up[0], rounds)
    os.waitpid(child, 0)


if __name__ == "__main__":
    main()
