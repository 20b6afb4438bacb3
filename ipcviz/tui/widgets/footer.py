"""The bottom line of keys, cut visibly: the keys that fit whole, then "…".

Textual's Footer lays its keys out in a row and lets the screen's edge cut the last one
in half, with nothing to say that more keys exist (at 120 columns, half of ipcviz's).
`KeyFooter` composes only the keys that fit whole, in the order the App binds them (the
ones that matter most first: `?` lists them all), and ends the row with "…" where it
cut; a resize composes the row again when a different number of keys fits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel

#: what ends a row that could not show every key
CUT_MARK = "…"
#: the cells the mark takes (it has a margin of one cell on its left)
CUT_MARK_WIDTH = cell_len(CUT_MARK) + 1


def key_width(key_display: str, description: str, compact: bool) -> int:
    """The cells one FooterKey takes, from Textual's own rules for it: in the normal
    style the key has a cell of padding each side and the description one after it; in
    the compact style the description has one cell before it and the key a margin of
    one after."""
    if not description:
        return cell_len(key_display) + (1 if compact else 0)
    return cell_len(key_display) + cell_len(description) + (2 if compact else 3)


def keys_that_fit(widths: Iterable[int], room: int) -> int:
    """How many keys of these widths, from the first, the row shows: all of them when
    they fit, else as many as fit beside the cut mark."""
    widths = list(widths)
    if sum(widths) <= room:
        return len(widths)
    used = shown = 0
    for width in widths:
        if used + width > room - CUT_MARK_WIDTH:
            break
        used += width
        shown += 1
    return shown


class KeyFooter(Footer):
    """A Footer whose row of keys ends in "…" where the terminal is too narrow for all
    of them (`?` shows every key). Binding groups are not drawn as groups: ipcviz has
    none, and each key of one is shown as a key of its own."""

    DEFAULT_CSS = """
    KeyFooter FooterLabel.-cut { margin: 0 0 0 1; }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: how many keys the row showed when composed (None: not composed yet)
        self._shown_count: int | None = None

    def _keys(self) -> list[tuple[Binding, bool, str]]:
        """The screen's shown bindings, one per action, in the order they were bound."""
        by_action: dict[str, tuple[Binding, bool, str]] = {}
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show:
                by_action.setdefault(binding.action, (binding, enabled, tooltip))
        return list(by_action.values())

    def _room(self) -> int:
        """The row's width: the footer's own once laid out, else the screen's."""
        return self.size.width or self.screen.size.width or self.app.size.width

    def _fitting(self, keys: list[tuple[Binding, bool, str]]) -> int:
        widths = [key_width(self.app.get_key_display(binding), binding.description,
                            self.compact) for binding, _, _ in keys]
        return keys_that_fit(widths, self._room())

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        keys = self._keys()
        shown = self._shown_count = self._fitting(keys)
        for binding, enabled, tooltip in keys[:shown]:
            yield FooterKey(
                binding.key, self.app.get_key_display(binding), binding.description,
                binding.action, disabled=not enabled, tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        if shown < len(keys):
            yield FooterLabel(CUT_MARK, classes="-cut")

    def on_resize(self, event: events.Resize) -> None:
        """A wider or narrower row may fit a different number of keys: compose again."""
        if self._bindings_ready and self._shown_count is not None \
                and self._fitting(self._keys()) != self._shown_count:
            self.call_after_refresh(self.recompose)
