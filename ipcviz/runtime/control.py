"""The runtime as its own process, driven by the UI over stdin/stdout (JSON lines).

UI -> runtime: the commands of ipcviz/protocol.py (actions, triggers, time: pause,
               resume, step, speed; quit), one per line.
runtime -> UI: the messages of the same module (Frame, Refused, Bye), one per line.
The runtime dies with the UI: stdin EOF ends it, and PR_SET_PDEATHSIG sends it SIGTERM.
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
from ipcviz.scenario.load import ScenarioError, load_scenario


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parent = int(os.environ.get("IPCVIZ_PARENT_PID", "0"))
    if not die_with_parent(signal.SIGTERM) or (parent and os.getppid() != parent):
        return 1
    out = sys.stdout.fileno()

    def send(message: Message) -> None:
        line = message_line(message)
        write_fully(out, line)  # not sys.stdout: it cuts lines under signals

    try:
        scenario = load_scenario(args[0])
    except ScenarioError as exc:
        send(Refused(exc.lines))
        return 2
    # from the UI: SCENARIO [--speed F] [--allow-exec]
    speed = float(args[args.index("--speed") + 1]) if "--speed" in args[1:] else None
    runtime = Runtime(scenario, speed=speed, allow_exec="--allow-exec" in args[1:])
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    buffer = b""

    def read_commands() -> bool:
        """Run every whole command line waiting on stdin; False once the UI has gone."""
        nonlocal buffer
        try:
            chunk = os.read(stdin, 65536)
        except BlockingIOError:
            chunk = b""
        open_ = chunk != b""
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            try:
                command = decode(json.loads(line))
            except ValueError as exc:  # ProtocolError, or not JSON: said, then ignored
                sys.stderr.write(f"ipcviz runtime: bad command ignored: {exc}\n")
                continue
            if isinstance(command, Quit):
                open_ = False
            else:
                runtime.execute(command)
        return open_

    try:
        try:
            runtime.start()
        except StartError as exc:
            send(Refused([f"{args[0]}: {exc}"]))
            return 2
        session = Session(runtime, lambda snap: send(Frame(snap.to_dict())),
                          early_frames=True, input_fd=stdin, on_input=read_commands)
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
