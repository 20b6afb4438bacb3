"""`ipcviz launch` in a real terminal (tmux, 120x40) for the benches that measure what a
person sees: start it, and quit it the way a person does (`q`, then the session goes)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def launch(session: str, scenario: Path, env: dict[str, str] | None = None) -> None:
    """`ipcviz launch SCENARIO` from the project root in a new detached tmux session."""
    subprocess.run(["tmux", "new", "-d", "-s", session, "-x", "120", "-y", "40",
                    f"cd {ROOT} && {sys.executable} -m ipcviz launch {scenario}"],
                   env=env, check=True)


def quit_app(session: str, wait: float) -> None:
    """`q` (the run is stopped and swept), `wait` seconds for it, then the session goes."""
    subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=False)
    time.sleep(wait)
    subprocess.run(["tmux", "kill-session", "-t", session], check=False,
                   stderr=subprocess.DEVNULL)
