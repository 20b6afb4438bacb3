"""Where the App's Snapshots come from: a live runtime process, a recording being
replayed, or a fixed list (tests).

All three have the same small interface, so the App (and its tests) never care which.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ipcviz.host.output import write_fully
from ipcviz.host.process import ProcessIdentity
from ipcviz.format import escape_control, escape_tree
from ipcviz.protocol import (
    Command, Frame, ProtocolError, Quit, Refused, encode, read_message_line,
)
from ipcviz.scenario.opening import OpenedScenario, ScenarioError, open_scenario
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.tui.frame_decoder import FrameDecoder

#: How long the UI waits for the runtime to clean up after `quit` before it kills it
#: (a normal quit takes a few tens of milliseconds; a stopped or flooded runtime never ends).
QUIT_WAIT = 3.0

OnSnapshot = Callable[[Snapshot], None]
OnError = Callable[[list[str]], None]


class Source:
    """Interface: `start` with callbacks, `send` commands, `stop` (and clean up)."""

    #: live data: when the UI is busy, skip to the newest Snapshot (keeping every event)
    coalesce = True

    def start(self, on_snapshot: OnSnapshot, on_error: OnError) -> None:
        raise NotImplementedError

    def send(self, command: Command) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class FixedSource(Source):
    """Fixed Snapshots (recorded or made by hand), delivered at start; commands are kept."""

    coalesce = False  # every frame is rendered, so pictures keep their history

    def __init__(self, snapshots: Sequence[Snapshot]):
        self.snapshots = list(snapshots)
        self.commands: list[dict] = []  # as they would go over the wire

    def start(self, on_snapshot: OnSnapshot, on_error: OnError) -> None:
        for snap in self.snapshots:
            on_snapshot(snap)

    def send(self, command: Command) -> None:
        self.commands.append(encode(command))

    def stop(self) -> None:
        pass


def runtime_process(opened: OpenedScenario, speed: float | None = None,
                    allow_exec: bool = False, held: bool = False,
                    **popen: Any) -> subprocess.Popen[bytes]:
    """Start `python -m ipcviz.runtime` on the bytes of `opened` (runtime/control.py): they
    go in a sealed memfd the child inherits, so it runs exactly what was read and checked
    here and never opens the path again."""
    fd = os.memfd_create("ipcviz-scenario", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        write_fully(fd, opened.raw)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
                    | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
        argv = [sys.executable, "-m", "ipcviz.runtime", f"--source-fd={fd}",
                f"--source={opened.meta()}"]
        argv += [] if speed is None else [f"--speed={speed!r}"]
        argv += ["--allow-exec"] if allow_exec else []
        argv += ["--held"] if held else []
        return subprocess.Popen(argv, pass_fds=(fd,), **popen)
    finally:
        os.close(fd)


class LiveSource(Source):
    """Runs the runtime process (fork+exec, safe from a threaded app) on one read of a
    scenario: `scenario` is that read (opening.py), or a name or path read here, once."""

    def __init__(self, scenario: OpenedScenario | str | os.PathLike, speed: float | None = None,
                 allow_exec: bool = False, held: bool = False):
        #: lines saying why the scenario could not be read (then no runtime starts)
        self.open_error: list[str] | None = None
        if not isinstance(scenario, OpenedScenario):  # a name or a path (str or Path)
            scenario = os.fspath(scenario)
            try:
                scenario = open_scenario(scenario)
            except ScenarioError as exc:
                self.open_error = exc.lines
        self.opened: OpenedScenario | None = None if isinstance(scenario, str) else scenario
        #: the file that was read (the watch on it and `e` use it; nothing is run from it)
        self.path = scenario if isinstance(scenario, str) else scenario.path
        self.allow_exec = allow_exec
        #: the start speed (`launch --speed`), over the scenario's `speed:`
        self.speed = speed
        #: a scenario with `start: held` starts held (a person's live view; not tests)
        self.held = held
        self.proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self.leaks: dict | None = None
        #: the grants the run performed (a scenario's schedule, then the user's `n`/`N`)
        self.schedule: list[str] = []
        #: workers also moved freely before or between the grants
        self.ran_freely = False
        self._lock = threading.Lock()
        self._first: bytes | None = None
        self.ident: ProcessIdentity | None = None
        self._stopping = False
        #: what the UI's own sweep removed after the runtime had to be killed
        self.swept: list[str] = []
        #: lines from the runtime that were no JSON, skipped (said on exit; never expected)
        self.bad_lines = 0

    def spawn(self) -> None:
        """Start the runtime process now (its output waits in the pipe until `start`):
        the CLI calls this before importing the UI, so both start up side by side."""
        if self.proc is not None or self.opened is None:
            return
        env = dict(os.environ, IPCVIZ_PARENT_PID=str(os.getpid()))
        self.proc = runtime_process(
            self.opened, self.speed, self.allow_exec, self.held,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=env, close_fds=True,
        )
        self.ident = ProcessIdentity.of(self.proc.pid)

    def first_error(self, timeout: float = 30.0) -> list[str] | None:
        """Wait for the runtime's first message: its error lines if it refused the scenario
        (or died), else None. The message is kept for the reader, so nothing is lost."""
        if self.open_error is not None:
            return self.open_error
        self.spawn()
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        self._first = self.proc.stdout.readline()
        if not self._first:
            code = self.proc.wait()
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            tail = [ln for ln in err.strip().splitlines()][-3:]
            return [f"the runtime stopped before its first frame (status {code})", *tail]
        try:
            message = read_message_line(self._first)
        except ValueError:
            return None  # not a message: the reader thread says so
        if isinstance(message, Refused):
            return [escape_control(line) for line in message.lines]
        return None

    def start(self, on_snapshot: OnSnapshot, on_error: OnError) -> None:
        if self.open_error is not None:
            on_error(self.open_error)
            return
        self.spawn()
        self._thread = threading.Thread(
            target=self._read, args=(on_snapshot, on_error), name="ipcviz-runtime-reader",
            daemon=True,
        )
        self._thread.start()

    def _read(self, on_snapshot: OnSnapshot, on_error: OnError) -> None:
        proc = self.proc  # `stop` may drop self.proc while this thread still reads
        assert proc is not None and proc.stdout is not None
        first, self._first = self._first, None
        lines = proc.stdout if first is None else itertools.chain([first], proc.stdout)
        decoder = FrameDecoder()
        try:
            for line in lines:
                if not line:
                    continue
                try:
                    message = read_message_line(line)
                except ProtocolError:  # a message of a newer runtime: not for this UI
                    continue
                except ValueError:  # not JSON (a cut line): the next frame is whole again
                    self.bad_lines += 1
                    continue
                if isinstance(message, Frame):
                    data = message.snapshot
                    on_snapshot(decoder.decode(escape_tree(data) if may_hold_control(line)
                                               else data))
                elif isinstance(message, Refused):
                    on_error([escape_control(line) for line in message.lines])
                else:
                    self.leaks = message.leaks
                    self.schedule = message.schedule
                    self.ran_freely = message.ran_freely
        except (ValueError, OSError):  # the stream was closed under us by `stop`
            return
        code = proc.wait()
        if code not in (0, None) and self.leaks is None and not self._stopping:
            try:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            except (ValueError, OSError):
                err = ""
            tail = [ln for ln in err.strip().splitlines()][-3:]
            on_error([f"the runtime stopped unexpectedly (status {code})", *tail])

    def send(self, command: Command) -> None:
        if self.proc is None or self.proc.stdin is None:
            return
        with self._lock:
            try:
                self.proc.stdin.write(json.dumps(encode(command)).encode() + b"\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

    def stop(self, timeout: float = QUIT_WAIT) -> None:
        """Ask the runtime to quit and clean up; if it has not ended after `timeout` (stopped,
        or too busy), SIGCONT and SIGKILL it (if pid and start time still match); then
        sweep what its run left, from that run's registry. Every exit path of the UI ends
        here, so nothing of the run outlives the UI."""
        proc = self.proc
        if proc is None:
            return
        self._stopping = True
        self.send(Quit())
        try:
            if proc.stdin:
                proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            if self.ident is not None and self.ident.exists():
                self.ident.signal(signal.SIGCONT)  # a stopped process dies only once continued
                self.ident.signal(signal.SIGKILL)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass
        self.proc = None
        if proc.returncode is not None:  # gone: whatever it did not remove, remove now
            from ipcviz.host.sweep import sweep_dead_runs
            from ipcviz.host.runroot import RunRootError

            try:
                self.swept = sweep_dead_runs(owner_pid=proc.pid).removed
            except RunRootError:  # the root went bad under us: touch nothing
                self.swept = []


#: what can stand for a control or format character in a JSON line that is ASCII: DEL
#: (JSON allows it raw) and the escapes; a raw byte below 0x20 is no JSON at all (the
#: decoder refuses it in a string)
_ESCAPES = (b"\\u", b"\\b", b"\\f", b"\\r", b"\\t")


def may_hold_control(line: str | bytes) -> bool:
    """False when a JSON line certainly decodes to no control character, so the Snapshot
    need not be walked string by string (a 64x64 array is 4,096 numbers a frame): the
    line is ASCII (any other byte may start a C1 control or a format character) and
    holds no DEL and none of the escapes \\u, \\b, \\f, \\r, \\t. A few C scans of
    the bytes (a regular expression took 1.8 ms a frame)."""
    raw = line.encode("utf-8") if isinstance(line, str) else line
    if not raw.isascii() or b"\x7f" in raw:
        return True
    if b"\\" not in raw:  # one-byte scans are fast; a two-byte needle took 0.1 ms each
        return False
    return any(escape in raw for escape in _ESCAPES)


def read_recording(path: str) -> list[Snapshot]:
    """The Snapshots of a recording made by `ipcviz record` (one JSON object per line),
    read and checked as `replay` reads them (telemetry/recording_file.py)."""
    from ipcviz.telemetry.recording_file import read_recording as read_checked

    return read_checked(path)


def snapshots_until(snapshots: Sequence[Snapshot], seconds: float) -> list[Snapshot]:
    """The recorded Snapshots up to `seconds` into the run (for a picture of that moment)."""
    return [s for s in snapshots if s.elapsed <= seconds]
