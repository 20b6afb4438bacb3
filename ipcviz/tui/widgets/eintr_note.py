"""The pipes panel's line for a pipe or FIFO read with `interruptible: true`
(worker/eintr.py): how often its reader's read(2) returned EINTR, and how many handler
runs the kernel restarted a read after (SA_RESTART), counted when that read returned."""

from __future__ import annotations

from rich.text import Text

from ipcviz.telemetry.snapshot import ChannelView


def eintr_note(c: ChannelView) -> Text:
    interrupted = int(c.data.get("interrupted_reads") or 0)
    restarted = int(c.data.get("restarted_reads") or 0)
    text = f"  {c.name}: read(2) returned EINTR {interrupted}×"
    if restarted:
        text += (f"; the kernel restarted reads after {restarted} handler "
                 f"run{'s' * (restarted != 1)} (SA_RESTART)")
    else:
        text += "; restarts (SA_RESTART) are counted when the read returns"
    return Text(text, style="yellow" if interrupted else "")
