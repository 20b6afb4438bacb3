"""The cost of a message in system calls (`count_syscalls: true`,
runtime/syscall_views.py), run for real: the kernel counts exactly one write and one
read that moved each pipe message, one send and one receive per queue message, and no
call that copies a message through shared memory; where the kernel will not count, the
run still ends well and says why instead of showing zeros."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rich.console import Console

from ipcviz.host.syscall_count import unavailable
from ipcviz.runtime import syscall_views
from ipcviz.runtime.headless import run_headless
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry.snapshot import ChannelView
from ipcviz.tui.widgets.cost import cost_lines

from .conftest import run_cli, run_scenario
from .test_time_control import in_process, poll_until  # noqa: F401 (a fixture)

N = 1000

PAIRS = f"""\
version: 1
name: three pairs
duration: 30
count_syscalls: true
compare: [pipe, queue, shm]
channels:
  pipe:  {{kind: pipe}}
  queue: {{kind: mqueue, capacity: 4, message_size: 72}}
  shm:   {{kind: mmap, size: 4096}}
  empty: {{kind: semaphore, value: 1}}
  full:  {{kind: semaphore, value: 0}}
workers:
  writer:   {{loop: {N}, steps: [{{write: {{to: pipe, size: 64}}}}]}}
  reader:   {{loop: {N}, steps: [{{read: {{from: pipe, bytes: 64}}}}]}}
  sender:   {{loop: {N}, steps: [{{send: {{to: queue, size: 64}}}}]}}
  receiver: {{loop: {N}, steps: [{{receive: {{from: queue}}}}]}}
  storer:
    loop: {N}
    steps: [{{acquire: empty}}, {{write: {{to: shm, size: 64}}}}, {{release: full}}]
  loader:
    loop: {N}
    steps: [{{acquire: full}}, {{read: {{from: shm, bytes: 64}}}}, {{release: empty}}]
"""

needs_counting = pytest.mark.skipif(unavailable() is not None,
                                    reason=unavailable() or "system calls are counted")


@needs_counting
def test_the_kernel_counts_two_copy_calls_per_message(tmp_path: Path,
                                                       nothing_left_behind) -> None:
    path = tmp_path / "pairs.yaml"
    path.write_text(PAIRS)
    channels = run_scenario(path)["channels"]
    for name in ("pipe", "queue"):
        entry = channels[name]
        assert entry["syscalls_counted"] is True
        assert entry["messages"] == N
        assert entry["copy_calls"] == 2 * N  # each write and read, send and receive
        assert entry["copy_calls_per_message"] == 2.0
        assert entry["syscalls"] >= entry["copy_calls"]  # (waiting adds; never removes)
        assert entry["cpu_us_per_message"] > 0
    shm = channels["shm"]
    assert (shm["messages"], shm["copy_calls"]) == (N, 0)
    assert shm["syscalls"] > 0  # its workers' own start and end at least
    assert "syscalls_counted" not in channels["empty"]


def test_without_the_kernel_count_the_run_says_why(monkeypatch: pytest.MonkeyPatch,
                                                    in_process, nothing_left_behind) -> None:
    monkeypatch.setattr(syscall_views, "unavailable", lambda: "no counting here (test)")
    scenario = load_text(PAIRS.replace(f"loop: {N}", "loop: 10").encode(), "pairs.yaml")
    result = run_headless(scenario)
    pipe = result.summary["channels"]["pipe"]
    assert pipe["syscalls_counted"] is False
    assert pipe["syscalls_unavailable"] == "no counting here (test)"
    assert "copy_calls" not in pipe and "syscalls" not in pipe
    assert pipe["moved"] == 640  # the run itself went on
    lines = cost_lines([ChannelView.of("pipe", "pipe", pipe)], 100, False, False, str)
    console = Console(width=100, record=True)
    for line in lines:
        console.print(line)
    assert console.export_text().split() == ["system", "calls", "not", "counted:", "no",
                                             "counting", "here", "(test)"]


#: a pipe pair of 100 messages
PAIR = """\
version: 1
name: one pair
duration: 30
count_syscalls: true
compare: [pipe]
channels:
  pipe: {kind: pipe}
workers:
  writer: {loop: 100, steps: [{write: {to: pipe, size: 64}}]}
  reader: {loop: 100, steps: [{read: {from: pipe, bytes: 64}}]}
