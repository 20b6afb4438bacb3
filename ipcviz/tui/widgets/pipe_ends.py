"""The pipes panel's line on who holds a pipe's write ends, from the kernel (every
process's descriptors: runtime/pipe_holders.py), shown when one is held by a process
that never writes to the pipe, the reason a reader may never see end-of-file.
"""

from __future__ import annotations

from rich.text import Text

from ipcviz.channels.state import PipeState
from ipcviz.telemetry.snapshot import ChannelView, Snapshot

#: the holder name the runtime's own descriptors carry (runtime/pipe_holders.py RUNTIME)
RUNTIME = "ipcviz runtime"


def holder_of(end_text: str) -> str:
    """"reader fd 4" -> "reader"."""
    return end_text.rsplit(" fd ", 1)[0]


def ends_notes(c: ChannelView, pipe: PipeState, snap: Snapshot) -> list[Text]:
    """One line when the kernel shows a write end of pipe `c` held by a process that is
    not one of its writers (a forgotten close after fork), or hides some process's
    descriptors; none otherwise (the usual pipe, whose writers and the runtime hold it)."""
    hidden = pipe.ends_hidden or []
    holders = [str(e) for e in pipe.write_ends or []]
    writers = {e.worker for e in c.writers} | {e.spawner for e in c.writers if e.spawner}
    strangers = [h for h in holders if holder_of(h) not in writers | {RUNTIME}]
    line = Text("  ")
    line.append(f"{c.name}: ", style="bold")
    if hidden:
        line.append(f"write ends: the kernel hides the descriptors of {', '.join(hidden)} "
                    "(another user's processes), so they are not counted", style="yellow")
        return [line]
    if not strangers:
        return []
    count = pipe.write_ends_open if pipe.write_ends_open is not None else len(holders)
    line.append(f"{count} write end{'' if count == 1 else 's'} open ", style="bold")
    line.append(f"({', '.join(holders)})")
    readers = {e.worker for e in c.readers}
    stuck = [w.name for w in snap.workers if w.name in readers and w.state == "blocked"
             and w.waiting == ("read", c.name)]
    held_by_readers = all(holder_of(h) in readers for h in holders)
    if stuck and held_by_readers and not pipe.buffered:
        who = holder_of(strangers[0])
        itself = "itself " if who in stuck else ""
        line.append(f": the reader {itself}still holds a write end: EOF cannot come",
                    style="bold red")
        return [line]
    line.append(f": {', '.join(sorted({holder_of(h) for h in strangers}))} never writes "
                "here; EOF waits for it to close its end", style="yellow")
    return [line]


def program_notes(name: str, pipe: PipeState) -> list[Text]:
    """One line for a pipe only programs (`exec:`) use (`uncounted`): no step counted its
    bytes, so say what strace saw each traced program move through it (`traced_bytes`),
    or that nothing counts them."""
    if not pipe.uncounted:
        return []
    line = Text("  ")
    line.append(f"{name}: ", style="bold")
    traced = pipe.traced_bytes or {}
    if not traced:
        line.append("used by programs only: no step counts its bytes (trace: true "
                    "would)", style="dim")
        return [line]
    parts = []
    for program, (written, read) in sorted(traced.items()):
        if written:
            parts.append(f"{program} wrote {written:,} B")
        if read:
            parts.append(f"{program} read {read:,} B")
    line.append("used by programs; strace saw ")
    line.append(", ".join(parts) or "no bytes through it yet", style="cyan")
    return [line]
