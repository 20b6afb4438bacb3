"""Programs panel: for each worker that runs a real program (`exec:`), its process tree
as the kernel shows it (state, what each process waits in, zombies), the pipes and FIFOs
its processes hold with who holds which end and the bytes in them, its message queues,
sockets and shared memory with live contents.
"""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text
from textual.reactive import reactive

from ipcviz.format import escape_control, format_bytes
from ipcviz.telemetry.snapshot import Snapshot, WorkerView
from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.fd_lines import fd_line
from ipcviz.tui.widgets.signals import short_mask

#: most processes and objects listed per program (the rest are counted)
MAX_LISTED = 8
#: how a shared-memory segment's first bytes are shown (`d` steps through them)
DTYPES = ("bytes", "uint8", "int32", "int64", "float64")


def contents_text(raw: bytes, dtype: str) -> str:
    """The first bytes of a segment as hex bytes, or as numbers of a numpy dtype (as many
    whole elements as the bytes hold: a 40-byte int64 array is 5 numbers)."""
    if dtype == "bytes":
        return " ".join(f"{b:02x}" for b in raw[:32])
    import numpy as np

    size = np.dtype(dtype).itemsize
    values = np.frombuffer(raw[:len(raw) - len(raw) % size], dtype=dtype)[:16]
    shown = " ".join(f"{v:g}" if dtype == "float64" else str(int(v)) for v in values)
    return f"{dtype}: {shown}" if len(values) else f"{dtype}: (fewer than {size} bytes)"


def _kib(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n:,} B" if n < 4096 else f"{n / 1024:.1f} KiB"


def _fds(obj: dict | None, pid: int, ends: tuple[str, ...]) -> str:
    """" fd 3" (" fd 3, 5") of a process's ends of a graph object, or nothing."""
    fds = sorted(e["fd"] for e in (obj or {}).get("ends", ())
                 if e["pid"] == pid and e["end"] in ends and e["fd"] is not None)
    return f" fd {', '.join(map(str, fds))}" if fds else ""


def trace_line(trace: dict | None, attached: bool = False) -> Text:
    """What strace counted (`trace: true`), or that only strace can count it."""
    if trace is None and attached:
        return Text("  signals delivered, bytes moved: not counted (a running process is "
                    "observed, not traced)", style="dim")
    if trace is None:
        return Text("  signals delivered, bytes moved: counted only with --trace (strace)",
                    style="dim")
    if not trace.get("attached"):
        return Text("  strace could not attach: nothing counted", style="yellow")
    got = trace.get("signals_received", {})
    text = Text("  strace: ", style="bold")
    if got:
        text.append("delivered " + ", ".join(f"{name} ×{n}" for name, n in got.items()),
                    style="bold green")
    else:
        text.append("no signal delivered yet", style="dim")
    return text


def program_lines(w: WorkerView, dtype: str = "bytes") -> list[Text]:
    """The lines of one program (plain data of `w.program`, see runtime/programs.py):
    what it runs, what is wrong (diagnoses first), its processes, its descriptors 0-2,
    the kernel objects its tree holds, and what the trace saw."""
    facts = w.program or {}
    seen = facts.get("observed")
    head = Text(w.name, style="bold")
    head.append(" runs ")
    head.append(escape_control(" ".join(facts.get("argv", []))), style="cyan")
    program = os.path.basename(str((facts.get("argv") or [""])[0]))
    fds = fd_line(facts, program)  # 0, 1, 2 as the kernel showed them (dup2, exec)
    if seen is None:
        state = w.exit_text or w.state
        return [head + Text(f"  ({state})", style="dim")] + ([fds] if fds else [])
    procs = seen["processes"]
    holders = _Holders(
        {pid: (w.name if pid == w.pid else f"{name} {pid}") for pid, _ppid, name, *_ in procs},
        {o["id"]: o for o in (facts.get("graph") or {}).get("objects", [])})
    lines = [head]
    for found in seen.get("diagnoses", []):  # first: what is wrong, with its evidence
        lines.append(Text("  diagnosis: ", style="bold red")
                     + Text(escape_control(found["text"]), style="bold"))
    lines += [_process_line(w, holders.names, proc) for proc in procs[:MAX_LISTED]]
    if len(procs) > MAX_LISTED:
        lines.append(Text(f"    … {len(procs) - MAX_LISTED} more processes", style="dim"))
    if fds is not None:
        lines.append(fds)
    trace = facts.get("trace")
    lines += _object_lines(seen, holders, (trace or {}).get("descriptors", {}), dtype)
    lines.append(trace_line(trace, bool(facts.get("attached"))))  # last: the objects matter
    return lines


