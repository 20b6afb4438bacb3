"""Panel: a Static that knows how many lines it draws, so a new frame of the same height
repaints without a layout pass of the whole screen (which is what makes big runs slow).
"""

from __future__ import annotations

from textual.widgets import Static

BORDER_LINES = 1  # panels have a top border with their title


class Panel(Static):
    """Base of the panels: `show(renderable, lines)` instead of `update`."""

    _lines = -1

    @property
    def text_width(self) -> int:
        """Columns available for the panel's text (the screen's width before layout)."""
        return self.content_region.width or self.app.size.width

    def show(self, renderable: object, lines: int) -> None:
        height = lines + BORDER_LINES
        if height != self._lines:
            self._lines = height
            self.styles.height = height
            self.update(renderable)  # type: ignore[arg-type]
        else:
            self.update(renderable, layout=False)  # type: ignore[arg-type]
