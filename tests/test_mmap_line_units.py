"""A mapped file's first line counts the bytes moved in the unit the pipes and sockets
panel uses: side by side (syscall_cost), 640000 bytes through shared memory read as
"640000" and the same 640000 through a pipe as "625.0 KiB"."""

from __future__ import annotations

from ipcviz.channels.memory_state import MmapState
from ipcviz.telemetry.snapshot import ChannelView
from ipcviz.tui.widgets.shm import mmap_lines


def test_bytes_written_and_read_in_kib_as_the_pipes_count_them() -> None:
    state = MmapState(path="/tmp/f", size=4096, bytes_written=640000, bytes_read=640000)
    first = mmap_lines(ChannelView("shm", "mmap", state), None)[0].plain
    assert first == "shm mmap /tmp/f (4096 bytes; written 625.0 KiB, read 625.0 KiB)"


def test_a_few_bytes_stay_bytes() -> None:
    state = MmapState(path="/tmp/f", size=4096, bytes_written=13, bytes_read=0)
    first = mmap_lines(ChannelView("m", "mmap", state), None)[0].plain
    assert first.endswith("(4096 bytes; written 13 B, read 0 B)")
