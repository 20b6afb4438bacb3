"""`ipcviz screenshot`: run a scenario live, wait, and save what the app shows (SVG, PNG)."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import subprocess
from pathlib import Path

from ipcviz.host.outputs import write_output
from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource


class CaptureFailed(RuntimeError):
    """The run did not start or failed: `lines` say why, one problem each."""

    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = list(lines)


async def _capture(path: str, at: float, size: tuple[int, int], svg: Path,
                   press: tuple[str, ...] = ()) -> str:
    """Run the app to `at` seconds, press `press`, save the screen to `svg`; its text."""
    app = make_app(source=LiveSource(path))
    async with app.run_test(size=size) as pilot:
        while app.latest is None or app.latest.elapsed < at:
            if app.error_lines:
                break
            await pilot.pause(0.05)
        for key in press:
            await pilot.press(key)
        await pilot.pause(0.2)
        picture = app.export_screenshot(title=app.latest.scenario if app.latest else "ipcviz")
        write_output(svg, picture.encode())  # never through a link planted at the name
        await pilot.press("q")
    if app.error_lines:
        raise CaptureFailed(app.error_lines)
    return picture


_TEXT = re.compile(r'(<text [^>]*?x=")([\d.]+)("[^>]*?textLength=")([\d.]+)("[^>]*>)'
                   r'((?:&#160;)+)([^<]*</text>)')


def for_converters(svg_text: str) -> str:
    """Textual's SVG, with the blanks that start a run of text moved into its x position.

    Converters (rsvg, cairo) drop the non-breaking spaces that open a <text> element and
    then stretch the rest to its textLength, which shifts columns in the picture (never in
    the terminal, nor in the SVG read as Textual meant it)."""
    def move(m: re.Match[str]) -> str:
        blanks = m.group(6).count("&#160;")
        rest = html.unescape(m.group(7)[:-len("</text>")])
        width = float(m.group(4)) / (blanks + len(rest)) if blanks + len(rest) else 0.0
        x = float(m.group(2)) + blanks * width
        return (f"{m.group(1)}{x:g}{m.group(3)}{float(m.group(4)) - blanks * width:g}"
                f"{m.group(5)}{m.group(7)}")
    return _TEXT.sub(move, svg_text)


def to_png(svg: Path, picture: str) -> Path | None:
    """Convert SVG text `picture` (saved as `svg`) to the PNG beside it with rsvg-convert
    or cairosvg when one is installed; None otherwise."""
    png = svg.with_suffix(".png")
    fixed = for_converters(picture)
    # the converters write to standard output or return bytes: the file is written here,
    # by the one helper that never follows a link (the converters' own -o would)
    if shutil.which("rsvg-convert"):
        png_bytes = subprocess.run(["rsvg-convert", "-b", "#0c0c0c"], input=fixed.encode(),
                                   check=True, capture_output=True).stdout
    else:
        try:
            import cairosvg
        except ImportError:
            return None
        png_bytes = cairosvg.svg2png(bytestring=fixed.encode())
    write_output(png, png_bytes)
    return png


def screenshot(path: str, at: float, size: tuple[int, int], output: Path,
               press: tuple[str, ...] = ()) -> list[Path]:
    """Save an SVG (and a PNG when possible) of the live app `at` seconds into the run."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # (a name that is no directory now) the output's own open says why, in one line
    picture = asyncio.run(_capture(path, at, size, output, press))
    png = to_png(output, picture)
    return [output] + ([png] if png else [])
