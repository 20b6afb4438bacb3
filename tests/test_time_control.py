"""Time control on real processes: schedules ("you are the scheduler"), pause, step and
the next operation of a held worker. Exact counts, no timing asserted.

The 70 interleavings run in this process (the runtime and its workers for real, without
a new interpreter per run): about 3 s for all 70 on the development machine.
"""

from __future__ import annotations

import itertools
import random
import signal
import time
from collections.abc import Iterator

import pytest

from ipcviz.host.process import become_subreaper
from ipcviz.runtime.headless import run_headless
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry import table as T

from .conftest import SCENARIOS, run_cli, run_scenario
from .waiting import wait_until


def counters_text(workers: str, times: int = 2, lock: bool = False) -> bytes:
    """Workers named by the letters of `workers`, each incrementing one counter `times`."""
    lock_arg = ", lock: m" if lock else ""
    lines = ["duration: 5", "channels:", "  counter: {kind: shared_array, shape: [1]}",
             "  m: {kind: semaphore, value: 1}", "workers:"]
    lines += [f"  {w}: {{steps: [{{increment: {{array: counter, times: {times}{lock_arg}}}}}]}}"
              for w in workers]
    return ("\n".join(lines) + "\n").encode()


def model(schedule: list[str]) -> int:
    """The counter a pure load/store machine ends with: each worker alternates load
    (copy the shared value into its register) and store (register + 1 into it)."""
    shared, register, loaded = 0, {}, {}
    for name in schedule:
        if not loaded.get(name):
            register[name] = shared
            loaded[name] = True
        else:
            shared = register[name] + 1
            loaded[name] = False
    return shared


@pytest.fixture
def in_process() -> Iterator[None]:
    """Runtimes started in this (pytest's) process: its signal handlers and subreaper
    status are put back afterwards."""
    saved = {num: signal.getsignal(num) for num in (signal.SIGINT, signal.SIGTERM,
                                                      signal.SIGHUP, signal.SIGCHLD)}
    try:
        yield
    finally:
        become_subreaper(False)
        for num, handler in saved.items():
            signal.signal(num, handler)


def run_schedule(text: bytes, schedule: list[str]) -> dict:
    return run_headless(load_text(text, "schedule.yaml"), schedule=schedule).summary


def interleavings(ops: dict[str, int]) -> Iterator[list[str]]:
    """Every order of the workers' operations (each worker's own order kept)."""
    names = [n for n, k in ops.items() for _ in range(k)]
    seen = set()
    for order in itertools.permutations(names):
        if order not in seen:
            seen.add(order)
            yield list(order)


def check_against_model(summary: dict, schedule: list[str], increments: int) -> None:
    counter = summary["channels"]["counter"]
    expected = model(schedule)
    assert summary["schedule_error"] is None, (schedule, summary["schedule_error"])
    assert summary["schedule"] == schedule
    assert counter["increments"] == increments, schedule
    assert counter["values"] == [expected], schedule
    assert counter["lost_updates"] == increments - expected, schedule
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_every_interleaving_of_two_workers_matches_the_load_store_model(
        in_process, nothing_left_behind) -> None:
    orders = list(interleavings({"a": 4, "b": 4}))
    assert len(orders) == 70
    text = counters_text("ab")
    results = set()
    for schedule in orders:
        summary = run_schedule(text, schedule)
        check_against_model(summary, schedule, 4)
        results.add(summary["channels"]["counter"]["lost_updates"])
    assert results == {0, 1, 2}  # the model's whole range was really produced


def test_three_workers_sampled_interleavings_match_the_model(in_process,
                                                              nothing_left_behind) -> None:
    rng = random.Random(14)
    text = counters_text("abc")
    for _ in range(12):
        ops = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
        rng.shuffle(ops)
        check_against_model(run_schedule(text, ops), ops, 6)


def test_a_schedule_naming_an_exited_worker_is_an_error_with_its_index(
        in_process, nothing_left_behind) -> None:
    # a's 4 operations (2 increments), b's load, then a again: a has exited
    summary = run_schedule(counters_text("ab"), ["a", "a", "a", "a", "b", "a", "b"])
    assert summary["schedule_error"] == {"index": 5, "worker": "a", "reason": "it has exited"}
    assert summary["schedule"] == ["a", "a", "a", "a", "b"]
    assert summary["channels"]["counter"]["increments"] == 2


