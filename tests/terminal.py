"""The real CLI on a pseudo-terminal, for tests of what only a terminal shows.

`python -m ipcviz ARGS` runs with stdin, stdout and stderr on the slave side
of a pty of a fixed size, in a session of its own, as a user's shell would start it. A
thread drains the master side into `output`: an app whose screen nobody reads would
block on a full terminal and never reach what the test waits for.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Mapping
from pathlib import Path

import psutil

from .conftest import ROOT
from .waiting import wait_until


class Terminal:
    """`python -m ipcviz ARGS` on a pseudo-terminal of `columns` x `lines`, drained."""

    def __init__(self, *args: str, columns: int = 120, lines: int = 40,
                 env: Mapping[str, str] | None = None, cwd: Path = ROOT) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        environ = dict(os.environ if env is None else env, TERM="xterm-256color",
                       COLUMNS=str(columns), LINES=str(lines))
        self.master = master
        self.output = bytearray()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ipcviz", *args], cwd=cwd, env=environ,
                stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drain(self) -> None:
        """Read the screen until the other side is closed (EIO once every slave fd is)."""
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def type(self, data: bytes) -> None:
        """Keys, as a user types them."""
        os.write(self.master, data)

    def wait_for_output(self, text: bytes, timeout: float = 30.0) -> None:
        """Until `text` has appeared on the screen."""
        wait_until(lambda: text in self.output, timeout,
                   message=f"{text!r} on the terminal")

    def runtime(self, timeout: float = 20.0) -> psutil.Process:
        """The runtime process, once it has forked its workers."""
        def found() -> psutil.Process | None:
            for child in psutil.Process(self.proc.pid).children():
                try:
                    if "ipcviz.runtime" in " ".join(child.cmdline()) and child.children():
                        return child
                except psutil.NoSuchProcess:
                    pass
            return None

        return wait_until(found, timeout, message="a runtime with workers")

    def wait(self, timeout: float = 30.0) -> int:
        """The exit status; the process is killed if it does not end in `timeout`."""
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        """Kill the process if it still runs, reap it, and close the terminal."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master >= 0:
            self._reader.join(5)
            os.close(self.master)
            self.master = -1
