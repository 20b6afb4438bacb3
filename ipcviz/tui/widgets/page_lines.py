"""The lines the memory panel shows for a page (channels/page.py): per process that
touched it, the virtual address it used, the text of its last read and the physical
frame behind the page at its first and at its latest access; then whether all of them
used one address and one frame. Frames the kernel hides (not root) are said to be
hidden, never shown as numbers."""

from __future__ import annotations

from rich.text import Text

from ipcviz.channels.memory_state import PageState
from ipcviz.telemetry.snapshot import ChannelView

HIDDEN = "hidden (root only)"


def frame_text(frame: object, hidden: bool) -> str:
    """A frame number as hex, or what stands in its place."""
    if isinstance(frame, int) and not isinstance(frame, bool):
        return f"{frame:#x}"
    return HIDDEN if hidden else "-"


_YES_NO: dict[object, str] = {True: "yes", False: "no"}


def yes_no(value: object) -> str:
    """True and False in words; anything else (not known) as "-"."""
    return _YES_NO.get(value, "-")


def page_lines(c: ChannelView) -> list[Text]:
    """A title line (the mapping, and whether every process had one address and one
    frame at its first and at its last access), then one line per process."""
    page = c.state if isinstance(c.state, PageState) else PageState()
    mapping = "MAP_SHARED" if page.shared else "MAP_PRIVATE"
    lines = [Text.assemble(
        (f"{c.name} ", "bold"), (f"{mapping} ", "bold"),
        "· same address: ", (yes_no(page.same_address), "bold"),
        " · same frame at first access: ", (yes_no(page.same_frame_first), "bold"),
        ", last: ", (yes_no(page.same_frame_last), "bold"))]
    seen = page.seen_by or {}
    hidden = bool(page.frames_hidden)
    values = page.values_read or {}
    if not seen:
        lines.append(Text(f"  mapped at {page.address}; no process has touched it "
                          "yet", style="dim"))
        return lines
    width = max(len(name) for name in seen)
    for name, (address, first, last) in seen.items():
        line = Text(f"  {name:<{width}} at ")
        line.append(f"{address} ", style="cyan")
        value = values.get(name)
        line.append(" read ")
        line.append(f"{value if value is not None else '-':<5} ", style="bold")
        line.append(f" frame {frame_text(first, hidden)} → ")
        moved = isinstance(first, int) and isinstance(last, int) and first != last
        line.append(frame_text(last, hidden), style="bold reverse" if moved else "")
        lines.append(line)
    if hidden:
        lines.append(Text("  physical frames: the kernel shows them (/proc/PID/pagemap) "
                          "to root only", style="dim"))
    return lines
