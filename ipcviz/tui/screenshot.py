"""`ipcviz screenshot`: run a scenario live, wait, and save what the app shows (SVG, PNG)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource


async def _capture(path: str, at: float, size: tuple[int, int], svg: Path,
                   press: tuple[str, ...] = ()) -> None:
    app = make_app(source=LiveSource(path))
    async with app.run_test(size=size) as pilot:
        while app.latest is None or app.latest.elapsed < at:
            if app.error_lines:
                break
            await pilot.pause(0.05)
        for key in press:
            await pilot.press(key)
        await pilot.pause(0.2)
        svg.write_text(app.export_screenshot(title=app.latest.scenario if app.latest else "ipcviz"))
        await pilot.press("q")
    if app.error_lines:
        raise RuntimeError("; ".join(app.error_lines))


def to_png(svg: Path) -> Path | None:
    """Convert with rsvg-convert or cairosvg when one is installed; None otherwise."""
    png = svg.with_suffix(".png")
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "-b", "#0c0c0c", "-o", str(png), str(svg)], check=True)
        return png
    try:
        import cairosvg  # type: ignore[import-not-found]
    except ImportError:
        return None
    cairosvg.svg2png(url=str(svg), write_to=str(png))
    return png


def screenshot(path: str, at: float, size: tuple[int, int], output: Path,
               press: tuple[str, ...] = ()) -> list[Path]:
    """Save an SVG (and a PNG when possible) of the live app `at` seconds into the run."""
    output.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(_capture(path, at, size, output, press))
    png = to_png(output)
    return [output] + ([png] if png else [])
