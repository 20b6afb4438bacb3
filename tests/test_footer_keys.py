"""The footer's row of keys: whole keys only, the most important first, and "…" where
the terminal cut the rest (the help screen lists them all)."""

from __future__ import annotations

import asyncio

import pytest

from tests.test_snapshots import recorded_app
from tests.waiting import until


async def _footer_line(width: int, resize_to: int | None = None) -> tuple[str, list[str]]:
    """The footer's bottom line of text at `width` columns (after a resize to
    `resize_to`, when given) and the descriptions of every key the app shows."""
    from textual.widgets import Footer

    app = recorded_app("socket_echo", 0.8)
    async with app.run_test(size=(width, 30)) as pilot:
        footer = app.query_one(Footer)
        await until(pilot, lambda: footer.children and all(c.size.width for c in footer.children),
                    message="the footer's keys laid out")
        if resize_to is not None:
            await pilot.resize_terminal(resize_to, 30)
            await until(pilot, lambda: footer.size.width == resize_to
                        and footer.children and all(c.size.width for c in footer.children)
                        and _fits(footer), message="the footer composed for the new width")
        y = app.screen.find_widget(footer).region.y
        line = "".join(segment.text for segment in app.screen._compositor.render_strips()[y])
        shown = [b.description for _, b, _, _ in app.screen.active_bindings.values() if b.show]
    return line, shown


def _fits(footer) -> bool:  # type: ignore[no-untyped-def]
    return max(c.region.right for c in footer.children) <= footer.region.right


@pytest.mark.parametrize("width", [80, 120])
def test_a_narrow_footer_ends_in_an_ellipsis_after_whole_keys(width: int,
                                                             nothing_left_behind) -> None:
    line, descriptions = asyncio.run(_footer_line(width))
    assert len(line) == width
    text = line.rstrip()
    assert text.endswith("…"), text
    assert text.split()[:6] == ["?", "help", "q", "quit", "space", "pause"]  # most important first
    # every key on the line is whole: the text before the mark is a run of whole keys
    body = text[:-1].rstrip()
    whole = [d for d in descriptions if f" {d}" in body]
    assert body.endswith(whole[-1]), (body, whole)
    assert len(whole) < len(descriptions)


def test_a_resize_cuts_the_footer_again(nothing_left_behind) -> None:
    """Narrowed, the row is cut again; widened, it shows every key and no mark."""
    narrowed, _ = asyncio.run(_footer_line(200, resize_to=80))
    assert narrowed.rstrip().endswith("…")
    widened, descriptions = asyncio.run(_footer_line(80, resize_to=200))
    assert "…" not in widened and widened.rstrip().endswith(descriptions[-1])
