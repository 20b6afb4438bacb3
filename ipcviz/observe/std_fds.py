"""A process's standard descriptors 0, 1 and 2 as the kernel shows them: what each one
points to (`pipe:[INODE]` and which end, `/dev/null`, a terminal, a file), read from
/proc/PID/fd and /proc/PID/fdinfo, with the process's command name read in the same
look (a fork waiting to exec is still its parent's program; after exec the table is the
same, the name is the new program's).

This is how a shell builds `ls | grep`: `pipe()` gives two descriptors, `fork` copies
the descriptor table (both children point at the same pipe), `dup2` puts an end on 0 or
1, `exec` keeps the table. A process of another user hides its descriptors: that is
said (`hidden`), never shown as an empty table.
"""

from __future__ import annotations

import os

__all__ = ["STANDARD", "std_fds"]

#: the descriptors a shell wires: standard input, output and error
STANDARD = (0, 1, 2)
_NAMES = {0: "stdin", 1: "stdout", 2: "stderr"}


def _end(pid: int, fd: int) -> str:
    """"read end" or "write end" of a pipe descriptor, from its fdinfo flags."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as info:
            for line in info:
                if line.startswith("flags:"):
                    return "write end" if int(line.split()[1], 8) & os.O_ACCMODE else "read end"
    except (OSError, ValueError, IndexError):
        pass
    return "end"


def describe(pid: int, fd: int, target: str, channels: dict[int, str],
             own: set[int]) -> str:
    """What descriptor `fd` of `pid` points to, in words: a pipe with its inode and end
    and, when it is one, the scenario's channel (`channels`: inode -> name) or ipcviz's
    own output pipe (`own`: their inodes); else the path (`/dev/null`, a terminal)."""
    if target.startswith("pipe:["):
        inode = int(target[6:-1])
        text = f"{target} {_end(pid, fd)}"
        if inode in channels:
            return f"{text} of {channels[inode]}"
        if inode in own:
            return f"{text} to ipcviz (events)"
        return text
    return target


def std_fds(pid: int, channels: dict[int, str], own: set[int]) -> dict[str, str] | None:
    """{"command": its name now, "0": ..., "1": ..., "2": ...} for process `pid`, or
    {"hidden": ...} when the kernel will not show another user's descriptors; None when
    the process has gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            command = f.read().strip()
    except OSError:
        return None
    out = {"command": command}
    for fd in STANDARD:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except PermissionError:
            return {"command": command,
                    "hidden": "the kernel hides another user's descriptors"}
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}"):
                return None
            out[str(fd)] = "closed"
            continue
        except OSError:
            return None
        out[str(fd)] = describe(pid, fd, target, channels, own)
    if all(out[str(fd)] == "closed" for fd in STANDARD):
        return None  # exiting: the kernel has released its files (a zombie has none)
    return out


def fd_line_label(fd: str) -> str:
    """"0 (stdin)" for the panel."""
    return f"{fd} ({_NAMES.get(int(fd), '?')})"
