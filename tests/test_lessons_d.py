"""The memory lessons, run for real: fork_address_spaces (a page mapped before fork: one
virtual address in every process, a copy of its own for a process that writes a private
page, one frame for a shared one), in exact values from its `--json` summary; the
physical frames the kernel hides from other users said to be hidden, never shown as
numbers; and the page kind's bad input refused with its line."""

from __future__ import annotations

import mmap
import os

import numpy as np

from ipcviz.channels.memory_state import PageState, WindowState
from ipcviz.channels.page import FRAME_HIDDEN, address_of, frame_of
from ipcviz.runtime.channel_views import page_views
from ipcviz.telemetry import table as T
from ipcviz.telemetry.snapshot import ChannelView
from ipcviz.tui.widgets.page_lines import page_lines

from .conftest import SCENARIOS, run_cli, run_scenario
from .users import as_user


def _failed(summary: dict) -> list[dict]:
    return [r for r in summary["expect"] if not r["ok"]]


def test_fork_gives_the_child_its_own_copy_at_the_same_address(nothing_left_behind) -> None:
    """forker stores "red" in both pages and forks; the child reads red, stores "blue"
    in both: x (private) is still red for forker, y (shared) blue for both. One address
    in both processes; the child started on forker's frame of x and ended on a new one
    (copy-on-write); y is one frame throughout. Frames are read as root, as here."""
    assert os.geteuid() == 0, "the frames are root's to see"
    summary = run_scenario(SCENARIOS / "fork_address_spaces.yaml", "--check")
    assert _failed(summary) == []
    workers = summary["workers"]
    assert (workers["forker"]["exit"], workers["child#0"]["exit"]) == (0, 0)
    assert workers["forker"]["bytes_written"] == {"x": 3, "y": 3}
    assert workers["forker"]["bytes_read"] == {"x": 8, "y": 8}
    assert workers["child#0"]["bytes_written"] == {"x": 4, "y": 4}
    assert workers["child#0"]["bytes_read"] == {"x": 8, "y": 8}
    x, y = summary["channels"]["x"], summary["channels"]["y"]
    assert (x["kind"], x["shared"], y["shared"]) == ("page", False, True)
    assert x["values_read"] == {"forker": "red", "child#0": "blue"}
    assert y["values_read"] == {"forker": "blue", "child#0": "blue"}
    assert (x["bytes_written"], x["bytes_read"]) == (7, 16)
    for page in (x, y):
        assert sorted(page["seen_by"]) == ["child#0", "forker"]
        assert {a for a, _f, _l in page["seen_by"].values()} == {page["address"]}
        assert page["same_address"] is True and page["frames_hidden"] is False
        assert page["same_frame_first"] is True
    assert (x["same_frame_last"], y["same_frame_last"]) == (False, True)
    _addr, parent_first, parent_last = x["seen_by"]["forker"]
    _addr, child_first, child_last = x["seen_by"]["child#0"]
    assert parent_first == parent_last == child_first > 0  # shared until the write
    assert child_last > 0 and child_last != parent_last  # the child's own copy
    assert x["address"] != y["address"]
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def _touched_page_frame() -> int:
    page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    page[0:1] = b"x"
    return frame_of(address_of(page))


def test_the_kernel_shows_frames_to_root_only() -> None:
    """/proc/self/pagemap gives root the frame of a touched page, and another user a
    zero in its place: read as FRAME_HIDDEN, never as frame 0."""
    assert _touched_page_frame() > 0
    assert as_user(_touched_page_frame) == FRAME_HIDDEN


def _columns(cells: dict[int, list[int]]):
    return lambda counter: np.array(cells.get(counter, [0, 0, 0]), dtype=np.int64)


def test_hidden_frames_are_said_to_be_hidden_not_shown_as_numbers() -> None:
    """Two processes that touched a page where the kernel hid the frames: no frame in the
    data, the frame booleans unknown (null), and the panel says why."""
    data = page_views(_columns({T.PAGE_ADDRESS: [0x7F00, 0x7F00, 0],
                                T.FIRST_FRAME: [FRAME_HIDDEN, FRAME_HIDDEN, 0],
                                T.LAST_FRAME: [FRAME_HIDDEN, FRAME_HIDDEN, 0]}),
                      {0: "a", 1: "b"}, {"a": ["red\x00", 4], "b": ["red", 3]})
    assert data == {"seen_by": {"a": ["0x7f00", None, None], "b": ["0x7f00", None, None]},
                    "frames_hidden": True, "same_address": True, "same_frame_first": None,
                    "same_frame_last": None, "values_read": {"a": "red", "b": "red"}}
    view = ChannelView.of("x", "page", {**data, "shared": False, "address": "0x7f00"}, (), ())
    text = "\n".join(line.plain for line in page_lines(view))
    assert text.count("hidden (root only)") == 4
    assert "/proc/PID/pagemap" in text and "0x0 " not in text


def test_a_page_breaks_its_relations_only_when_they_break() -> None:
    """Every process at the runtime's address; a shared page one frame: the relations
    `replay --check` applies hold on a true frame and name what broke on a false one."""
    good = {"shared": True, "address": "0x1000", "same_frame_last": True,
            "seen_by": {"a": ["0x1000", 5, 5], "b": ["0x1000", 5, 5]}}
    assert PageState.from_dict(good).relations(None) == []
    moved = {**good, "seen_by": {"a": ["0x1000", 5, 5], "b": ["0x2000", 5, 5]}}
    assert [b.rule for b in PageState.from_dict(moved).relations(None)] == [
        "one virtual address in every process"]
    split = {**good, "same_frame_last": False}
    assert [b.rule for b in PageState.from_dict(split).relations(None)] == [
        "a shared page is one frame"]
    assert PageState.from_dict({**split, "shared": False}).relations(None) == []


