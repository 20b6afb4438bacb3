"""`ipcviz export`: recordings of real runs (tests/recordings/) as Chrome Trace Event JSON.
Every recording exports to a valid trace (tests/trace_format.py), and each trace says
what its recording says: signal arrows as many as the signals the events say were sent
and the counters say were received, bytes and messages as many as were read, a counter's
last value the last frame's. A bad recording or a planted output name: one line, exit 2.
Nothing here starts a process."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from ipcviz.telemetry.recording_file import read_recording
from ipcviz.telemetry.trace_events import chrome_trace

from .conftest import ROOT, run_cli
from .test_bad_recordings import CORPUS, EXPECTED
from .trace_format import trace_problems

RECORDINGS = ROOT / "tests" / "recordings"


def frames(name: str) -> list[dict]:
    """The recording's frames as plain JSON, read without ipcviz."""
    return [json.loads(line) for line in (RECORDINGS / name).read_text().splitlines()
            if line.strip()]


def export(name: str, tmp_path: Path) -> dict:
    """`ipcviz export` of a recording, for real; the trace it wrote."""
    out = tmp_path / f"{name}.json"
    result = run_cli("export", str(RECORDINGS / name), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("exported "), result.stderr
    return json.loads(out.read_text())


def flows(trace: dict, kind: str) -> list[tuple[str, str, str, int]]:
    """(what, from, to, count) of each arrow of `kind` ("signal", "bytes", "message"),
    read from the slice each arrow starts in."""
    starts = {(e["tid"], e["ts"]) for e in trace["traceEvents"] if e["ph"] == "s"
              and e["cat"].split(",")[0] == kind}
    out = []
    for e in trace["traceEvents"]:
        if e["ph"] == "X" and e["cat"] == "flow" and (e["tid"], e["ts"] + 0.5) in starts:
            args = e["args"]
            unit = {"signal": "signals", "bytes": "bytes", "message": "messages"}[kind]
            what = e["name"].removeprefix("send ")
            out.append((what, args["from"], args["to"], args[unit]))
    assert len(out) == len(starts)
    return out


def counter_values(trace: dict, name: str) -> list[float]:
    return [next(iter(e["args"].values())) for e in trace["traceEvents"]
            if e["ph"] == "C" and e["name"] == name]


def track_ids(trace: dict) -> dict[str, int]:
    return {e["args"]["name"]: e["tid"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name"}


@pytest.mark.parametrize("name", sorted(p.name for p in RECORDINGS.glob("*.jsonl")))
def test_every_recording_exports_to_a_valid_trace(name: str) -> None:
    trace = chrome_trace(read_recording(str(RECORDINGS / name)))
    assert trace_problems(json.loads(json.dumps(trace))) == []
    workers = {w["name"] for f in frames(name) for w in f["workers"]}
    assert workers <= set(track_ids(trace))  # a track per worker


def test_the_checker_catches_what_it_checks() -> None:
    """The checker fails a trace broken in each way it checks (it is no test that cannot
    fail)."""
    meta = {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "a"}}

    def ev(ph: str, ts: float, **more) -> dict:
        return {"ph": ph, "name": "x", "pid": 1, "tid": 1, "ts": ts, **more}

    broken = {
        "unended B": [ev("B", 1)],
        "E before B": [ev("E", 1), ev("B", 2)],
        "crossing slices": [ev("X", 0, dur=10), ev("X", 5, dur=10)],
        "flow with no finish": [ev("X", 0, dur=2), ev("s", 1, id=1)],
        "flow backwards": [ev("X", 0, dur=10), ev("s", 5, id=1), ev("f", 2, id=1, bp="e")],
        "flow outside a slice": [ev("X", 0, dur=2), ev("s", 1, id=1),
                                 ev("f", 5, id=1, bp="e")],
        "text counter": [ev("C", 1, args={"bytes": "12"})],
    }
    for why, events in broken.items():
        assert trace_problems({"traceEvents": [meta, *events]}), why
    assert trace_problems({"traceEvents": [ev("X", 0, dur=1)]}) == [
        "track (1, 1) has no thread_name"]
    assert trace_problems({"traceEvents": [meta, ev("B", 0), ev("X", 1, dur=1), ev("E", 3),
                                           ev("s", 1.5, id=7),
                                           ev("f", 2, id=7, bp="e")]}) == []


def test_signal_arrows_match_what_was_sent_and_received(tmp_path: Path) -> None:
    """signals_handlers: the runtime's timeline sends 29 signals to three workers; each
    arrow pairs a send with a receipt, and their counts add up to the sends the events
    name, which are the receipts the counters and the kills say."""
    recorded = frames("signals_handlers.jsonl")
    sent: Counter[tuple[str, str]] = Counter()
    for frame in recorded:
        for e in frame["events"]:
            match = re.fullmatch(r"timeline: (SIG\w+)(?: ×(\d+))? sent", e["text"])
            if match:
                sent[(e["worker"], match[1])] += int(match[2] or 1)
    received: Counter[tuple[str, str]] = Counter()
    for w in recorded[-1]["workers"]:
        for sig, n in w["signals_received"].items():
            received[(w["name"], sig)] += n
    for frame in recorded:
        for e in frame["events"]:
            if e["text"].startswith("killed by "):
                received[(e["worker"], e["text"].removeprefix("killed by "))] += 1
    assert sent == received and sum(sent.values()) == 29

    trace = export("signals_handlers.jsonl", tmp_path)
    arrows: Counter[tuple[str, str]] = Counter()
    for what, sender, receiver, count in flows(trace, "signal"):
        assert sender == "ipcviz runtime"
        arrows[(receiver, what)] += count
    assert arrows == sent
    assert not [e for e in trace["traceEvents"] if e["ph"] == "i" and "sent" in e["cat"]]


def test_a_signal_from_a_worker_is_one_arrow_at_its_own_times(tmp_path: Path) -> None:
    """shm_signal_notify: the writer's one SIGUSR1 leaves at its "sent" event's time and
    arrives at the reader's "woke" event's time."""
    trace = export("shm_signal_notify.jsonl", tmp_path)
    assert flows(trace, "signal") == [("SIGUSR1", "writer", "reader", 1)]
    tids = track_ids(trace)
    (start,) = [e for e in trace["traceEvents"] if e["ph"] == "s"]
    (finish,) = [e for e in trace["traceEvents"] if e["ph"] == "f"]
    assert (start["tid"], start["ts"]) == (tids["writer"], 1_002_000.5)
    assert (finish["tid"], finish["ts"]) == (tids["reader"], 1_005_000.5)


def test_merged_signals_are_marked_not_drawn(tmp_path: Path) -> None:
    """signals_coalescing: 50 standard SIGUSR1 sent while blocked arrive as one; 50
    real-time ones arrive as 50. One arrow each side, 49 sends marked unreceived."""
    trace = export("signals_coalescing.jsonl", tmp_path)
    arrows = Counter()
    for what, _, receiver, count in flows(trace, "signal"):
        arrows[(receiver, what)] += count
    last = {w["name"]: w for w in frames("signals_coalescing.jsonl")[-1]["workers"]}
    assert arrows[("standard", "SIGUSR1")] == last["standard"]["signals_received"]["SIGUSR1"]
    assert arrows[("realtime", "SIGRTMIN+1")] == 50
    marks = [e["name"] for e in trace["traceEvents"] if e["ph"] == "i"]
    assert "SIGUSR1 ×49 sent, not received" in marks


@pytest.mark.parametrize("name, pipe", [("pipe_oneway.jsonl", "p"),
                                        ("pipe_backpressure.jsonl", "p"),
                                        ("pipe_backpressure.jsonl", "q")])
def test_pipe_bytes_and_buffer_counter_match_the_frames(name: str, pipe: str,
                                                       tmp_path: Path) -> None:
    trace = export(name, tmp_path)
    recorded = frames(name)
    buffered = [next(c for c in f["channels"] if c["name"] == pipe)["data"]["buffered"]
                for f in recorded]
    values = counter_values(trace, f"pipe {pipe}: buffered bytes")
    assert values[-1] == buffered[-1] and max(values) == max(buffered)
    assert len(values) == 1 + sum(a != b for a, b in zip(buffered, buffered[1:]))
    read = sum(w["bytes_read"].get(pipe, 0) for w in recorded[-1]["workers"])
    assert sum(n for what, *_, n in flows(trace, "bytes") if what == pipe) == read


def test_queue_messages_go_from_each_sender(tmp_path: Path) -> None:
    """mqueue_bounded: 5 messages from the producer and 1 from urgent, all received."""
    trace = export("mqueue_bounded.jsonl", tmp_path)
    arrows = Counter()
    for _, sender, receiver, count in flows(trace, "message"):
        arrows[(sender, receiver)] += count
    assert arrows == {("producer", "consumer"): 5, ("urgent", "consumer"): 1}
    depth = [next(c for c in f["channels"] if c["name"] == "jobs")["data"]["depth"]
             for f in frames("mqueue_bounded.jsonl")]
    values = counter_values(trace, "mqueue jobs: depth")
    assert values[-1] == depth[-1] and max(values) == max(depth) == 5


def test_socket_bytes_go_both_ways_through_the_server(tmp_path: Path) -> None:
    trace = export("socket_echo.jsonl", tmp_path)
    arrows = Counter()
    for what, sender, receiver, count in flows(trace, "bytes"):
        arrows[(what, sender, receiver)] += count
    assert arrows == {("tcp", "client.0", "tcp_server"): 40,
                      ("tcp", "tcp_server", "client.0"): 40,
                      ("tcp", "client.1", "tcp_server"): 40,
                      ("tcp", "tcp_server", "client.1"): 40,
                      ("local", "local_client", "unix_server"): 50,
                      ("local", "unix_server", "local_client"): 50}


def test_states_lost_updates_and_acquires(tmp_path: Path) -> None:
    """deadlock: b is blocked acquiring lock_a from the frame it first blocked to the
    last; both locks' acquires are marked; race_lock_off: lost updates end at the frame's."""
    trace = export("deadlock.jsonl", tmp_path)
    recorded = frames("deadlock.jsonl")
    first = next(f["elapsed"] for f in recorded
                 if next(w for w in f["workers"] if w["name"] == "b")["state"] == "blocked")
    b = track_ids(trace)["b"]
    (blocked,) = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["tid"] == b
                  and e["name"] == "blocked: acquire lock_a"]
    assert blocked["ts"] == round(first * 1e6)
    assert blocked["ts"] + blocked["dur"] == round(recorded[-1]["elapsed"] * 1e6)
    marks = {e["name"] for e in trace["traceEvents"] if e["ph"] == "i"}
    assert {"acquired lock_a", "acquired lock_b"} <= marks

    trace = export("race_lock_off.jsonl", tmp_path)
    lost = next(c for c in frames("race_lock_off.jsonl")[-1]["channels"]
                if c["name"] == "counter")["data"]["lost_updates"]
    assert counter_values(trace, "shared_array counter: lost updates")[-1] == lost == 186641


def test_a_bad_recording_is_one_line_and_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"scenario": "x", "elapsed": "soon", "running": true}\n')
    out = tmp_path / "out.json"
    result = run_cli("export", str(bad), "-o", str(out))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"{bad}:1: elapsed: should be a number\n"
    assert not out.exists()