def test_acquire_really_blocks_and_naming_the_blocked_worker_is_an_error(
        in_process, nothing_left_behind) -> None:
    # a: acquire m, load; b: acquire m (blocks: a holds it); b again: cannot move
    summary = run_schedule(counters_text("ab", times=1, lock=True), ["a", "a", "b", "b"])
    assert summary["schedule_error"] == {"index": 3, "worker": "b",
                                         "reason": "it is blocked (acquire m)"}
    assert summary["workers"]["b"]["blocked_on"] == "acquire m"
    assert summary["channels"]["m"]["holder"] == "a"
    assert summary["channels"]["counter"]["increments"] == 0  # a loaded, never stored


def test_with_the_lock_the_waiter_goes_on_once_it_is_released(
        in_process, nothing_left_behind) -> None:
    # locked, an increment is acquire, load, store, release: b's acquire (entry 2) blocks
    # for real until a's release (entry 4), then b goes on: nothing is lost
    schedule = "a a b a a b b b a a a a b b b b".split()
    summary = run_schedule(counters_text("ab", times=2, lock=True), schedule)
    assert summary["schedule_error"] is None
    assert summary["schedule"] == schedule
    assert summary["channels"]["counter"]["values"] == [4]
    assert summary["channels"]["counter"]["lost_updates"] == 0
    assert summary["channels"]["m"]["value"] == 1


# ---------------------------------------------------------------- pause, step, next


PAUSE_TEXT = b"""
channels:
  p: {kind: pipe}
  q: {kind: mqueue, capacity: 8, message_size: 64}
  counter: {kind: shared_array, shape: [2]}
workers:
  writer: {loop: true, handlers: {SIGUSR1: count}, steps: [{write: {to: p, data: "12 bytes abc"}}]}
  reader: {loop: true, handlers: {SIGUSR1: count}, steps: [{read: {from: p, bytes: 64}}]}
  sender: {loop: true, handlers: {SIGUSR1: count}, steps: [{send: {to: q, data: "m"}}]}
  receiver: {loop: true, handlers: {SIGUSR1: count}, steps: [{receive: {from: q}}]}
  adder: {loop: true, handlers: {SIGUSR1: count}, steps: [{increment: {array: counter}}]}
  slow: {loop: true, handlers: {SIGUSR1: count},
         steps: [{increment: {array: counter, index: 1}}, {sleep: 0.01}]}
"""


def poll_until(runtime: Runtime, done, timeout: float = 10.0) -> None:
    """Run the runtime's loop (in this process) until `done()` holds."""
    def reached() -> bool:
        if done():
            return True
        runtime.poll(0.005)
        return False

    wait_until(reached, timeout, interval=0, message="the runtime to get there")


def channel_counters(runtime: Runtime):
    arr = runtime.table.array
    layout = runtime.table.layout
    return arr[:, layout.channel_base:layout.sent_to_base].copy()


def test_pause_holds_every_counter_and_signals_are_still_counted(
        in_process, nothing_left_behind) -> None:
    runtime = Runtime(load_text(PAUSE_TEXT, "pause.yaml"))
    try:
        runtime.start()
        array = runtime.channel_by_name["counter"].view.values
        poll_until(runtime, lambda: array[0] > 1000 and array[1] > 3)
        runtime.scheduler.pause()
        poll_until(runtime, runtime.scheduler.settled)
        clock = runtime.run_time
        before = channel_counters(runtime)
        values = array.copy()
        depth = runtime.channel_by_name["q"].mq.current_messages
        rows = {p.name: p.row for p in runtime.procs}
        cell = T.SIG_RECEIVED + signal.SIGUSR1
        signals_before = {n: int(runtime.table.array[r, cell]) for n, r in rows.items()}
        for name in rows:
            assert runtime.send_signal(name, signal.SIGUSR1, 1) == 1
        end = time.monotonic() + 2.0
        while time.monotonic() < end:  # two seconds of pause, the runtime polling as usual
            runtime.poll(0.05)
        assert (channel_counters(runtime) == before).all()  # pipes, queues, arrays: still
        assert (array == values).all()
        assert runtime.channel_by_name["q"].mq.current_messages == depth
        assert {n: int(runtime.table.array[r, cell]) - signals_before[n]
                for n, r in rows.items()} == {n: 1 for n in rows}
        assert runtime.run_time == clock  # the run clock stood still
        runtime.scheduler.resume()
        poll_until(runtime, lambda: array[0] > values[0] + 1000)
    finally:
        runtime.shutdown()