def _process_line(w: WorkerView, names: dict[int, str], proc: list[Any]) -> Text:
    """One process of the program's tree: its state, what it waits in, zombies it has
    not waited for, pending and blocked signals, CPU and memory."""
    pid, _ppid, _name, state, waits, zombies, *more = proc
    masks = more[0] if more else {}  # (recordings before masks were kept: none)
    cpu, rss = (more[1], more[2]) if len(more) >= 3 else (None, None)
    depth = "  " if pid == w.pid else "    └ "
    text = Text(f"{depth}{names[pid]}", style="bold" if pid == w.pid else "")
    text.append(f"  {state}", style="red" if state == "zombie" else "green")
    if waits and state not in ("zombie", "running"):
        text.append(f" in {waits}", style="yellow")
    if zombies:
        text.append(f"  {zombies} zombie child{'ren' if zombies > 1 else ''} "
                    "(not waited for)", style="bold red")
    if masks.get("pending"):
        text.append(f"  pending {short_mask(masks['pending'])}", style="bold magenta")
    if masks.get("blocked"):
        text.append(f"  blocks {short_mask(masks['blocked'])}", style="yellow")
    if rss is not None and state != "zombie":
        used = f"{cpu:.0f} % cpu, " if cpu is not None else ""
        text.append(f"  {used}{format_bytes(rss)}", style="dim")
    return text


class _Holders:
    """Who holds a kernel object, by name: `names` the tree's processes by pid, `graph`
    the objects of the descriptor graph by id (with each holder's descriptors)."""

    def __init__(self, names: dict[int, str], graph: dict[str, Any]) -> None:
        self.names = names
        self.graph = graph

    def who(self, pids: list[int], channel: str | None = None, ident: str = "",
            ends: tuple[str, ...] = ()) -> str:
        """The holders by name, each with its descriptors when the graph has them."""
        held = ", ".join(self.names.get(p, str(p)) + _fds(self.graph.get(ident), p, ends)
                         for p in pids)
        if channel:  # a channel of the scenario: its other end is with scripted workers
            return held or "scripted workers (pipes panel)"
        return held or "nobody in the tree"


def _object_lines(seen: dict[str, Any], holders: _Holders, traffic: dict[str, Any],
                  dtype: str) -> list[Text]:
    """The pipes, queues, sockets and shared memory the tree holds, and who holds each."""
    who = holders.who
    lines = []
    for pipe in seen["pipes"][:MAX_LISTED]:
        channel = pipe.get("channel")
        label = (f"channel {channel} ({pipe['kind']})" if channel else
                 f"FIFO {pipe['path']}" if pipe["path"] else f"pipe {pipe['inode']}")
        text = Text(f"  {label}: ", style="magenta")
        ident = f"{pipe['kind']}:[{pipe['inode']}]"
        text.append(f"write end: {who(pipe['writers'], channel, ident, ('write', 'both'))}; "
                    f"read end: {who(pipe['readers'], channel, ident, ('read', 'both'))}")
        if pipe["buffered"] is not None:
            text.append(f"  {_kib(pipe['buffered'])} / {_kib(pipe['capacity'])} in the kernel",
                        style="bold")
        moved = traffic.get(f"pipe:[{pipe['inode']}]") or traffic.get(pipe["path"] or "")
        if moved:
            text.append(f"  written {_kib(moved['bytes_written'])}, read "
                        f"{_kib(moved['bytes_read'])}", style="cyan")
        lines.append(text)
    for queue in seen["queues"][:MAX_LISTED]:
        lines.append(Text(f"  queue {queue['name']}: {queue['depth']} / {queue['capacity']} "
                          f"messages; held by {who(queue['holders'])}", style="blue"))
    for sock in seen["sockets"][:MAX_LISTED]:
        lines.append(Text(f"  {sock['family']} {sock['type']} {sock['state']} "
                          f"{escape_control(sock['local'])} → {escape_control(sock['remote'])}"
                          f"  queued {sock['rx_queue'] or 0} B; {who(sock['holders'])}"))
    for seg in seen["shared_memory"][:MAX_LISTED]:
        lines.append(Text(f"  shared memory {escape_control(seg['name'])} ({seg['size']:,} B), "
                          f"mapped by {who(seg['mappers'])}", style="cyan"))
        if seg.get("contents"):
            raw = bytes.fromhex(seg["contents"])
            lines.append(Text("    " + contents_text(raw, dtype) + ("  (d: as numbers)" if
                              dtype == "bytes" else "  (d: next)"), style="dim"))
    return lines


class ProgramsPanel(Panel):
    """Renders the programs of a Snapshot (hidden when the scenario runs none)."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot."""

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        programs = [w for w in snap.workers if w.program is not None]
        key = tuple((w.name, w.state, repr(program.get("observed")), repr(program.get("trace")))
                    for w in programs if (program := w.program) is not None)
        if key == self._key:
            return
        self._key = key
        self.set_shown(bool(programs))
        lines: list[Text] = []
        for w in programs:
            lines += program_lines(w, DTYPES[self._dtype])
        self.show(lines)

    _dtype = 0

    def next_dtype(self) -> str:
        """Show shared memory as the next of DTYPES; its name."""
        self._dtype = (self._dtype + 1) % len(DTYPES)
        self._key = None  # draw again now, with the same Snapshot
        self.watch_snapshot(self.snapshot)
        return DTYPES[self._dtype]
