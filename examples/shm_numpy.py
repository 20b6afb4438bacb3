"""A parent creates a shared numpy array (5 int64, 40 bytes of POSIX shared memory); its
child adds 1 to every element ten times a second; the parent prints the array.

Usage: python3 shm_numpy.py [/NAME] [ROUNDS]   (the parent unlinks the segment at the end)
"""

from __future__ import annotations

import mmap
import os
import sys
import time

import numpy as np
import posix_ipc


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "/ipcviz_example_numpy"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=5 * 8)
    buffer = mmap.mmap(shm.fd, shm.size)
    shm.close_fd()
    array = np.ndarray((5,), dtype=np.int64, buffer=buffer)
    array[:] = np.arange(5)
    child = os.fork()
    if child == 0:
        for _ in range(rounds):
            array += 1
            time.sleep(0.1)
        os._exit(0)
    print(f"ready parent {os.getpid()} child {child}", flush=True)
    try:
        while os.waitpid(child, os.WNOHANG) == (0, 0):
            print(" ".join(str(v) for v in array), flush=True)
            time.sleep(0.5)
    finally:
        del array
        buffer.close()
        shm.unlink()


if __name__ == "__main__":
    main()
