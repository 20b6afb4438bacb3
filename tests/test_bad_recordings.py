"""`ipcviz replay` of a hostile recording: one line naming the file (and its line), exit 2,
never a traceback, never a hang, never a blank replay. The corpus is tests/bad_recordings/;
the table below says the exact line each file gets. Special files (a FIFO, /dev/zero, a
directory, a huge file) are made here. Good recordings, old and new, still read whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ipcviz.telemetry import recording_file
from ipcviz.telemetry.recording_file import MAX_RECORDING_BYTES, read_recording
from ipcviz.telemetry.wire_types import CHANNEL_DATA, PROGRAM_FACTS

from .conftest import ROOT, SCENARIOS, run_cli

CORPUS = ROOT / "tests" / "bad_recordings"
RECORDINGS = ROOT / "tests" / "recordings"

#: file -> the one line `replay` prints after "tests/bad_recordings/FILE"
EXPECTED = {
    "empty.jsonl": ": has no frames (an empty file is not a recording)",
    "blank_lines.jsonl": ": has no frames (an empty file is not a recording)",
    "not_json.jsonl": ":1: not a JSON line (Expecting value); not a recording",
    "cut_line.jsonl": ":3: not a JSON line (Unterminated string starting at); not a recording",
    "list_frame.jsonl": ":1: not a frame (a JSON object with scenario, elapsed and running)",
    "number_frame.jsonl": ":2: not a frame (a JSON object with scenario, elapsed and running)",
    "not_utf8.jsonl": ":1: not UTF-8 text; not a recording",
    "deep_nesting.jsonl": ":1: nested too deeply; not a frame",
    "deep_but_decodable.jsonl": ":1: nested too deeply; not a frame",
    "no_scenario.jsonl": ":1: the frame: has no 'scenario'",
    "elapsed_text.jsonl": ":1: elapsed: should be a number",
    "running_number.jsonl": ":1: running: should be true or false",
    "nan_elapsed.jsonl": ":1: not a JSON line (NaN is not a number JSON allows); not a recording",
    "huge_elapsed.jsonl": ":1: not a JSON line (1e999 is too big a number); not a recording",
    "negative_elapsed.jsonl": ":1: elapsed: -3 is not a time in [0, 604800] seconds",
    "workers_object.jsonl": ":1: workers: should be a list",
    "worker_no_name.jsonl": ":1: workers[0]: has no 'name'",
    "count_text.jsonl": ":1: workers[0].signals_received: should be signal names with counts",
    "unknown_signal.jsonl": ":1: workers[0].signals_sent_to: should be signal names with "
                            "counts",
    "mask_unknown_signal.jsonl": ":1: workers[0].masks: should be lists of signal names",
    "merged_unknown_signal.jsonl": ":1: workers[0].signals_merged: should be signal names "
                                   "with counts",
    "waiting_short.jsonl": ":1: workers[0].waiting: should be a list of 2",
    "writer_short.jsonl": ":1: channels[0].writers[0]: should be text or a list of 2",
    "data_null.jsonl": ":1: channels[0].data: should be an object",
    "holders_number.jsonl": ":1: channels[0].data.holders[0]: should be text or a list of 2",
    "event_time_text.jsonl": ":1: events[0].t: should be a number",
    "event_run_time_text.jsonl": ":1: events[0].run_time: should be a number",
    "triggers_flat.jsonl": ":1: triggers[0]: should be a list",
    "unknown_kind.jsonl": ":1: channels[0].kind: 'wormhole' is no channel kind this version "
                          "shows",
    "pipe_count_text.jsonl": ":2: channels[0].data.buffered: should be a whole number",
    "mmap_not_hex.jsonl": ":1: channels[0].data.preview: should be hexadecimal text",
    "shape_huge.jsonl": ":1: channels[0].data.shape: should be one or two positive sizes "
                        "(at most 1,099,511,627,776 elements)",
    "shape_values_disagree.jsonl": ":1: channels[0].data.values: are not 6 numbers of "
                                   "shape [2, 3]",
    "lost_note_unknown.jsonl": ":1: channels[0].data.lost_updates_note: should be "
                               "'wraparound' or 'rounding' or 'set_used'",
    "program_argv_number.jsonl": ":1: workers[0].program.argv: should be a list",
    "program_process_short.jsonl": ":1: workers[0].program.observed.processes[0]: should be "
                                   "a process ([pid, ppid, name, state, ...])",
    "escape_in_key.jsonl": ":1: workers[0].bytes_written.\\x1b[31mp: should be a whole "
                           "number",
    "program_diagnosis_number.jsonl": ":1: workers[0].program.observed.diagnoses[0]: "
                                      "should be an object",
    "program_graph_fd_text.jsonl": ":1: workers[0].program.graph.objects[0].ends[0].fd: "
                                   "should be a whole number",
}


def replay(path: str | Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`ipcviz replay PATH` in a subprocess (a file that got into the app would hang the
    test: the timeout makes that a failure, not a stuck run)."""
    return subprocess.run([sys.executable, "-m", "ipcviz", "replay", str(path), *extra],
                          capture_output=True, text=True, timeout=30, cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def test_the_corpus_and_the_table_agree() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_recording_is_refused_in_one_line(name: str) -> None:
    result = replay(Path("tests") / "bad_recordings" / name)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr[-2000:]
    assert result.stderr == f"tests/bad_recordings/{name}{EXPECTED[name]}\n"


def test_special_files_are_refused_without_waiting(tmp_path: Path) -> None:
    """A FIFO nobody writes (its open used to wait forever), /dev/zero (an endless read),
    a directory, a sparse file over the size limit, a missing file: one line each."""
    fifo = tmp_path / "run.jsonl"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.jsonl"
    with open(huge, "wb") as fh:
        fh.truncate(MAX_RECORDING_BYTES + 1)  # sparse: no disk used
    cases = {
        fifo: "is a FIFO (named pipe), not a recording",
        Path("/dev/zero"): "is a device, not a recording",
        tmp_path: "is a directory, not a recording",
        huge: f"is {MAX_RECORDING_BYTES + 1:,} bytes; a recording is limited to "
              f"{MAX_RECORDING_BYTES:,} bytes",
        tmp_path / "missing.jsonl": "cannot read: No such file or directory",
    }
    try:
        for path, words in cases.items():
            result = replay(path)
            assert (result.returncode, result.stderr) == (2, f"{path}: {words}\n"), path
    finally:
        fifo.unlink()


def test_a_link_to_a_fifo_is_refused_too(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "run.jsonl"
    link.symlink_to(fifo)
    try:
        result = replay(link)
        assert (result.returncode, result.stderr) == (
            2, f"{link}: is a FIFO (named pipe), not a recording\n")
    finally:
        fifo.unlink()


def test_too_many_frames_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames are counted: millions of tiny ones within the size limit are refused."""
    monkeypatch.setattr(recording_file, "MAX_FRAMES", 3)
    frame = b'{"scenario":"x","elapsed":0,"running":true}\n'
    assert len(recording_file.parse_recording(frame * 3, "r.jsonl")) == 3
    with pytest.raises(recording_file.RecordingError) as refused:
        recording_file.parse_recording(frame * 4, "r.jsonl")
    assert str(refused.value) == "r.jsonl:4: more than 3 frames; a recording is limited to that"


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "inf"])
def test_a_playback_speed_that_cannot_play_is_refused(speed: str) -> None:
    result = replay(RECORDINGS / "pipe_oneway.jsonl", "--speed", speed)
    assert (result.returncode, result.stderr) == (
        2, f"--speed: {float(speed)} is not a playback speed in (0, 1000]\n")


def _kept_everything(path: Path) -> None:
    """Every frame of `path` reads back, and no channel or program key it holds is left
    out (the types in telemetry/wire_types.py name everything the runtime records)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    frames = read_recording(str(path))
    assert len(frames) == len(lines)
    for raw, frame in zip(lines, frames):
        assert frame.elapsed == raw["elapsed"]
        for channel, view in zip(raw.get("channels", []), frame.channels):
            unnamed = set(channel.get("data", {})) - set(CHANNEL_DATA[channel["kind"]])
            assert not unnamed, (f"{channel['kind']} data keys {unnamed}: name their types "
                                 "in ipcviz/telemetry/wire_types.py, or replays drop them")
            assert set(view.data) == set(channel.get("data", {})), (path, channel["kind"])
        for worker in raw.get("workers", []):
            # a program's peak and leaks go to the summary: no panel shows them
            extra = set(worker.get("program") or {}) - set(PROGRAM_FACTS)
            assert extra <= {"peak", "leaks"}, (path, extra)


@pytest.mark.parametrize("path", sorted(RECORDINGS.glob("*.jsonl")), ids=lambda p: p.stem)
def test_the_recordings_made_before_still_read_whole(path: Path) -> None:
    _kept_everything(path)


def test_a_fresh_recording_reads_whole(tmp_path: Path, nothing_left_behind) -> None:
    """speed_race holds five kinds of channel (pipe, socket, queue, shared array, file
    mapping): what this version records, this version replays, key for key."""
    out = tmp_path / "run.jsonl"
    result = run_cli("record", str(SCENARIOS / "speed_race.yaml"), "-o", str(out),
                     "--duration", "1.5")
    assert result.returncode == 0, result.stderr
    _kept_everything(out)
