"""The programs panel's line of a program's descriptors 0, 1 and 2, as the kernel showed
them (observe/std_fds.py): what a shell's `dup2` put there before `exec`, and what the
program then reads and writes without knowing it is a pipe."""

from __future__ import annotations

from rich.text import Text

from ipcviz.format import escape_control

#: how each standard descriptor is named on the line
_NAMES = {"0": "0 stdin", "1": "1 stdout", "2": "2 stderr"}


def fd_line(facts: dict, program: str) -> Text | None:
    """"  fds of ls after exec: 0 stdin ← /dev/null · 1 stdout → pipe:[N] write end of
    p · 2 stderr → ...", saying whether the reading is from before the exec (the fork
    still runs its parent's program, not yet `program`) and whether the process has
    ended since (then it is the last one seen); None when no reading was made."""
    fds = facts.get("fds")
    if not fds:
        return None
    command = str(fds.get("command", "?"))
    line = Text("  fds", style="bold")
    if program and command != program[:15]:  # /proc's comm is cut at 15 characters
        when = f" of the fork, not yet exec'd (still {command})"
    else:
        when = f" of {command} after exec"
    if not fds.get("alive", True):
        when += ", last seen before it ended"
    line.append(escape_control(when), style="dim")
    line.append(": ")
    if "hidden" in fds:
        line.append(str(fds["hidden"]), style="yellow")
        return line
    for i, fd in enumerate(("0", "1", "2")):
        if i:
            line.append(" · ")
        line.append(_NAMES[fd], style="bold")
        line.append(" ← " if fd == "0" else " → ")
        target = escape_control(str(fds.get(fd, "?")))
        line.append(target, style="cyan" if target.startswith("pipe:[") else "")
    return line
