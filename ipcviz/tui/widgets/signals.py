"""Signal panel: per worker, each signal in play as received / sent, a flash on arrival,
the kernel's masks decoded, and why sent and received differ.
"""

from __future__ import annotations

from itertools import compress
from typing import Any

from rich.text import Text
from textual.reactive import reactive

from ipcviz.format import signal_gap_reason
from ipcviz.signals import is_realtime, parse_signal
from ipcviz.telemetry.snapshot import Snapshot, WorkerView
from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.grid import grid_lines
from ipcviz.telemetry.moved import moved_workers

MAX_SIGNAL_COLUMNS = 6
MAX_ROWS = 12


def has_signal_activity(w: WorkerView) -> bool:
    """Worth a row: it received or was sent a signal, or the kernel shows any mask."""
    return bool(w.signals_received or w.signals_sent_to or w.masks.get("pending")
                or w.masks.get("shared_pending") or w.masks.get("blocked")
                or w.masks.get("caught") or w.masks.get("ignored"))


def signals_in_play(snap: Snapshot) -> list[str]:
    """Every signal any worker received or was sent, in signal-number order."""
    return sorted(frozenset().union(*map(signal_names, snap.workers)), key=parse_signal)


def signal_names(w: WorkerView) -> frozenset[str]:
    """The signals the worker received or was sent."""
    return frozenset(w.signals_received).union(w.signals_sent_to)


def worker_reason(w: WorkerView, signals: list[str]) -> str:
    """The first non-empty reason among the worker's signals, prefixed by the signal."""
    reasons = worker_reasons(w, signals)
    return reasons[0] if reasons else ""


def worker_reasons(w: WorkerView, signals: list[str]) -> list[str]:
    """Every gap between sent and received of the worker's signals, one reason each,
    prefixed by the signal: a worker killed by SIGKILL may also have merged SIGUSR1."""
    if w.program is not None and w.program.get("attached"):
        return ["a process ipcviz did not start: what it received is not counted; its "
                "masks are the kernel's; sent = by ipcviz"]
    if w.program is not None and not w.program.get("trace"):
        return ["a program: what it received is counted only with --trace (strace); its "
                "masks are the kernel's; sent = by ipcviz"]
    sent_to = w.sent_this_life if w.sent_this_life is not None else w.signals_sent_to
    received = (w.received_this_life if w.received_this_life is not None
                else w.signals_received)
    merged = w.signals_merged
    out = []
    for sig in signals:
        reason = signal_gap_reason(sig, sent_to.get(sig, 0), received.get(sig, 0),
                                   w.masks, w.exit, is_realtime(parse_signal(sig)),
                                   None if merged is None else merged.get(sig, 0), w.state)
        if reason:
            out.append(f"{sig}: {reason}")
    return out


def pending_text(w: WorkerView, pending: list[str]) -> str:
    """Pending signals; a real-time one with how many are queued (sent to this life and
    not yet received: they do not merge), a standard one as the single bit it is."""
    if not pending:
        return "-"
    sent_to = w.sent_this_life if w.sent_this_life is not None else w.signals_sent_to
    parts = []
    for sig in pending:
        short = sig.removeprefix("SIG")
        if is_realtime(parse_signal(sig)):
            received = (w.received_this_life if w.received_this_life is not None
                        else w.signals_received)
            queued = sent_to.get(sig, 0) - received.get(sig, 0)
            parts.append(f"{short} ×{queued} queued" if queued > 1 else short)
        else:
            parts.append(f"{short} (1 bit)")
    return " ".join(parts)


def short_mask(names: list[str]) -> str:
    shown = [n.removeprefix("SIG") for n in names]
    return " ".join(shown) if shown else "-"