def test_a_planted_output_name_is_refused(tmp_path: Path) -> None:
    """A link, a FIFO and another user's file at the output name: each refused in one
    line, the file behind it untouched, no wait on the FIFO."""
    victim = tmp_path / "victim"
    victim.write_text("mine\n")
    link = tmp_path / "link.json"
    link.symlink_to(victim)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    theirs = tmp_path / "theirs.json"
    theirs.write_text("theirs\n")
    planted = [(link, "is a symbolic link"), (fifo, "is not a regular file")]
    if os.getuid() == 0:  # only root can give a file to another user
        os.chown(theirs, 65534, 65534)
        planted.append((theirs, "belongs to another user"))
    recording = str(RECORDINGS / "pipe_oneway.jsonl")
    for name, why in planted:
        result = run_cli("export", recording, "-o", str(name), timeout=30)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith(f"{name}: {why}")
    assert victim.read_text() == "mine\n" and theirs.read_text() == "theirs\n"


#: hostile recordings whose only bad values are in fields a trace is not made of (a shared
#: array's contents, kernel masks, triggers, and a program's facts: any file whose
#: problem is in `.program`): export leaves those fields out unread (telemetry/moments.py)
#: and writes the trace of the rest
EXPORTED_ANYWAY = {
    "deep_but_decodable.jsonl", "lost_note_unknown.jsonl", "mask_unknown_signal.jsonl",
    "merged_unknown_signal.jsonl", "mmap_not_hex.jsonl", "shape_huge.jsonl",
    "shape_values_disagree.jsonl", "triggers_flat.jsonl", "unknown_signal.jsonl",
}


