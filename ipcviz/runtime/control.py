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
from ipcviz.runtime.supervisor import Runtime, StartError
from ipcviz.scenario import schema
from ipcviz.scenario.load import ScenarioError, load_scenario
from ipcviz.signals import NSIG
from ipcviz.telemetry import table as T
from ipcviz.runtime.sampler import Sampler

FRAME_INTERVAL = 0.1
#: between frames, how often the table is glanced at for something worth showing at once
WATCH_INTERVAL = 0.005
#: at most one early frame between two ticks of the clock (so a storm of events costs at
#: most 20 frames/s), and never closer than this to the frame before it
MIN_FRAME_GAP = 0.02


class EventWatch:
    """Notices, cheaply, that something happened that a person is waiting to see: a signal
    counted, an event in a worker's ring, a runtime event (exit, timeline action). A frame
    then goes out at once instead of at the next tick of the 10 Hz clock."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.mark = self._signature()

    def _signature(self) -> tuple[int, int]:
        table = self.runtime.table
        if table is None:
            return (0, 0)
        arr = table.array
        return (int(arr[:, T.EVENT_SEQ].sum()),
                int(arr[:, T.SIG_RECEIVED:T.SIG_RECEIVED + NSIG].sum()))

    def happened(self) -> bool:
        if self.runtime.pending_events:
            return True
        return self._signature() != self.mark

    def framed(self) -> None:
        """A frame was just sampled: what it shows is no longer news."""
        self.mark = self._signature()


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
    sampler = Sampler(runtime)
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    buffer = b""
    triggers = {t.key: t for t in scenario.model.triggers}
    try:
        try:
            runtime.start()
        except StartError as exc:
            send({"type": "error", "lines": [f"{args[0]}: {exc}"]})
            return 2
        next_frame = last_frame = hold_until = 0.0
        early_sent = False
        closed = False
        watch = EventWatch(runtime)
        while not runtime.stop_requested and not closed:
            wait = min(next_frame - runtime.elapsed, WATCH_INTERVAL)
            ready = runtime.poll(max(0.0, wait), extra_fds=(stdin,))
            if ready:
                try:
                    chunk = os.read(stdin, 65536)
                except BlockingIOError:
                    chunk = b""
                if chunk == b"":
                    closed = True
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    command = json.loads(line)
                    if command.get("cmd") == "quit":
                        closed = True
                    elif command.get("cmd") == "trigger" and command.get("key") in triggers:
                        trig = triggers[command["key"]]
                        runtime.run_action(trig.action, getattr(trig, trig.action), "trigger")
                    elif command.get("cmd") == "action":
                        action = command["action"]
                        runtime.run_action(action, decode_action(action, command.get("arg")))
                    # what a person waits for is the workers' reaction, a few ms later:
                    # an early frame now would only show the command, then hold the next
                    hold_until = runtime.elapsed + 0.004
            now = runtime.elapsed
            if now >= next_frame:  # the clock's tick
                last_frame, next_frame, early_sent = now, now + FRAME_INTERVAL, False
                tick = True
            elif (not early_sent and now - last_frame >= MIN_FRAME_GAP and now >= hold_until
                  and watch.happened()):  # news: show it now
                last_frame, early_sent, tick = now, True, False
            else:
                continue
            watch.framed()
            send({"type": "snapshot", "snapshot": sampler.sample(kernel=tick).to_dict()})
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
