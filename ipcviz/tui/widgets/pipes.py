"""Pipes panel: per pipe (and FIFO/socket), bytes written, read, and sitting in the kernel
buffer as a bar against its capacity, with who writes and who reads.
"""

from __future__ import annotations

import mmap
from collections import deque
from typing import Any

from rich.text import Text
from textual.dom import NoScreen
from textual.reactive import reactive

from textual.css.scalar import Unit

from ipcviz.tui.widgets.eintr_note import eintr_note
from ipcviz.tui.widgets.base import BORDER_LINES, Panel, ends_text, shown_lines
from ipcviz.tui.widgets.grid import grid_lines
from ipcviz.tui.widgets.pipe_ends import ends_notes, program_notes

from ipcviz.channels.state import FileState, PipeState, SocketState, StreamState
from ipcviz.format import bar, format_bytes, sparkline
from ipcviz.telemetry.snapshot import ChannelView, End, Snapshot
from ipcviz.tui.widgets.channel_panels import channels_in, panel_of

#: reads up to this size are shown as text (messages); bigger ones are bulk transfer
MESSAGE_BYTES = 256
#: the unit the kernel counts a pipe's buffer in
PAGE = mmap.PAGESIZE


class PipesPanel(Panel):
    """Renders the stream channels of a Snapshot."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._moved: dict[str, deque[int]] = {}
        self._last: dict[str, tuple[float, int]] = {}
        #: the room the shown lines were laid out for (see `check_room`)
        self._room_used: int | None = None

    def forget_run(self) -> None:
        super().forget_run()
        self._moved.clear()
        self._last.clear()

    def record(self, snap: Snapshot) -> None:
        """Bytes moved per Snapshot interval, the last 12 intervals, of every pipe."""
        for c in snap.channels:
            if panel_of(c.kind) != "pipes":
                continue
            total = stream_of(c).read
            history = self._moved.setdefault(c.name, deque(maxlen=12))
            before = self._last.get(c.name)
            if before is not None and snap.elapsed > before[0]:
                history.append(max(0, total - before[1]))
            self._last[c.name] = (snap.elapsed, total)

    def on_resize(self) -> None:
        self.watch_snapshot(self.snapshot)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        self.track(snap)
        channels = channels_in("pipes", snap)
        self.set_shown(bool(channels))
        narrow = self.app.has_class("narrow")
        width = 6 if narrow else 12
        columns = ["channel", "written / read", "in the kernel", "max seen", "writer"]
        if not narrow:
            columns[1:1] = ["writer → reader"]
            columns[-1:-1] = ["throughput"]
        rows: list[list[Text | str]] = []
        notes: list[int] = []  # rows that are one line of words across the panel
        blocked = {w.waiting for w in snap.workers if w.state == "blocked"}
        room = self._room_used = self.room()
        left_out: list[str] = []
        for index, c in enumerate(channels):
            if room is not None and rows and len(rows) >= room - 1:
                left_out = [ch.name for ch in channels[index:]]  # no line left for it
                break
            stream = stream_of(c)
            gauge, note, extra = channel_state_lines(c, stream, snap, blocked, width)
            cells = channel_cells(c, stream, gauge, note,
                                  None if narrow else list(self._moved.get(c.name, ())))
            if room is not None:
                # the pipes after this one need a line to be named in; this one's notes
                # are cut where the panel ends (as the panel's edge always cut them)
                fit = room - (index < len(channels) - 1) - len(rows) - 1
                if fit < 0 and rows:
                    left_out = [ch.name for ch in channels[index:]]
                    break
                extra = extra[:max(0, fit)]
            rows.append(cells)
            for line in extra:
                notes.append(len(rows))
                rows.append([line])
        if left_out:
            notes.append(len(rows))
            rows.append([Text(f"… {len(left_out)} more: {', '.join(left_out)}", style="dim")])
        # the bytes in the kernel against the capacity are the lesson: names are cut first
        keep = [columns.index("written / read"), columns.index("in the kernel")]
        self.show(grid_lines(columns, rows, self.text_width, full_rows=notes, keep=keep))
        if left_out or room is not None and len(rows) >= room - 1:
            self.call_after_refresh(self.check_room)  # the layout may give other room

    def check_room(self) -> None:
        """Lay the pipes out again if the room on screen is not what they were laid out
        for: a taller terminal (no new frame may come: a paused replay, an ended
        recording) or a panel above that changed height in the same frame."""
        if self.snapshot is None or not self.is_attached:
            return
        try:
            room = self.room()
        except NoScreen:  # the app closed before a resize's later look came
            return
        if room != self._room_used:
            self.watch_snapshot(self.snapshot)

    def room(self) -> int | None:
        """Rows of the table the panel can show below its header: its CSS max-height, less
        the border and the header, and no more than the screen has room for below the
        panel's top (a panel pushed past the bottom edge); None: no limit. Pipes beyond it
        are not laid out (at 16 pipes that was a quarter of the UI's work each frame) but
        named in one line, where before they were cut off without a word."""
        rooms = []
        limit = self.styles.max_height
        if limit is not None and limit.unit == Unit.CELLS:
            rooms.append(int(limit.value) - BORDER_LINES - 1)
        on_screen = shown_lines(self, clip=False)
        if on_screen is not None:
            rooms.append(on_screen - 1)
        return max(2, min(rooms)) if rooms else None


def stream_of(c: ChannelView) -> StreamState:
    """A channel of the pipes panel as a stream (every kind of the stream family has a
    StreamState; an empty one for a channel whose state is not known)."""
    return c.state if isinstance(c.state, StreamState) else StreamState()


def ends_line(c: ChannelView, stream: StreamState) -> str:
    """"writer → reader", or for a socket "clients ⇄ server" (the server side being the
    spawned handlers when the server only forks them): under the column's
    "writer → reader", the side that connects and usually writes first comes first."""
    if not isinstance(stream, SocketState):
        return f"{ends_text(c.writers)} → {ends_text(c.readers)}"
    server = str(stream.server)
    serving = [e for e in c.writers if e == End(server) or e.spawner == server]
    clients = [e for e in c.writers if e not in serving]
    return f"{ends_text(clients)} ⇄ {ends_text(serving) if serving else server}"


def page_note(name: str, buffered: int, capacity: int) -> Text:
    """Why a writer is blocked although the buffer is not full: the kernel gives a pipe's
    space out in whole pages, and a partly used page takes no new write of a page."""
    pages = max(1, capacity // PAGE)
    line = Text("  ")
    line.append(f"{name}: ", style="bold")
    line.append(f"blocked at {format_bytes(buffered)} / {format_bytes(capacity)}: space is "
                f"counted in {format_bytes(PAGE)} pages and all {pages} are in use (partly "
                "filled)")
    return line


def all_ended(snap: Snapshot, ends: tuple[End, ...]) -> bool:
    """Every one of these workers has ended (False for spawned children: which of them
    are alive is not one worker's state)."""
    if any(e.spawner is not None for e in ends):
        return False
    workers = [snap.worker(e.worker) for e in ends]
    return bool(workers) and all(w is not None and w.exit is not None for w in workers)


def orphan_note(name: str, buffered: int) -> Text:
    """Bytes still in a pipe whose every reader has ended: a writer keeps it alive."""
    line = Text("  ")
    line.append(f"{name}: ", style="bold")
    line.append(f"every reader has ended: these {format_bytes(buffered)} wait with nobody "
                "to read them (the pipe lives on while a writer holds it)", style="yellow")
    return line


def gone_note(name: str, stream: StreamState) -> Text:
    """A pipe whose both ends are closed no longer exists: what it held went with it."""
    line = Text("  ")
    line.append(f"{name}: ", style="bold")
    pipe = stream if isinstance(stream, PipeState) else None
    unread = (pipe.unread_at_close if pipe and pipe.unread_at_close is not None
              else stream.buffered) or 0
    what = "FIFO's buffer (the path stays)" if pipe and pipe.named else "pipe"
    if unread:
        line.append(f"every end is closed, so the kernel freed the {what}: the "
                    f"{format_bytes(unread)} never read went with it", style="yellow")
    else:
        line.append(f"every end is closed, so the kernel freed the {what} (nothing was "
                    "left unread)")
    return line


def epipe_notes(c: ChannelView, snap: Snapshot) -> list[Text]:
    """A writer of this pipe whose writes failed with EPIPE (no reader left, and SIGPIPE
    ignored or caught, so it lives on): how many, from its own count."""
    lines = []
    for name, spawner in c.writers:
        w = snap.worker(name) if spawner is None else None
        if w is not None and w.epipe_errors:
            line = Text("  ")
            line.append(f"{name}: ", style="bold")
            line.append(f"{w.epipe_errors} write(s) failed with EPIPE", style="bold red")
            how = ("it ignores SIGPIPE" if "SIGPIPE" in w.masks.get("ignored", []) else
                   "it catches SIGPIPE" if "SIGPIPE" in w.masks.get("caught", []) else
                   "SIGPIPE did not end it")
            line.append(f": no reader is left ({how})")
            lines.append(line)
    return lines


def fifo_note(name: str, fifo: PipeState) -> Text:
    """A FIFO is a path: show it, and which processes hold it open, for reading and for
    writing (from their descriptors in /proc)."""
    line = Text("  ")
    line.append(f"{name}: ", style="bold")
    line.append("path ")
    line.append(str(fifo.path), style="cyan")
    opened = fifo.open_by or {}
    for role in ("write", "read"):
        holders = opened.get(role) or []
        line.append(f"  open for {role}: ")
        line.append(", ".join(holders) or "nobody", style="bold" if holders else "dim")
    return line


def read_note(channel: str, stream: StreamState, snap: Snapshot) -> Text:
    """What each reader last read from the stream (its first 16 bytes, from the reader's
    own row), and how often it read its own message back (`self_reads`)."""
    line = Text("  ")
    line.append(f"{channel}: ", style="bold")
    for i, (name, (text, length)) in enumerate(sorted((stream.last_read or {}).items())):
        if i:
            line.append("  ·  ")
        line.append(f"{name} last read ")
        shown = text.replace("\n", "\\n")
        line.append(f'"{shown}{"…" if length > len(text.encode(errors="replace")) else ""}"',
                    style="cyan")
        line.append(f" ({format_bytes(length)})")
        worker = snap.worker(name)
        writes = any(End(name) in other.writers for other in snap.channels
                     if isinstance(other.state, PipeState))
        if worker is not None and writes:  # it could meet its own bytes: did it?
            own = worker.self_reads
            line.append(f", own message read back {own}×", style="bold red" if own else "green")
    return line


def socket_gauge(socket: SocketState) -> Text:
    """A socket's number, short enough for its cell: a stream's connections; datagrams
    received of those sent, the drops first (a narrow cell must not cut them off)."""
    if not socket.datagrams:
        return Text(f"{socket.connections or 0} connection(s)", style="cyan")
    gauge = Text()
    if socket.dropped:
        gauge.append(f"{socket.dropped} DROPPED", style="bold red")
        gauge.append(" · ")
    gauge.append(f"{socket.reads or 0} of {socket.writes or 0} received", style="cyan")
    return gauge


def socket_notes(c: ChannelView, snap: Snapshot, stream: SocketState) -> list[Text]:
    """A socket's full address, and each client's connection: bytes it sent and got back."""
    line = Text("  ")
    line.append(f"{c.name}: ", style="bold")
    line.append("address ")
    line.append(str(stream.address), style="cyan")
    most = stream.max_accept_queue
    if most:  # a TCP listener whose accept queue has held connections (on the same line)
        waiting = stream.accept_queue or 0
        line.append("  ·  ")
        line.append(f"accept queue (ss -lt Recv-Q): {waiting} handshaken, waiting for "
                    f"accept() · most {most}", style="bold yellow" if waiting else "dim")
    lines = [line]
    server = str(stream.server)
    per = Text("  ")
    for w in snap.workers:
        if w.name == server or w.parent == server or c.name not in w.bytes_written:
            continue
        if per.cell_len > 2:
            per.append("  ·  ")
        per.append(w.name, style="bold")
        per.append(f" sent {format_bytes(w.bytes_written.get(c.name, 0))}, "
                   f"got {format_bytes(w.bytes_read.get(c.name, 0))}")
    if per.cell_len > 2:
        lines.append(per)
    writes, reads = stream.writes or 0, stream.reads or 0
    if stream.datagrams:
        if stream.family == "udp" and stream.dropped:
            lines.append(Text(f"  the receive buffer was full: the kernel dropped "
                              f"{stream.dropped} datagrams (UDP does not slow the "
                              "sender down)", style="bold red"))
        elif writes:
            lines.append(Text("  one read, one datagram: message boundaries kept",
                              style="green"))
    elif writes and reads and reads != writes:
        lines.append(Text(f"  {writes} writes arrived in {reads} read{'s' * (reads != 1)}: "
                          "a stream keeps bytes, not message boundaries", style="bold yellow"))
    return lines


def file_gauge(file: FileState) -> Text:
    """A file channel's number, short enough for its cell: the torn reads, and the lock."""
    torn = file.torn_reads or 0
    text = Text(f"{torn} TORN" if torn else "0 torn", style="bold red" if torn else "green")
    text.append(" · flock" if file.lock else " · no lock",
                style="green" if file.lock else "yellow")
    return text


def file_note(name: str, file: FileState) -> Text:
    """A file channel's records, and what its lock (or none) means, across the panel."""
    line = Text("  ")
    line.append(f"{name}: ", style="bold")
    written = file.records_written or 0
    line.append(f"{written} record{'' if written == 1 else 's'} appended, "
                f"{file.records_read or 0} read whole; ", style="cyan")
    if file.lock:
        line.append("flock around each write and read: a reader waits, never tears")
    else:
        line.append("no lock: a reader can find a record half written (a torn read)")
    return line


def channel_state_lines(c: ChannelView, stream: StreamState, snap: Snapshot,
                        blocked: set[Any], width: int) -> tuple[Text, Text, list[Text]]:
    """One stream's gauge (its kernel buffer against the capacity, its connections, its
    records, or that it is gone), the writer's note ("blocked") and the lines of words
    under it, most telling first (the panel cuts them where it ends)."""
    note = Text()
    extra: list[Text] = []
    if isinstance(stream, SocketState):
        gauge = socket_gauge(stream)
        extra = socket_notes(c, snap, stream)
    elif isinstance(stream, FileState):
        gauge = file_gauge(stream)
        extra.append(file_note(c.name, stream))
    elif (isinstance(stream, PipeState) and stream.closed) or (
            all_ended(snap, c.readers) and all_ended(snap, c.writers)):
        gauge = Text("pipe gone", style="dim")
        extra = [gone_note(c.name, stream)]
    else:
        buffered = stream.buffered or 0
        capacity = stream.capacity or 1
        fraction = buffered / capacity
        style = "red" if fraction >= 0.85 else "yellow" if fraction > 0.5 else "green"
        gauge = Text(bar(fraction, width), style=style)
        gauge.append(f" {format_bytes(buffered)} / {format_bytes(capacity)}")
        if buffered and all_ended(snap, c.readers):
            extra.append(orphan_note(c.name, buffered))
        if ("write", c.name) in blocked:
            note = Text("blocked", style="bold red")
            # (at 0 B no page is in use: the reading met a reader draining it)
            if 0 < buffered < capacity:
                extra.append(page_note(c.name, buffered, capacity))
    if isinstance(stream, PipeState) and stream.named:
        extra.append(fifo_note(c.name, stream))
    elif isinstance(stream, PipeState):  # a write end held by one that never writes
        extra[:0] = program_notes(c.name, stream)  # (before the rest: rooms are cut)
        extra += ends_notes(c, stream, snap)
    if isinstance(stream, PipeState):
        extra += epipe_notes(c, snap)
    if stream.interrupted_reads is not None:  # read(2) as C makes it (worker/eintr.py)
        extra.append(eintr_note(c.name, stream))
    # messages, not bulk: what a reader got in its last read (a socket: per client)
    if not isinstance(stream, SocketState) and any(
            length <= MESSAGE_BYTES for _, length in (stream.last_read or {}).values()):
        extra.append(read_note(c.name, stream, snap))
    return gauge, note, extra


def channel_cells(c: ChannelView, stream: StreamState, gauge: Text, note: Text,
                  history: list[int] | None) -> list[Text | str]:
    """One stream's row: name, bytes moved, gauge, the fullest seen, the writer's note;
    with `history` (a wide panel) also who writes to whom and the throughput's line."""
    moved = Text(format_bytes(stream.written) + " / " + format_bytes(stream.read))
    if isinstance(stream, PipeState) and stream.uncounted:  # no step counted bytes
        moved = Text("? (programs)", style="dim")
    peak = stream.max_buffered  # the fullest the sampler has seen it
    cells: list[Text | str] = [Text(f"{c.name} ({c.kind})", style="bold"), moved, gauge,
                               format_bytes(int(peak)) if peak is not None else "-", note]
    if history is not None:
        cells[1:1] = [ends_line(c, stream)]
        cells[-1:-1] = [Text(sparkline(history), style="cyan")]
    return cells