def exported_anyway(name: str) -> bool:
    return name in EXPORTED_ANYWAY or "].program." in EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_recording_is_refused_as_replay_refuses_it(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In the replay's very words (tests/test_bad_recordings.py), one line, exit 2, no
    file; or, for a problem only in a field no trace reads, a valid trace."""
    from ipcviz.cli import main

    out = tmp_path / "out.json"
    status = main(["export", str(CORPUS / name), "-o", str(out)])
    err = capsys.readouterr().err
    if exported_anyway(name):
        assert status == 0, err
        assert trace_problems(json.loads(out.read_text())) == []
    else:
        assert (status, err) == (2, f"{CORPUS / name}{EXPECTED[name]}\n")
        assert not out.exists()


def test_a_bad_count_the_trace_reads_is_refused(tmp_path: Path) -> None:
    """A worker's bytes as text, a bool where a count goes, a state that is a number, a
    wait without its object: refused in the replay's words."""
    good = json.loads((RECORDINGS / "pipe_oneway.jsonl").read_text().splitlines()[5])
    for field, value in (("bytes_written", {"p": "lots"}), ("messages_received", {"q": True}),
                         ("state", 3), ("paused", 0), ("waiting", ["read"])):
        frame = json.loads(json.dumps(good))
        frame["workers"][1][field] = value
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps(good) + "\n" + json.dumps(frame) + "\n")
        result = run_cli("export", str(bad), "-o", str(tmp_path / "out.json"))
        assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
        assert result.stderr.startswith(f"{bad}:2: workers[1].{field}")
        assert ": should be " in result.stderr
        assert not (tmp_path / "out.json").exists()


def test_the_recording_itself_is_never_the_output(tmp_path: Path) -> None:
    recording = tmp_path / "run.jsonl"
    recording.write_bytes((RECORDINGS / "pipe_oneway.jsonl").read_bytes())
    result = run_cli("export", str(recording), "-o", str(recording))
    assert (result.returncode, result.stderr) == (
        2, f"{recording}: is the recording itself; name another file for the trace\n")
    assert recording.read_bytes() == (RECORDINGS / "pipe_oneway.jsonl").read_bytes()
