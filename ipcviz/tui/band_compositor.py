"""A partial repaint that renders only the widgets drawn beside the lines that changed.

Textual's compositor repaints the lines changed since the last paint by rendering every
widget whose clip (its container's visible area) touches the box around all of them: a
frame that changes the status line at the top and a pipe's line near the bottom renders
every panel of the screen, the footer's keys included, only to throw most of their
lines away. `BandCompositor` groups the changed regions into bands of touching lines and
renders the widgets whose own visible area touches a band, each once. The lines written
to the terminal are the same: a widget that draws on a changed span is visible there,
and that span is inside a band.

It relies on internals of Textual's `Compositor` (`_dirty_regions`, `_regions_to_spans`,
`_render_chops`, `_get_renders`, `visible_widgets`); `use_bands` installs it only where
they are there, and a screen keeps Textual's own compositor otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip

__all__ = ["BandCompositor", "bands", "use_bands"]

#: what BandCompositor uses of Textual's Compositor
_USED = ("_dirty_regions", "_regions_to_spans", "_render_chops", "_get_renders",
         "visible_widgets", "cuts", "size")


def bands(regions: Iterable[Region]) -> list[Region]:
    """The box of each group of regions that share or touch lines, top down; no two
    boxes share a line."""
    out: list[Region] = []
    for region in sorted(regions, key=lambda r: r.y):
        if out and region.y <= out[-1].bottom:
            out[-1] = out[-1].union(region)
        else:
            out.append(region)
    return out


class BandCompositor(Compositor):
    """Textual's compositor, rendering for a partial repaint only the widgets visible
    beside a changed line (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        #: the bands of the repaint under way (None: a whole-screen render)
        self._bands: list[Region] | None = None

    def render_partial_update(self) -> ChopsUpdate | None:
        screen_region = self.size.region
        update_regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not update_regions:
            return None
        crop = Region.from_union(update_regions).intersection(screen_region)
        spans = list(self._regions_to_spans(update_regions))
        is_rendered_line = {y for y, _, _ in spans}.__contains__
        self._bands = [band.intersection(screen_region) for band in bands(update_regions)]
        try:
            chops = self._render_chops(crop, is_rendered_line)
        finally:
            self._bands = None
        chop_ends = [cut_set[1:] for cut_set in self.cuts]
        return ChopsUpdate(chops, spans, chop_ends)

    def _get_renders(self, crop: Region | None = None
                     ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        band_list = self._bands
        if crop is None or band_list is None:
            yield from super()._get_renders(crop)
            return
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            if not (shown and any(band.overlaps(shown) for band in band_list)):
                continue
            yield region, clip, widget.render_lines(
                Region(shown.x - region.x, shown.y - region.y, shown.width, shown.height))


def use_bands(screen: Screen) -> Screen:
    """`screen` repainting band by band, when this Textual has what BandCompositor uses."""
    current = getattr(screen, "_compositor", None)
    if type(current) is Compositor and all(hasattr(current, name) for name in _USED):
        screen._compositor = BandCompositor()
    return screen