def test_bad_page_input_is_one_line_with_its_place(tmp_path) -> None:
    """A `shared` that is no boolean, a values_read check or result field naming no
    process: exit 2, one line each with file, line and column, nothing run."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "result: 'read {channel.x.values_read.nobody}'\n"
        "channels:\n"
        "  x: {kind: page, shared: 3}\n"
        "  y: {kind: page}\n"
        "workers:\n"
        "  a:\n"
        "    steps:\n"
        "      - read: {from: y, bytes: 4}\n"
        "expect:\n"
        "  - {channel: y, values_read: {ghost: red}}\n")
    result = run_cli("run", str(bad), "--headless", "--json")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert any(line.startswith(f"{bad}:3:") and "channels.x.shared" in line
               for line in lines), lines
    assert any(line.startswith(f"{bad}:10:") and "unknown worker 'ghost'" in line
               for line in lines), lines
    assert any(line.startswith(f"{bad}:1:") and "unknown worker 'nobody'" in line
               for line in lines), lines


def test_a_window_of_a_large_file_costs_only_the_pages_touched(nothing_left_behind) -> None:
    """A 256 MiB sparse file, 1 MiB of it mapped at 128 MiB, read 8 pages at a time 8
    times: 64 pages touched, exactly 64 resident in the mapping (smaps Rss), at least 64
    page faults, and the file holds no blocks; it is gone after the run."""
    summary = run_scenario(SCENARIOS / "mmap_window.yaml", "--check")
    assert _failed(summary) == []
    big = summary["channels"]["big"]
    assert (big["kind"], big["file_size"], big["offset"], big["length"]) == (
        "window", 268435456, 134217728, 1048576)
    assert (big["window_pages"], big["pages_touched"], big["rss_pages"]) == (256, 64, 64)
    assert big["bytes_read"] == 262144 and big["file_blocks_bytes"] == 0
    assert big["faults"] >= 64 and 0 <= big["major_faults"] <= big["faults"]
    assert summary["workers"]["reader"]["bytes_read"] == {"big": 262144}
    assert summary["workers"]["reader"]["exit"] == 0
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_resident_pages_follow_the_pages_touched_not_the_window(tmp_path) -> None:
    """The window's endpoint on a real sparse file: each touch brings in exactly the new
    pages (none ahead), and going over touched pages again brings in none."""
    from ipcviz.channels.window import PAGE_BYTES, WindowEndpoint, rss_pages

    path = tmp_path / "big"
    with open(path, "wb") as f:
        f.truncate(64 * PAGE_BYTES)
    window = WindowEndpoint(str(path), 16 * PAGE_BYTES, 32 * PAGE_BYTES)
    assert window.address and rss_pages(window.address) == 0
    window.touch(3 * PAGE_BYTES)
    assert (window.pages_touched(), rss_pages(window.address)) == (3, 3)
    window.touch(5 * PAGE_BYTES + 1)
    assert (window.pages_touched(), rss_pages(window.address)) == (9, 9)
    window.cursor = 0
    window.touch(4 * PAGE_BYTES)
    assert (window.pages_touched(), rss_pages(window.address)) == (9, 9)
    assert os.stat(path).st_blocks == 0
    window.map.close()


def test_a_window_past_the_end_of_the_file_is_an_error_with_its_line(tmp_path) -> None:
    """A window that ends past the file's end, or starts off a page boundary: exit 2,
    one line each naming file, line and the channel, nothing created."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "channels:\n"
        "  ok: {kind: window, file_size: 8192, length: 4096}\n"
        "  big: {kind: window, file_size: 268435456, offset: 268431360, length: 8192}\n"
        "  odd: {kind: window, file_size: 65536, offset: 100, length: 4096}\n"
        "workers:\n"
        "  a:\n"
        "    steps:\n"
        "      - read: {from: ok, bytes: 4096}\n")
    result = run_cli("run", str(bad), "--headless", "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith(f"{bad}:3:")] == [
        f"{bad}:3:8: channels.big: the window ends past the end of the file: offset "
        "268431360 + length 8192 = 268439552 > file_size 268435456"], lines
    assert [line for line in lines if line.startswith(f"{bad}:4:")] == [
        f"{bad}:4:8: channels.odd: offset 100 is not a multiple of the page size "
        f"({mmap.ALLOCATIONGRANULARITY})"], lines
    assert not any(line.startswith(f"{bad}:2:") for line in lines)


def test_a_window_breaks_its_relations_only_when_they_break() -> None:
    good = {"window_pages": 256, "pages_touched": 64, "rss_pages": 64}
    assert WindowState.from_dict(good).relations(None) == []
    rss = WindowState.from_dict({**good, "rss_pages": 70})
    assert [b.rule for b in rss.relations(None)] == ["resident pages = pages touched"]
    over = WindowState.from_dict({"window_pages": 8, "pages_touched": 9, "rss_pages": 9})
    assert [b.rule for b in over.relations(None)] == ["pages touched <= pages of the window"]