"""
@needs_counting
def test_a_held_start_counts_from_its_going_on(in_process, nothing_left_behind) -> None:
    """The wait before space is not counted: the calls the two workers made while held
    (their looks at the control cell, many in two seconds) are not in the final count,
    which is the 200 copy calls and, at most, an EAGAIN and a poll per message and the
    workers' own end."""
    runtime = Runtime(load_text(PAIR.encode(), "pair.yaml"), held=True)
    sampler = Sampler(runtime)
    try:
        runtime.start()
        sched = runtime.scheduler
        poll_until(runtime, lambda: sched.settled() and all(sched.next_ops().values()))
        held_until = time.monotonic() + 2
        poll_until(runtime, lambda: time.monotonic() >= held_until)
        held = sampler.sample().channel("pipe").data
        sched.resume()
        poll_until(runtime, lambda: not any(p.alive for p in runtime.procs))
        pipe = sampler.sample(flush=True).channel("pipe").data
    finally:
        runtime.shutdown()
    # (a held worker may make a read of its own that returns bytes, seen as a copy call
    # now and then while it waits: not a message; the reset at space drops it)
    assert held["messages"] == 0
    # nothing has gone through yet: no figure per message (0 would say "free as shm")
    assert [held.get(k) for k in ("copy_calls_per_message", "syscalls_per_message",
                                  "cpu_us_per_message")] == [None, None, None]
    before = _text(cost_lines([ChannelView.of("pipe", "pipe", held)], 120, False, True,
                              lambda c: c.kind)).splitlines()[1].split()
    assert before[:5] == ["pipe", "pipe", "0", "-", "-"] and before[-1] == "-"
    assert (pipe["messages"], pipe["copy_calls"]) == (100, 200)
    assert pipe["copy_calls"] <= pipe["syscalls"] < pipe["copy_calls"] + held["syscalls"]


def test_copy_calls_stated_per_kind() -> None:
    """A pipe's and a queue's copy calls are two named calls, each counted as it moved
    something (a read of end-of-file, such as the start gate's, moves nothing)."""
    assert syscall_views.COPY_CALLS["pipe"] == (("write", 1), ("read", 1))
    assert syscall_views.COPY_CALLS["mqueue"] == (("mq_timedsend", 0),
                                                  ("mq_timedreceive", 0))
    assert "mmap" not in syscall_views.COPY_CALLS


@pytest.mark.parametrize(("text", "line"), [
    ("count_syscalls: true\n", "f.yaml:4:17: count_syscalls: counts the system calls of "
                               "compared channels: name them in `compare:`"),
    ("compare: [p]\ncount_syscalls: sometimes\n",
     "f.yaml:5:17: count_syscalls: Input should be a valid boolean (got 'sometimes')"),
])
def test_a_wrong_count_syscalls_is_one_line_with_its_place(tmp_path: Path, text: str,
                                                           line: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("version: 1\nname: x\nchannels: {p: {kind: pipe}}\n" + text
                    + "workers:\n  a: {steps: [{write: {to: p, size: 1}}]}\n")
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [line.replace("f.yaml", str(path))]
    assert "Traceback" not in result.stderr


def _text(lines: list) -> str:
    console = Console(width=120, record=True)
    for line in lines:
        console.print(line)
    return console.export_text()


def test_the_panel_shows_each_mechanisms_cost_cheapest_first() -> None:
    """What a student reads: per channel, messages, copy calls and all calls per message,
    CPU per message; cheapest CPU first."""
    def view(name: str, kind: str, copies: float, calls: float, cpu: float) -> ChannelView:
        return ChannelView.of(name, kind, {
            "syscalls_counted": True, "messages": 10000, "copy_calls_per_message": copies,
            "syscalls_per_message": calls, "cpu_us_per_message": cpu})
    text = _text(cost_lines([view("shm", "mmap", 0.0, 2.71, 14.6),
                             view("pipe", "pipe", 2.0, 2.04, 1.2)], 120, False, False,
                            lambda c: c.kind))
    rows = [line.split() for line in text.splitlines()]
    assert rows[1][:5] == ["pipe", "pipe", "10,000", "2", "2.04"]
    assert rows[2][:5] == ["shm", "mmap", "10,000", "0", "2.71"]
    assert "1.2 µs" in text.splitlines()[1] and "14.6 µs" in text.splitlines()[2]


def test_a_check_the_machine_cannot_measure_says_why(monkeypatch: pytest.MonkeyPatch,
                                                      in_process, nothing_left_behind) -> None:
    """Without the kernel's count, a check of a count fails saying why (not a bare
    missing value): a student without root reads that the machine could not count."""
    monkeypatch.setattr(syscall_views, "unavailable", lambda: "no counting here (test)")
    text = PAIRS.replace(f"loop: {N}", "loop: 10") + (
        "expect:\n  - {channel: pipe, copy_calls: 20}\n  - {channel: pipe, moved: 640}\n")
    result = run_headless(load_text(text.encode(), "pairs.yaml"))
    counted, moved = result.summary["expect"]
    assert counted == {"check": "pipe copy_calls == 20", "ok": False, "actual": None,
                       "unmeasured": "no counting here (test)"}
    assert moved == {"check": "pipe moved == 640", "ok": True, "actual": 640}
