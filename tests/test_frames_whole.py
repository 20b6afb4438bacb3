"""Frames reach their reader whole while the writer is being interrupted.

A pipe write that meets a pending signal or a stop returns early; Python's buffered files
then lose the rest of the line (host/output.py). These tests fill a real pipe, interrupt
the writer hundreds of times a second, and check that every byte arrives."""

from __future__ import annotations

import os
import signal
import threading
import time

from ipcviz.host.output import write_fully
from ipcviz.tui.source import LiveSource
from tests.waiting import wait_until

#: 120 workers: a frame is about 80 KB, twice a pipe's 64 KiB
BIG_FRAMES = "name: big frames\nduration: 60\nworkers:\n" + "".join(
    f"  w{i}: {{loop: true, steps: [{{sleep: 0.05}}]}}\n" for i in range(120))


def _flood(pid: int, seconds: float, stop: threading.Event,
           sigs: tuple[int, ...] = (signal.SIGUSR1,)) -> int:
    """Send `sigs` in turn to `pid` every 0.5 ms; returns how many were sent."""
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.is_set():
        try:
            os.kill(pid, sigs[sent % len(sigs)])
        except ProcessLookupError:
            break
        sent += 1
        time.sleep(0.0005)  # the flood's pace (what is tested), not a wait
    if sigs[(sent - 1) % len(sigs)] == signal.SIGSTOP:
        os.kill(pid, signal.SIGCONT)
    return sent


def test_write_fully_survives_a_signal_flood() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, every byte position checkable
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: a handler that does nothing, so writes come back partial
        try:
            os.close(r)
            signal.signal(signal.SIGUSR1, lambda *a: None)
            os.write(w, b"R")
            write_fully(w, data)
        finally:
            os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 1) == b"R"
        stop = threading.Event()
        flood = threading.Thread(target=_flood, args=(pid, 10, stop), daemon=True)
        flood.start()
        got = bytearray()
        while chunk := os.read(r, 4096):
            got += chunk
            time.sleep(0.0002)  # a slow reader: the pipe stays full, the writer blocks
        stop.set()
        flood.join()
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    assert len(got) == len(data)
    assert bytes(got) == data


def test_frames_arrive_whole_while_the_runtime_is_signalled(scenario_file,
                                                             nothing_left_behind) -> None:
    """A slow reader (a busy UI) and a runtime stopped and continued every 0.5 ms (as
    `kill -STOP`/`-CONT`, strace -p or a profiler do; the runtime blocks the other
    signals for its signalfd, so they cannot cut its writes): every frame of about 80 KB
    still decodes. Before, about one in five was cut, and the first cut one ended the
    UI's reader: the screen froze."""
    frames = []
    errors: list[str] = []

    def on_snapshot(snap) -> None:
        frames.append(snap.elapsed)
        time.sleep(0.2)  # slower than 10 frames a second: the runtime blocks on a full pipe

    source = LiveSource(str(scenario_file(BIG_FRAMES)))
    source.start(on_snapshot, errors.extend)
    try:
        wait_until(lambda: frames, 20, message=lambda: f"a first frame; errors: {errors}")
        stop = threading.Event()
        sent = _flood(source.proc.pid, 3.0, stop, (signal.SIGSTOP, signal.SIGCONT))
        before = len(frames)
        # the reader goes on: frames keep coming after the flood
        after = wait_until(lambda: len(frames) > before and len(frames), 20,
                           message=lambda: f"a frame after the flood; errors: {errors}")
    finally:
        source.stop()
    assert sent > 1000
    assert source.bad_lines == 0
    assert errors == []
    assert after > before
