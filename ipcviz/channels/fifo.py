"""Named pipes (FIFOs): a path in the run's private directory (mode 0600). Each worker
opens the path itself, as an unrelated process would; the runtime keeps its own ends
only while a live worker needs that side, so EOF and SIGPIPE stay real.
"""

from __future__ import annotations

import errno
import os

from ipcviz.channels.pipe import PipeChannel, StreamEndpoint


class FifoChannel(PipeChannel):
    kind = "fifo"

    def create(self) -> None:
        self.path = str(self.registry.path(self.name))
        self.registry.add("fifo", self.path)
        os.mkfifo(self.path, 0o600)
        read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        write_fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self._setup(read_fd, write_fd)

    def child_fds(self, roles: set[str]) -> set[int]:
        return set()  # workers open the path themselves

    def attach(self, roles: set[str]) -> StreamEndpoint:
        read_fd = write_fd = None
        if "read" in roles:
            read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        if "write" in roles:
            try:
                write_fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: nobody has it open for reading any more
                if exc.errno != errno.ENXIO:
                    raise
        return StreamEndpoint(read_fd, write_fd)

    def observe(self) -> dict:
        data = super().observe()
        data["path"] = self.path
        return data
