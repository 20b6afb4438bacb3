"""Writing a whole message to a pipe, signals or not.

A process that is sent signals while it writes a long line to a full pipe gets partial
writes back from the kernel (pipe_write stops at a pending signal). Python's buffered
files (sys.stdout, open(..., "w")) lose bytes when that happens: measured here on Python
3.11, a 190 KB JSON line written through sys.stdout while SIGUSR1 arrived every 0.5 ms
(or while a profiler stopped the process) came out cut at a 64 KiB boundary in about one
line in five. The runtime is sent signals all the time (SIGCHLD, a lesson's workers
signalling their parent, a user's `kill`), and one cut frame used to end the UI's reader:
so every frame and summary goes out through `write_fully`, a loop over os.write that
carries on from wherever the kernel stopped.
"""

from __future__ import annotations

import os


def write_fully(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd`, however many partial writes the kernel makes of it
    (os.write retries by itself when a signal interrupts it before any byte went out)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
