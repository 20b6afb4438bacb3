"""Columns of styled text, laid out by hand.

The panels used to hand Rich a `Table`; rendering one of 16 rows cost about 30 ms per
frame (Rich measures and renders every cell through the console, twice), which at 10
frames a second was most of the UI's CPU. A panel's table is simple (one line per row, no
wrapping), so it is laid out here once per Snapshot into plain `Text` lines: the same
look as `Table(box=None, padding=(0, 1))`, at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Span, Text

Cell = str | Text


def _text(cell: Cell) -> Text:
    return Text(cell) if isinstance(cell, str) else cell


def grid_lines(headers: Sequence[str], rows: Sequence[Sequence[Cell]], width: int,
               right: Sequence[int] = (), header_style: str = "bold",
               full_rows: Sequence[int] = (), keep: Sequence[int] = ()) -> list[Text]:
    """One line for the header and one per row: each cell padded to its column's width
    (right-aligned for the column indexes in `right`), one space at each edge and two
    between columns. Too wide for `width`: the widest columns lose characters (with an
    ellipsis) until it fits, those listed in `keep` (a number and what it is out of)
    only once the others are down to three. A row listed in `full_rows` is one cell
    across the line."""
    cells = [[_text(c) for c in row] for row in rows]
    ncols = len(headers)
    widths = [len(h) for h in headers]
    for r, row in enumerate(cells):
        if r in full_rows:
            continue
        for i, cell in enumerate(row[:ncols]):
            widths[i] = max(widths[i], cell.cell_len)
    room = max(ncols, width - 2 - 2 * (ncols - 1))
    cuttable = [i for i in range(ncols) if i not in keep] or list(range(ncols))
    while sum(widths) > room and max(widths) > 3:
        if max(widths[i] for i in cuttable) <= 3:
            cuttable = list(range(ncols))
        widest = max(cuttable, key=lambda i: widths[i])
        widths[widest] -= 1
    lines = [cells_line([Text(h, style=header_style) for h in headers], widths, right)]
    for r, row in enumerate(cells):
        if r in full_rows:
            line = Text(" ")
            line.append_text(row[0])
            lines.append(line)
            continue
        lines.append(cells_line(list(row) + [Text()] * (ncols - len(row)), widths, right))
    return lines


def cells_line(cells: Sequence[Text], widths: Sequence[int], right: Sequence[int] = (),
               style_pads: bool = False) -> Text:
    """One line of cells, each cut (with an ellipsis) or padded to its column's width, one
    space at each edge and two between them: plain text and spans put together directly
    (a Text per cell, copied and appended, is the slow part). `style_pads`: a cell's own
    style covers its padding too (as `Text.truncate(pad=True)` gives it)."""
    parts = [" "]
    spans: list[Span] = []
    pos = 1
    for i, (cell, width) in enumerate(zip(cells, widths)):
        if i:
            parts.append("  ")
            pos += 2
        length = cell.cell_len
        if length > width:
            cell = cell.copy()
            cell.truncate(width, overflow="ellipsis")
            length = cell.cell_len
        plain = cell.plain
        pad = width - length
        start = pos + pad if i in right else pos
        if i in right:
            parts.append(" " * pad)
        parts.append(plain)
        if i not in right:
            parts.append(" " * pad)
        if cell.style:
            spans.append(Span(pos, pos + len(plain) + pad, cell.style) if style_pads
                         else Span(start, start + len(plain), cell.style))
        for span in cell.spans:
            spans.append(Span(start + span.start, start + span.end, span.style))
        pos += len(plain) + pad
    parts.append(" ")
    return Text("".join(parts), spans=spans, no_wrap=True, overflow="ellipsis")
