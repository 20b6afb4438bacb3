"""The `file` channel for real: records in two pieces, torn reads without flock, none
with it, and no way out of the run directory."""

from __future__ import annotations

import os
import zlib

import pytest

from ipcviz.channels.file_channel import HEADER, FileEndpoint, pack, parse

from .conftest import SCENARIOS, run_cli, run_scenario


def test_file_handoff_torn_without_flock_none_with_it(nothing_left_behind) -> None:
    """Each reader looks 0.2 s into a write whose second piece comes 0.4 s after the
    first: without flock every such look is a torn read (3), with flock none."""
    summary = run_scenario(SCENARIOS / "file_handoff.yaml", "--check")
    assert [r for r in summary["expect"] if not r["ok"]] == []
    plain, locked = summary["channels"]["plain"], summary["channels"]["locked"]
    record = len("turn over: your move, reader")
    for ch in (plain, locked):
        assert ch["records_written"] == ch["records_read"] == 3
        assert ch["bytes_written"] == ch["bytes_read"] == 3 * record
        assert ch["file_bytes"] == 3 * (HEADER.size + record)  # the real file's size
    assert plain["torn_reads"] == 3
    assert locked["torn_reads"] == 0
    assert summary["workers"]["plain_reader"]["bytes_read"] == {"plain": 3 * record}
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_parse_tells_whole_records_from_torn_ones() -> None:
    one, two = pack(b"hello"), pack(b"world!!")
    assert parse(one + two) == ([5, 7], len(one + two), False)
    assert parse(one + two[:5]) == ([5], len(one), True)  # half a header
    assert parse(one + two[:HEADER.size + 3]) == ([5], len(one), True)  # half a payload
    bad = bytearray(two)
    bad[-1] ^= 0xFF  # the right length but not the bytes the writer wrote
    assert parse(one + bytes(bad)) == ([5], len(one), True)
    assert parse(b"") == ([], 0, False)
    assert HEADER.unpack_from(one)[2] == zlib.crc32(b"hello")


def test_reader_keeps_its_own_offset_and_skips_nothing(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    (tmp_path / "f.writers").write_bytes(b"")
    writer, reader = FileEndpoint(str(path), False, 0), FileEndpoint(str(path), False, 0)
    no_lock = lambda take: take()  # noqa: E731
    writer.write_record(b"abc", lambda s: None, no_lock)
    assert reader.read_records(4096, no_lock) == ([3], False, HEADER.size + 3)
    with open(path, "ab") as fh:  # half of the next record, as a slow writer leaves it
        fh.write(pack(b"defgh")[:HEADER.size + 2])
    assert reader.read_records(4096, no_lock) == ([], True, HEADER.size + 2)
    with open(path, "ab") as fh:
        fh.write(b"fgh")
    assert reader.read_records(4096, no_lock) == ([5], False, HEADER.size + 5)
    # a buffer too small for the next record is not a torn read
    writer.write_record(b"x" * 100, lambda s: None, no_lock)
    assert reader.read_records(20, no_lock) == ([], False, 20)


def test_a_reader_sees_when_no_writer_is_left(tmp_path) -> None:
    """The writers' file is held shared by every process that may write: a reader can
    take it exclusively only once none is left."""
    path = tmp_path / "f"
    path.write_bytes(b"")
    (tmp_path / "f.writers").write_bytes(b"")
    reader = FileEndpoint(str(path), False, 0, writes=False)
    assert not reader.writers_left()
    writer = FileEndpoint(str(path), False, 0, writes=True)
    assert reader.writers_left()
    os.close(writer.writers_fd)
    assert not reader.writers_left()


ONE_RECORD_THEN_GONE = """\
duration: 20
channels:
  f: {kind: file}
workers:
  w:
    steps:
      - write: {to: f, data: "only one"}
  r:
    steps:
      - read: {from: f}
      - read: {from: f}
"""


def test_a_read_after_the_last_writer_ended_returns_empty(scenario_file,
                                                          nothing_left_behind) -> None:
    """The second read finds nothing new and the only writer has exited: it returns
    empty (end of file, as a pipe's read would) instead of waiting for ever, so the
    reader finishes its steps and the run ends by itself."""
    summary = run_scenario(scenario_file(ONE_RECORD_THEN_GONE), timeout=60)
    reader, channel = summary["workers"]["r"], summary["channels"]["f"]
    assert reader["exit"] == 0, reader
    assert reader["bytes_read"] == {"f": len("only one")}
    assert (channel["records_written"], channel["records_read"], channel["torn_reads"]) \
        == (1, 1, 0)
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_file_handoff_stepped_then_free_ends(scenario_file, nothing_left_behind) -> None:
    """Two steps of every worker by hand, then free running (the audit's `n n space`):
    reads that took a record whole leave the reader a read with nothing to come; it
    ends at the writer's end, and every worker exits 0."""
    schedule = " ".join(["plain_writer", "plain_reader", "locked_writer", "locked_reader"] * 2)
    text = (SCENARIOS / "file_handoff.yaml").read_text().replace("duration: 4\n",
                                                                  "duration: 20\n")
    summary = run_scenario(scenario_file(text), "--schedule", schedule, timeout=60)
    assert {n: w["exit"] for n, w in summary["workers"].items()} == {
        "plain_writer": 0, "plain_reader": 0, "locked_writer": 0, "locked_reader": 0}
    for name in ("plain", "locked"):
        ch = summary["channels"][name]
        assert ch["records_written"] == ch["records_read"] == 3, (name, ch)
    assert summary["schedule_error"] is None


def test_file_endpoint_never_follows_a_link(tmp_path) -> None:
    target = tmp_path / "outside"
    target.write_bytes(b"keep")
    os.symlink(target, tmp_path / "f")
    with pytest.raises(OSError):
        FileEndpoint(str(tmp_path / "f"), False, 0)
    assert target.read_bytes() == b"keep"


def test_a_file_channel_name_cannot_leave_the_run_directory(tmp_path) -> None:
    bad = tmp_path / "escape.yaml"
    bad.write_text('channels:\n  "../../etc/x": {kind: file}\n'
                   'workers:\n  a: {steps: [{write: {to: "../../etc/x", data: "x"}}]}\n')
    result = run_cli("validate", str(bad))
    assert result.returncode == 2
    assert "channels.../../etc/x: names use letters" in result.stderr