class SignalsPanel(Panel):
    """Received / sent per worker and signal, with the kernel's masks beside them."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; a cell flashes when its received count rose since the last one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._previous: dict[tuple[str, str], int] = {}
        #: the last Snapshot taken in, and per place in its workers: worth a row, and the
        #: signals it received or was sent; the signals in play (see `_in_play`)
        self._taken: Snapshot | None = None
        self._activity: list[bool] = []
        self._names: list[frozenset[str]] = []
        self._signals: list[str] = []

    def forget_run(self) -> None:
        super().forget_run()
        self._previous.clear()
        self._taken = None

    def _in_play(self, snap: Snapshot) -> tuple[list[str], list[WorkerView]]:
        """The signals in play and the workers worth a row (`signals_in_play`,
        `has_signal_activity`), each worker looked at again only when its view is a new
        object since the last Snapshot taken (moved.py)."""
        workers = snap.workers
        moved = moved_workers(self._taken, snap)
        self._taken = snap
        if moved is None:
            self._activity = [has_signal_activity(w) for w in workers]
            self._names = [signal_names(w) for w in workers]
            self._signals = sorted(frozenset().union(*self._names), key=parse_signal)
        elif moved:
            names_moved = False
            for i in moved:
                w = workers[i]
                self._activity[i] = has_signal_activity(w)
                names = signal_names(w)
                if names != self._names[i]:
                    self._names[i], names_moved = names, True
            if names_moved:
                self._signals = sorted(frozenset().union(*self._names), key=parse_signal)
        return list(self._signals), list(compress(workers, self._activity))

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        signals, active = self._in_play(snap)
        key = (tuple(signals), tuple((w.name, tuple(w.signals_received.items()),
                                      tuple(w.signals_sent_to.items()), w.exit,
                                      tuple((w.sent_this_life or {}).items()),
                                      tuple((w.signals_merged or {}).items()), w.state,
                                      tuple((k, tuple(v)) for k, v in w.masks.items()))
                                     for w in active))
        if key == self._key:
            return  # nothing to redraw (no flash either: no count rose)
        self._key = key
        self.set_shown(bool(active))
        shown = signals[:MAX_SIGNAL_COLUMNS]
        if self.app.has_class("narrow"):  # the pending column (the lesson) keeps its words
            columns = ["got/sent", *(sig.removeprefix("SIG") for sig in shown), "pending",
                       "blocked", "ignored", "caught"]
        else:
            columns = ["received/sent", *shown, "pending", "blocked", "ignored",
                       "caught (handlers)"]
        rows: list[list[Text | str]] = []
        reasons = Text()
        for w in active[:MAX_ROWS]:
            cells: list[Text | str] = [Text(w.name, style="bold")]
            for sig in shown:
                got = w.signals_received.get(sig, 0)
                sent = w.signals_sent_to.get(sig, 0)
                before = self._previous.get((w.name, sig), got)
                style = "bold reverse green" if got > before else (
                    "yellow" if sent > got else "")
                counted = w.program is None or bool(w.program.get("trace"))
                if not counted:
                    style = "dim"
                cells.append(Text(f"{got if counted else '?'}/{sent}", style=style))
                self._previous[(w.name, sig)] = got if counted else 0
            pending = sorted(set(w.masks.get("pending", [])) | set(w.masks.get("shared_pending", [])),
                             key=parse_signal)
            cells.append(Text(pending_text(w, pending), style="bold magenta" if pending else "dim"))
            cells.append(Text(short_mask(w.masks.get("blocked", [])), style="yellow"))
            cells.append(Text(short_mask(w.masks.get("ignored", [])), style="dim red"))
            cells.append(Text(short_mask(w.masks.get("caught", [])), style="cyan"))
            rows.append(cells)
            for reason in worker_reasons(w, signals):
                reasons.append(f"\n {w.name}", style="bold")
                reasons.append(f" {reason}", style="italic")
        if len(active) > MAX_ROWS:
            rows.append([Text(f"… {len(active) - MAX_ROWS} more", style="dim")])
        lines = grid_lines(columns, rows, self.text_width, right=range(1, 1 + len(shown)))
        if reasons:
            lines += Text.assemble(("why sent ≠ received:", "bold underline"), reasons).split("\n")
        self.show(lines)
