"""The lines the memory panel shows for a window of a large file (channels/window.py):
the file's size beside the blocks it really holds, the window mapped, a strip of the
window's pages with the touched ones filled, and what the kernel says of the mapping:
its resident pages (smaps Rss) and the page faults the reads took."""

from __future__ import annotations

from rich.text import Text

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
    data = c.data
    size, held = data.get("file_size"), data.get("file_blocks_bytes")
    offset, length = data.get("offset") or 0, data.get("length") or 0
    pages = int(data.get("window_pages") or 0)
    touched = int(data.get("pages_touched") or 0)
    rss = data.get("rss_pages")
    lines = [Text.assemble(
        (f"{c.name} ", "bold"), "file ", (format_bytes(size or 0), "bold"),
        ", sparse (blocks held ",
        (format_bytes(held) if isinstance(held, int) else "?", "bold"),
        f") · mapped {format_bytes(length)} at {format_bytes(offset)}")]
    lines.append(Text.assemble("  ", (strip(touched, pages), "cyan")))
    resident = "mapping not found" if rss is None else f"{rss} pages"
    lines.append(Text.assemble(
        "  touched ", (str(touched), "bold"), f" of {pages} pages · resident (Rss) ",
        (resident, "bold"), " · faults ", (str(data.get("faults", 0)), "bold"),
        f" (major {data.get('major_faults', 0)})"))
    return lines
