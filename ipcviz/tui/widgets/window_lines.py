"""The lines the memory panel shows for a window of a large file (channels/window.py):
the file's size beside the blocks it really holds, the window mapped, a strip of the
window's pages with the touched ones filled, and what the kernel says of the mapping:
its resident pages (smaps Rss) and the page faults the reads took."""

from __future__ import annotations

from rich.text import Text

from ipcviz.channels.memory_state import WindowState
from ipcviz.format import format_bytes
from ipcviz.telemetry.snapshot import ChannelView

#: cells of the strip of pages
STRIP = 64


def strip(touched: int, pages: int, width: int = STRIP) -> str:
    """The window's pages as `width` cells: full where every page of the cell was touched
    (a reader's pages are touched from the window's start), half where some were."""
    if pages <= 0:
        return ""
    cells = min(width, pages)
    out = []
    for i in range(cells):
        first, last = i * pages // cells, (i + 1) * pages // cells
        out.append("█" if touched >= last else ("▌" if touched > first else "·"))
    return "".join(out)


def window_lines(c: ChannelView) -> list[Text]:
    window = c.state if isinstance(c.state, WindowState) else WindowState()
    size, held = window.file_size, window.file_blocks_bytes
    offset, length = window.offset or 0, window.length or 0
    pages = window.window_pages or 0
    touched = window.pages_touched or 0
    rss = window.rss_pages
    lines = [Text.assemble(
        (f"{c.name} ", "bold"), "file ", (format_bytes(size or 0), "bold"),
        ", sparse (blocks held ",
        (format_bytes(held) if isinstance(held, int) else "?", "bold"),
        f") · mapped {format_bytes(length)} at {format_bytes(offset)}")]
    lines.append(Text.assemble("  ", (strip(touched, pages), "cyan")))
    resident = "mapping not found" if rss is None else f"{rss} pages"
    lines.append(Text.assemble(
        "  touched ", (str(touched), "bold"), f" of {pages} pages · resident (Rss) ",
        (resident, "bold"), " · faults ", (str(window.faults or 0), "bold"),
        f" (major {window.major_faults or 0})"))
    return lines
