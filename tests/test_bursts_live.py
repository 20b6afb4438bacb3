"""One-step loops run in tight bursts (issue 8); their counts stay exact.

Pass counts that are not multiples of the burst size check that a counted loop stops at
its count; `loop: true` runs ended by the run's duration check that every burst stored its
count before its worker could wait or be paused.
"""

from __future__ import annotations

import pytest

from ipcviz.worker.bursts import BURST

from .conftest import run_scenario

PASSES = 3 * BURST + 5


def write(tmp_path, text: str):
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_counted_pipe_loops_are_exact(tmp_path, nothing_left_behind) -> None:
    summary = run_scenario(write(tmp_path, f"""
duration: 10
channels: {{p: {{kind: pipe}}}}
workers:
  w: {{loop: {PASSES}, steps: [{{write: {{to: p, size: 64}}}}]}}
  r: {{loop: {PASSES}, steps: [{{read: {{from: p, bytes: 64}}}}]}}
"""))
    p = summary["channels"]["p"]
    assert p["bytes_written"] == p["bytes_read"] == PASSES * 64
    assert p["buffered"] == 0
    assert summary["workers"]["w"]["exit"] == 0 and summary["workers"]["r"]["exit"] == 0


def test_counted_queue_loops_through_a_full_queue_are_exact(tmp_path, nothing_left_behind) -> None:
    # capacity 4: the sender fills the queue again and again and waits in the kernel
    summary = run_scenario(write(tmp_path, f"""
duration: 10
channels: {{q: {{kind: mqueue, capacity: 4, message_size: 24}}}}
workers:
  s: {{steps: [{{repeat: {{times: {PASSES}, steps: [{{send: {{to: q, size: 16}}}}]}}}}]}}
  r: {{loop: {PASSES}, steps: [{{receive: {{from: q}}}}]}}
"""))
    q = summary["channels"]["q"]
    assert q["messages_sent"] == q["messages_received"] == PASSES
    assert q["bytes_sent"] == PASSES * 16 and q["depth"] == 0
    assert summary["workers"]["s"]["messages_sent"] == {"q": PASSES}
    assert summary["workers"]["r"]["messages_received"] == {"q": PASSES}


def test_single_worker_increments_are_exact(tmp_path, nothing_left_behind) -> None:
    times = 1000 * BURST + 7
    summary = run_scenario(write(tmp_path, f"""
duration: 20
channels: {{a: {{kind: shared_array, shape: [2]}}}}
workers:
  w: {{steps: [{{increment: {{array: a, index: 1, times: {times}}}}}]}}
"""))
    assert summary["workers"]["w"]["increments"] == {"a": times}
    assert summary["channels"]["a"]["sum"] == times


@pytest.mark.parametrize("kind", ["pipe", "mqueue"])
def test_endless_loops_stopped_by_the_clock_balance_exactly(tmp_path, kind,
                                                           nothing_left_behind) -> None:
    """Stopped mid-stream: what was sent is exactly what was received plus what is queued."""
    if kind == "pipe":
        text = """
channels: {c: {kind: pipe}}
workers:
  w: {count: 2, loop: true, steps: [{write: {to: c, size: 64}}]}
  r: {loop: true, steps: [{read: {from: c, bytes: 64}}]}
"""
    else:
        text = """
channels: {c: {kind: mqueue, capacity: 10, message_size: 72}}
workers:
  w: {count: 2, loop: true, steps: [{send: {to: c, size: 64}}]}
  r: {loop: true, steps: [{receive: {from: c}}]}
"""
    summary = run_scenario(write(tmp_path, "duration: 1\n" + text))
    c = summary["channels"]["c"]
    if kind == "pipe":
        assert c["bytes_written"] > 100 * 64
        assert c["bytes_written"] == c["bytes_read"] + c["buffered"]
    else:
        assert c["messages_sent"] > 100
        assert c["messages_sent"] == c["messages_received"] + c["depth"]


def test_writer_killed_by_sigpipe_mid_burst_leaves_exact_counts(tmp_path,
                                                              nothing_left_behind) -> None:
    """The reader leaves while the writer is in a tight loop of small writes: the kernel's
    SIGPIPE ends the writer, and every byte it wrote is counted. (The reader ends by
    itself: a reader SIGKILLed mid-burst would take its own reads uncounted.)"""
    summary = run_scenario(write(tmp_path, """
duration: 10
channels: {p: {kind: pipe, capacity: 1048576}}
workers:
  w: {loop: true, steps: [{write: {to: p, size: 64}}]}
  r: {loop: 3000, steps: [{read: {from: p, bytes: 65536}}]}
"""))  # the reader takes all there is and the pipe is big: when the runtime closes the
    # last read end, the writer is mid-burst, not waiting on a full pipe
    assert summary["workers"]["r"]["exit"] == 0
    assert summary["workers"]["w"]["exit"] == "SIGPIPE"
    p = summary["channels"]["p"]
    assert p["bytes_read"] > 3000 * 64
    assert p["bytes_written"] == p["bytes_read"] + p["buffered"]


def test_the_momentary_sigpipe_block_is_not_shown(tmp_path, nothing_left_behind) -> None:
    from .live import LiveRun

    path = write(tmp_path, """
duration: 30
channels: {p: {kind: pipe}, q: {kind: pipe}}
workers:
  w: {loop: true, steps: [{write: {to: p, size: 64}}]}
  r: {loop: true, steps: [{read: {from: p, bytes: 64}}]}
  own: {block: [SIGPIPE], loop: true, steps: [{write: {to: q, size: 64}}]}
  r2: {loop: true, steps: [{read: {from: q, bytes: 64}}]}
""")
    with LiveRun(str(path)) as run:
        for _ in range(10):  # ten frames while `w` spends nearly all its time in bursts
            # past start-up (a worker is forked with every signal blocked until its handlers
            # are in place: it has written, so that is over)
            snap = run.wait_for(lambda s: s.worker("w").state in ("running", "sleeping")
                                and s.worker("w").bytes_written.get("p", 0) > 0
                                and s.worker("own").bytes_written.get("q", 0) > 0)
            assert "SIGPIPE" not in snap.worker("w").masks.get("blocked", [])
            assert "SIGPIPE" in snap.worker("own").masks.get("blocked", [])  # its own: shown
            run.wait_for(lambda s, seq=snap.seq: s.seq > seq)


def test_non_blocking_reads_in_a_tight_loop_never_wait(tmp_path, nothing_left_behind) -> None:
    """`block: false` on an empty pipe is a pass that read nothing, burst or not."""
    summary = run_scenario(write(tmp_path, """
duration: 5
channels: {p: {kind: pipe}}
workers:
  w: {steps: [{sleep: 1}, {write: {to: p, size: 64}}]}
  r: {loop: 1000, steps: [{read: {from: p, bytes: 64, block: false}}]}
"""))
    assert summary["workers"]["r"]["exit"] == 0
    assert summary["channels"]["p"]["bytes_read"] == 0  # done long before the write
    assert summary["workers"]["w"]["exit"] == "SIGPIPE"  # its reader had long gone
