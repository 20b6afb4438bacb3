"""The lines the memory panel shows for a POSIX shm object (channels/shm_object.py): its
name in /dev/shm, its size and first bytes as the kernel has them now, the processes that
have it open or mapped now (none, once they have all exited), and the workers that use it
with their states, so that "still there after every one of them exited" is read off the
screen; then, once its size is below the one it was made with, why a
process touching the pages past the end gets SIGBUS; once unlinked, that the name is
gone."""

from __future__ import annotations

from rich.text import Text

from ipcviz.channels.memory_state import ShmState
from ipcviz.format import format_state
from ipcviz.telemetry.snapshot import ChannelView, Snapshot


def users_text(c: ChannelView, snap: Snapshot) -> str:
    """The workers whose steps use the object, each with its state now."""
    names = list(dict.fromkeys(e.worker for e in (*c.writers, *c.readers)))
    states = {w.name: w for w in snap.workers}
    parts = []
    for name in names:
        w = states.get(name)
        parts.append(f"{name} ({format_state(w.state, w.blocked_on, w.exit_text)})"
                     if w is not None else name)
    return ", ".join(parts) or "-"


def shm_object_lines(c: ChannelView, snap: Snapshot) -> list[Text]:
    shm = c.state if isinstance(c.state, ShmState) else ShmState()
    path, size = shm.path or "?", shm.size
    declared = shm.declared_size
    lines = [Text.assemble((f"{c.name} ", "bold"), ("POSIX shm object ", ""), (path, "dim"))]
    if shm.in_dev_shm is False:
        lines.append(Text("  unlinked: the name is gone from /dev/shm (shm_unlink)",
                          style="bold"))
    elif shm.in_dev_shm:
        contents = shm.contents or ""
        lines.append(Text.assemble(
            ("  in /dev/shm: ", ""), (f"{size} B", "bold"), (", first bytes ", ""),
            (f'"{contents}"' if contents else "(zeros)", "cyan")))
        if isinstance(size, int) and isinstance(declared, int) and size < declared:
            lines.append(Text(
                f"  truncated from {declared} B: a mapping made before still spans "
                f"{declared} B, but the pages past {size} B have nothing behind them: "
                "touching one is SIGBUS", style="yellow"))
    held = shm.held_by
    if held is not None:  # read from /proc on this frame
        lines.append(Text.assemble(("  open or mapped by: ", ""),
                                   (", ".join(held) if held else "no process", "bold")))
    lines.append(Text(f"  workers with steps on it: {users_text(c, snap)}", style="dim"))
    return lines
