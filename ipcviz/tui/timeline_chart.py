"""The timeline's sequence chart as text: one column per worker, time going down, a row
per arrow (bytes, messages, signals: telemetry/sequence.py), per send still waiting for
its receiver, and per acquire or release. Pure: no Textual, so rows are tested as strings.

A row is data (`Row`) until it is drawn for a width: the columns (who is in the chart,
how wide each is) change when a worker appears or the terminal is resized, and then every
row is drawn again from its data.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass

from rich.text import Text

from ipcviz.format import format_bytes
from ipcviz.telemetry.sequence import RUNTIME, Arrow, Mark
from ipcviz.tui.widgets.workers import middle_cut

#: the time label's cells ("  1.25 ") before the first column
TIME_WIDTH = 7
#: the narrowest and widest worker column
MIN_COLUMN, MAX_COLUMN = 6, 16
STYLES = {"signal": "cyan", "bytes": "magenta", "message": "yellow", "acquire": "green",
          "release": "green", "send": "dim", "sent": "dim red", "arrived": "cyan"}
#: the runtime's column heading
RUNTIME_HEADING = "ipcviz"
#: a receipt this much later than its send says when it was sent
LONG_WAIT = 0.05


@dataclass(frozen=True)
class Row:
    """One line of the chart: an arrow, or a mark on one worker's column, at `at`."""

    at: float
    arrow: Arrow | None = None
    mark: Mark | None = None


def rows_of(arrows: Seq[Arrow], marks: Seq[Mark]) -> list[Row]:
    """The rows of new arrows (at their receipt) and marks, in time order."""
    rows = [Row(a.received_at, arrow=a) for a in arrows]
    rows += [Row(m.at, mark=m) for m in marks]
    rows.sort(key=lambda r: r.at)
    return rows


def amount(kind: str, count: int) -> str:
    """How much an arrow carried, in words: "64 B", "×3"."""
    if kind == "bytes":
        return format_bytes(count)
    return f"×{count}" if count != 1 else ""


class Columns:
    """Who has a column, where its lifeline is, and the headings, for one width."""

    def __init__(self, names: Seq[str], width: int):
        room = max(0, width - TIME_WIDTH)
        fit = max(1, room // MIN_COLUMN)
        self.shown = list(names[:fit])
        self.hidden = len(names) - len(self.shown)
        self.width = width
        self.column = max(MIN_COLUMN, min(MAX_COLUMN, room // max(1, len(self.shown))))
        self.centers = {name: TIME_WIDTH + i * self.column + self.column // 2
                        for i, name in enumerate(self.shown)}

    def heading(self) -> Text:
        """The names over their lifelines, cut in the middle to fit."""
        # no-break spaces: a Static drops the leading spaces of its text
        line = Text("\u00a0\u00a0time ", style="dim", no_wrap=True, overflow="ellipsis")
        for name in self.shown:
            label = RUNTIME_HEADING if name == RUNTIME else name
            line.append(middle_cut(label, self.column - 1).center(self.column), style="bold")
        if self.hidden:
            line.append(f" +{self.hidden}", style="dim")
        return line

    def draw(self, row: Row) -> Text:
        """The row as one line: lifelines, the arrow or mark, and its words beside it."""
        cells = [" "] * self.width
        styles: list[str] = [""] * self.width
        for center in self.centers.values():
            if center < self.width:
                cells[center], styles[center] = "│", "dim"
        if row.arrow is not None:
            kind, words, span = self._arrow(row.arrow, cells, styles)
        elif row.mark is not None:
            kind, words, span = self._mark(row.mark, cells, styles)
        else:
            kind, words, span = "", "", (0, 0)
        if words:
            low, high = span
            if high - low - 1 >= len(words) + 2:  # inside the arrow: ──── p 64 B ───▶
                at = low + 1 + (high - low - 1 - len(words)) // 2
            else:  # beside it, over the lifelines further right
                at = high + 2
            for i, char in enumerate(words):
                if at + i < self.width:
                    cells[at + i], styles[at + i] = char, STYLES.get(kind, "")
            if at + len(words) > self.width and self.width > TIME_WIDTH:
                cells[-1] = "…"
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{row.at:6.2f} ", style="dim")
        run_start = TIME_WIDTH
        for i in range(TIME_WIDTH + 1, self.width + 1):  # one append per run of a style
            if i == self.width or styles[i] != styles[run_start]:
                line.append("".join(cells[run_start:i]), style=styles[run_start])
                run_start = i
        return line

    def _x(self, name: str) -> int:
        """A worker's lifeline, or the chart's edge for a worker without a column."""
        x = self.centers.get(name)
        return x if x is not None else self.width - 1

    def _arrow(self, arrow: Arrow, cells: list[str], styles: list[str]
               ) -> tuple[str, str, tuple[int, int]]:
        start, end = self._x(arrow.sender), self._x(arrow.receiver)
        style = STYLES[arrow.kind]
        step = 1 if end > start else -1
        for x in range(start + step, end, step):
            if 0 <= x < self.width:
                cells[x], styles[x] = "─", style
        if 0 <= start < self.width:
            cells[start], styles[start] = "●", style
        head = end - step
        if start != end and 0 <= head < self.width:
            cells[head], styles[head] = "▶" if step > 0 else "◀", style
        words = " ".join(filter(None, (arrow.what, amount(arrow.kind, arrow.count))))
        if arrow.received_at - arrow.sent_at >= LONG_WAIT:
            words += f" (sent {arrow.sent_at:.2f})"
        outside = [n for n in (arrow.sender, arrow.receiver) if n not in self.centers]
        if outside:
            words += f" {arrow.sender}→{arrow.receiver}"
        return arrow.kind, words, (min(start, end), max(start, end))

    def _mark(self, mark: Mark, cells: list[str], styles: list[str]
              ) -> tuple[str, str, tuple[int, int]]:
        x = self._x(mark.worker)
        symbol = {"acquire": "◆", "release": "◇", "send": "○", "sent": "✕",
                  "arrived": "◉"}.get(mark.kind, "•")
        if 0 <= x < self.width:
            cells[x], styles[x] = symbol, STYLES.get(mark.kind, "")
        count = amount(mark.unit, mark.count)
        count = f" {count}" if count else ""
        words = {"acquire": f"acquired {mark.what}", "release": f"released {mark.what}",
                 "send": f"{mark.what}{count} sent, waiting",
                 "sent": f"{mark.what}{count} never received",
                 "arrived": f"{mark.what}{count} arrived"}.get(mark.kind, mark.what)
        if mark.worker not in self.centers:
            words += f" ({mark.worker})"
        return mark.kind, words, (x, x)
