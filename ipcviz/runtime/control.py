"""The runtime as its own process, driven by the UI over stdin/stdout (JSON lines).

UI -> runtime: the commands of ipcviz/protocol.py (actions, triggers, time: pause,
               resume, step, speed; quit), one per line.
runtime -> UI: the messages of the same module (Frame, Refused, Bye), one per line.
The runtime dies with the UI: stdin EOF ends it, and PR_SET_PDEATHSIG sends it SIGTERM.

The scenario comes as the bytes the UI read and checked (a sealed memfd the runtime
inherits, --source-fd=N, with --source=JSON saying what they were read as), never as a
path to open again: the file may be another by now.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from ipcviz.host.output import write_fully
from ipcviz.host.process import die_with_parent
from ipcviz.protocol import Bye, Frame, Message, Quit, Refused, decode, message_line
from ipcviz.runtime.session import Session
from ipcviz.runtime.supervisor import Runtime, StartError
from ipcviz.scenario.load import load_opened
from ipcviz.scenario.opening import OpenedScenario, ScenarioError, read_limited


def receive(args: list[str]) -> tuple[OpenedScenario, float | None, bool]:
    """The scenario the UI passed (its bytes from the inherited fd, then closed), the
    start speed and --allow-exec, from `--source-fd=N --source=JSON [--speed=F]
    [--allow-exec] [--held]` (--held: honour the scenario's `start: held`)."""
    options = dict(arg.split("=", 1) for arg in args if arg.startswith("--") and "=" in arg)
    try:
        fd = int(options["--source-fd"])
        meta = options["--source"]
        speed = float(options["--speed"]) if "--speed" in options else None
    except (KeyError, ValueError):
        raise ScenarioError(["ipcviz runtime: started without a scenario (the UI passes "
                             "--source-fd=N --source=JSON)"]) from None
    try:
        raw, _ = read_limited(fd, "scenario")
        return OpenedScenario.from_meta(meta, raw), speed, "--allow-exec" in args
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError([f"ipcviz runtime: cannot read the scenario passed: {exc}"]) \
            from None
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


class Commands:
    """The UI's command lines on the runtime's stdin (non-blocking), run as they come."""

    def __init__(self, runtime: Runtime, fd: int) -> None:
        self.runtime = runtime
        self.fd = fd
        self.buffer = b""
        os.set_blocking(fd, False)

    def read(self) -> bool:
        """Run every whole command line waiting on stdin; False once the UI has gone."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            chunk = b""
        open_ = chunk != b""
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                command = decode(json.loads(line))
            except ValueError as exc:  # ProtocolError, or not JSON: said, then ignored
                sys.stderr.write(f"ipcviz runtime: bad command ignored: {exc}\n")
                continue
            if isinstance(command, Quit):
                open_ = False
            else:
                self.runtime.execute(command)
        return open_


def send(message: Message) -> None:
    """One message to the UI, as one whole line on stdout."""
    # not through sys.stdout: its buffered writes cut lines under signals
    write_fully(sys.stdout.fileno(), message_line(message))


def main(argv: list[str] | None = None) -> int:
    """The runtime process: load the scenario passed, start it, stream frames until the
    UI quits or goes, end everything, and say goodbye with what was left behind."""
    args = sys.argv[1:] if argv is None else argv
    parent = int(os.environ.get("IPCVIZ_PARENT_PID", "0"))
    if not die_with_parent(signal.SIGTERM) or (parent and os.getppid() != parent):
        return 1
    try:
        opened, speed, allow_exec = receive(args)
        scenario = load_opened(opened)
    except ScenarioError as exc:
        send(Refused(exc.lines))
        return 2
    held = "--held" in args and scenario.model.start == "held"
    runtime = Runtime(scenario, speed=speed, allow_exec=allow_exec, held=held)
    commands = Commands(runtime, sys.stdin.fileno())
    try:
        try:
            runtime.start()
        except StartError as exc:
            send(Refused([f"{opened.name}: {exc}"]))
            return 2
        session = Session(runtime, lambda snap: send(Frame(snap.to_dict())),
                          early_frames=True, input_fd=commands.fd, on_input=commands.read)
        session.run()
        session.sampler.close()
    except BrokenPipeError:
        pass
    finally:
        runtime.shutdown()
    leaks = runtime.leaks()
    try:
        send(Bye(leaks, list(runtime.scheduler.performed), runtime.scheduler.ran_freely))
    except (BrokenPipeError, ValueError):
        pass
    return 0
