"""The runtime as its own process, driven by the UI over stdin/stdout (JSON lines).

UI -> runtime: {"cmd": "action", "action": ..., "arg": ...} | {"cmd": "quit"}
runtime -> UI: {"type": "snapshot", "snapshot": {...}} | {"type": "error", "lines": [...]}
               | {"type": "bye", "leaks": {...}}
The runtime dies with the UI: stdin EOF ends it, and PR_SET_PDEATHSIG sends it SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from ipcviz.host.process import die_with_parent
from ipcviz.runtime.session import Session
from ipcviz.runtime.supervisor import Runtime, StartError
from ipcviz.scenario import schema
from ipcviz.scenario.load import ScenarioError, load_scenario


def decode_action(action: str, arg: object) -> object:
    """Turn a JSON action argument back into what `Runtime.run_action` takes."""
    if action == "signal":
        return schema.SignalArgs.model_validate(arg)
    if action == "lock":
        return schema.LockArgs.model_validate(arg)
    return arg


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parent = int(os.environ.get("IPCVIZ_PARENT_PID", "0"))
    if not die_with_parent(signal.SIGTERM) or (parent and os.getppid() != parent):
        return 1
    out = sys.stdout

    def send(message: dict) -> None:
        out.write(json.dumps(message, separators=(",", ":")) + "\n")
        out.flush()

    try:
        scenario = load_scenario(args[0])
    except ScenarioError as exc:
        send({"type": "error", "lines": exc.lines})
        return 2
    runtime = Runtime(scenario)
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    buffer = b""
    triggers = {t.key: t for t in scenario.model.triggers}

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
            command = json.loads(line)
            if command.get("cmd") == "quit":
                open_ = False
            elif command.get("cmd") == "trigger" and command.get("key") in triggers:
                trig = triggers[command["key"]]
                runtime.run_action(trig.action, getattr(trig, trig.action), "trigger")
            elif command.get("cmd") == "action":
                action = command["action"]
                runtime.run_action(action, decode_action(action, command.get("arg")))
        return open_

    try:
        try:
            runtime.start()
        except StartError as exc:
            send({"type": "error", "lines": [f"{args[0]}: {exc}"]})
            return 2
        session = Session(runtime, lambda snap: send({"type": "snapshot",
                                                      "snapshot": snap.to_dict()}),
                          early_frames=True, input_fd=stdin, on_input=read_commands)
        session.run()
    except BrokenPipeError:
        pass
    finally:
        runtime.shutdown()
    leaks = runtime.leaks()
    try:
        send({"type": "bye", "leaks": leaks})
    except (BrokenPipeError, ValueError):
        pass
    return 0
