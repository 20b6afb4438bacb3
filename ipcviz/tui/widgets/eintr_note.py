"""The pipes panel's line for a pipe or FIFO read with `interruptible: true`
(worker/eintr.py): how often its reader's read(2) returned EINTR, and how many handler
runs the kernel restarted a read after (SA_RESTART), counted when that read returned."""

from __future__ import annotations

from rich.text import Text

from ipcviz.channels.state import StreamState


def eintr_note(name: str, stream: StreamState) -> Text:
    interrupted = stream.interrupted_reads or 0
    restarted = stream.restarted_reads or 0
    text = f"  {name}: read(2) returned EINTR {interrupted}×"
    if restarted:
        text += (f"; the kernel restarted reads after {restarted} handler "
                 f"run{'s' * (restarted != 1)} (SA_RESTART)")
    else:
        text += "; restarts (SA_RESTART) are counted when the read returns"
    return Text(text, style="yellow" if interrupted else "")