def test_step_by_hand_and_the_next_operation_in_words(in_process,
                                                       nothing_left_behind) -> None:
    text = counters_text("ab", times=1).replace(b"workers:", b"""\
  ask: {kind: pipe}
workers:
  w: {steps: [{write: {to: ask, data: "Who are you?"}}, {acquire: m}, {sleep: 0.25}]}
  r: {steps: [{read: {from: ask, bytes: 64}}]}""")
    runtime = Runtime(load_text(text, "step.yaml"))
    sched = runtime.scheduler
    try:
        sched.pause()  # before start: every worker holds at its first boundary
        runtime.start()
        poll_until(runtime, lambda: sched.settled() and all(sched.next_ops().values()))
        words = {name: op.detail for name, op in sched.next_ops().items()}
        assert words == {"a": "load counter[0]", "b": "load counter[0]",
                         "w": "write 12 B to ask", "r": "read up to 64 B from ask"}
        array = runtime.channel_by_name["counter"].view.values
        for name in ("a", "b"):  # both load 0
            assert sched.step(name)
            poll_until(runtime, sched.settled)
        assert sched.next_ops()["a"].detail == "store counter[0]"
        assert array[0] == 0
        assert sched.step("a")
        poll_until(runtime, sched.settled)
        assert array[0] == 1
        assert sched.step("b")
        b = next(p for p in runtime.procs if p.name == "b")
        poll_until(runtime, lambda: sched.settled() and not b.alive)
        assert array[0] == 1  # b stored its stale 0 + 1: one update lost, for real
        moved = sched.step_all()  # w writes, r is held before its read: both move once
        assert moved == ["w", "r"]
        poll_until(runtime, sched.settled)
        assert sched.next_ops()["w"].detail == "acquire m"
        assert sched.step("a") is False  # exited: cannot move
        assert sched.performed == ["a", "b", "a", "b", "w", "r"]
    finally:
        runtime.shutdown()


# ---------------------------------------------------------------- bundled, CLI


def test_race_by_hand_loses_exactly_one_update(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "race_by_hand.yaml", "--check")
    assert summary["schedule"] == "a b a b a a b b".split()
    assert summary["channels"]["counter"]["values"] == [3]
    assert summary["channels"]["counter"]["lost_updates"] == 1
    assert all(r["ok"] for r in summary["expect"])


def test_race_by_hand_with_another_schedule_from_the_command_line(
        nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "race_by_hand.yaml", "--schedule", "a a a a b b b b",
                           "--speed", "1")
    assert summary["channels"]["counter"]["values"] == [4]
    assert summary["channels"]["counter"]["lost_updates"] == 0
    assert summary["speed"] == 1


def test_deadlock_by_hand_deadlocks_as_documented(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "deadlock_by_hand.yaml", "--check")
    assert summary["schedule"] == ["a", "b", "a", "b"]
    assert summary["deadlock"] == ["a", "y", "b", "x"]
    assert all(r["ok"] for r in summary["expect"])
    other = run_scenario(SCENARIOS / "deadlock_by_hand.yaml", "--schedule", "a a a a b b b b")
    assert other["deadlock"] is None
    assert {w["exit"] for w in other["workers"].values()} == {0}


def test_cli_reports_the_entry_that_cannot_move(nothing_left_behind) -> None:
    result = run_cli("run", str(SCENARIOS / "deadlock_by_hand.yaml"), "--headless",
                     "--schedule", "a b a b a")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "schedule[" in line]
    assert lines[-1].endswith("schedule[4]: worker 'a' cannot move: it is blocked "
                              "(acquire y)")


@pytest.mark.parametrize("extra, expected", [
    (["--schedule", "a c"], "--schedule[1]: unknown worker 'c' (workers: a, b)"),
    (["--speed", "0.3"], "--speed: 0.3 is not a speed"),
])
def test_cli_refuses_a_bad_schedule_or_speed(extra: list[str], expected: str) -> None:
    result = run_cli("run", str(SCENARIOS / "deadlock_by_hand.yaml"), "--headless", *extra)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(expected)
