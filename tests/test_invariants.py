"""The frame invariants (telemetry/invariants.py and each kind's `relations`): frames made
by hand that keep every relation pass; each rule, broken on purpose, is caught and named.
A checker that cannot fail proves nothing, so every rule has a frame that breaks it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ipcviz.telemetry.invariants import check_frame, check_frames
from ipcviz.telemetry.snapshot import ChannelView, Holder, Snapshot, Waiting, WorkerView

ROOT = Path(__file__).resolve().parent.parent
counts = st.integers(min_value=0, max_value=10**9)
#: no deadline: a rule's first example imports its kind's module (posix_ipc, ...)
relaxed = settings(deadline=None)


def frame(*channels: ChannelView, workers: tuple[WorkerView, ...] = (), t: float = 1.0
          ) -> Snapshot:
    return Snapshot(scenario="hand-made", elapsed=t, running=True, workers=workers,
                    channels=channels)


def rules(snap: Snapshot, before: Snapshot | None = None) -> set[str]:
    return {v.rule for v in check_frame(snap, before)}


def pipe(written: int, read: int, buffered: int, capacity: int = 65536) -> ChannelView:
    return ChannelView.of("p", "pipe", {"bytes_written": written, "bytes_read": read,
                                     "buffered": buffered, "capacity": capacity})


@relaxed
@given(read=counts, buffered=st.integers(0, 65536))
def test_a_pipe_keeps_written_minus_read_in_the_kernel(read: int, buffered: int) -> None:
    assert rules(frame(pipe(read + buffered, read, buffered))) == set()


@relaxed
@given(read=counts, buffered=st.integers(0, 65536), off=st.integers(1, 65536))
def test_a_pipe_with_bytes_nobody_wrote_or_read_is_caught(read: int, buffered: int,
                                                          off: int) -> None:
    for written in (read + buffered + off, read + buffered - off):
        assert "written - read = in the kernel" in rules(frame(pipe(written, read, buffered)))


@relaxed
@given(over=st.integers(1, 10**6))
def test_a_pipe_holding_more_than_its_capacity_or_less_than_nothing_is_caught(over: int
                                                                              ) -> None:
    assert "0 <= in the kernel <= capacity" in rules(frame(pipe(4096 + over, 0, 4096 + over,
                                                                capacity=4096)))
    assert "0 <= in the kernel <= capacity" in rules(frame(pipe(0, over, -over)))


def queue(kind: str, sent: int, got: int, depth: int, capacity: object = 10,
          **more: int) -> ChannelView:
    return ChannelView.of("q", kind, {"messages_sent": sent, "messages_received": got,
                                   "depth": depth, "capacity": capacity, **more})


@relaxed
@given(kind=st.sampled_from(["mqueue", "queue"]), got=counts, depth=st.integers(0, 10))
def test_a_queue_keeps_sent_minus_received_as_its_depth(kind: str, got: int, depth: int
                                                        ) -> None:
    assert rules(frame(queue(kind, got + depth, got, depth))) == set()


@relaxed
@given(kind=st.sampled_from(["mqueue", "queue"]), sent=counts, more=st.integers(1, 1000))
def test_more_received_than_sent_is_caught(kind: str, sent: int, more: int) -> None:
    broken = rules(frame(queue(kind, sent, sent + more, 0)))
    assert {"received <= sent", "sent - received = depth"} <= broken


@relaxed
@given(depth=st.integers(11, 1000))
def test_a_queue_deeper_than_its_capacity_is_caught(depth: int) -> None:
    assert "depth <= capacity" in rules(frame(queue("mqueue", depth, 0, depth)))


@relaxed
@given(waiting=st.integers(1, 5))
def test_a_rendezvous_holds_no_message_its_senders_wait(waiting: int) -> None:
    # the data of a zero-capacity queue: depth 0, the offered messages as waiting senders
    assert rules(frame(queue("queue", waiting, 0, 0, 0, waiting_senders=waiting))) == set()
    # what frames said before: the offered message as a depth of 1 of capacity 0
    broken = rules(frame(queue("queue", 0, 0, 1, 0)))
    assert "a zero-capacity queue holds no message" in broken


def array(increments: int, total: int, lost: int | None, dtype: str = "int64"
          ) -> ChannelView:
    return ChannelView.of("counter", "shared_array", {
        "dtype": dtype, "sum": total, "initial_sum": 0, "increments": increments,
        "lost_updates": lost})


def adders(*counts: int) -> tuple[WorkerView, ...]:
    return tuple(WorkerView(f"adder.{i}", "adder", 100 + i, "running",
                            increments={"counter": n}) for i, n in enumerate(counts))


@relaxed
@given(a=st.integers(0, 10**6), b=st.integers(0, 10**6), lost=st.integers(0, 10**6))
def test_an_array_gains_what_was_added_minus_what_was_lost(a: int, b: int, lost: int
                                                          ) -> None:
    lost = min(lost, a + b)
    snap = frame(array(a + b, a + b - lost, lost), workers=adders(a, b))
    assert rules(snap) == set()


@relaxed
@given(increments=st.integers(0, 10**6), extra=st.integers(1, 64))
def test_an_array_that_gained_more_than_was_added_is_caught(increments: int, extra: int
                                                            ) -> None:
    # what frames said before: lost updates 0 beside a gain above the increments
    snap = frame(array(increments, increments + extra, 0), workers=adders(increments))
    assert "gained = increments - lost updates" in rules(snap)
    assert "gained <= increments" in rules(frame(array(increments, increments + extra,
                                                       -extra), workers=adders(increments)))


@relaxed
@given(lost=st.integers(1, 1000), fewer=st.integers(1, 1000))
def test_lost_updates_that_go_down_are_caught(lost: int, fewer: int) -> None:
    before = frame(array(10**6, 10**6 - lost - fewer, lost + fewer), workers=adders(10**6))
    after = frame(array(10**6 + 5, 10**6 + 5 - lost, lost), workers=adders(10**6 + 5))
    assert "lost updates never decrease" in rules(after, before)


@relaxed
@given(a=st.integers(0, 10**6), b=st.integers(0, 10**6), off=st.integers(1, 100))
def test_per_worker_increments_that_do_not_add_up_are_caught(a: int, b: int, off: int
                                                             ) -> None:
    snap = frame(array(a + b + off, a + b + off, 0), workers=adders(a, b))
    assert "per-worker increments add up to the array's" in rules(snap)


def test_a_wrapped_integer_array_still_adds_up() -> None:
    # uint8: 300 increments, none lost, the element shows 300 mod 256
    assert rules(frame(array(300, 300 % 256, 0, "uint8"), workers=adders(300))) == set()


def lock(value: int, holders: list[str], held: int, initial: int = 1,
         waiters: list[str] | None = None) -> ChannelView:
    return ChannelView.of("mutex", "semaphore", {
        "value": value, "initial": initial, "held": held,
        "holders": [Holder(h) for h in holders], "waiters": waiters or []})


def test_a_mutex_held_by_one_keeps_its_relations() -> None:
    assert rules(frame(lock(0, ["adder.0"], 1, waiters=["adder.1"]))) == set()
    assert rules(frame(lock(1, [], 0))) == set()


def test_a_mutex_held_by_two_is_caught() -> None:
    broken = rules(frame(lock(0, ["adder.0", "adder.1"], 2)))
    assert {"held by at most its initial value", "value + holders <= initial",
            "value = initial - held"} <= broken


@relaxed
@given(initial=st.integers(1, 8), over=st.integers(1, 4))
def test_a_semaphore_held_by_more_than_its_value_is_caught(initial: int, over: int) -> None:
    holders = [f"w{i}" for i in range(initial + over)]
    assert "held by at most its initial value" in rules(
        frame(lock(0, holders, initial + over, initial)))


def test_a_value_that_disagrees_with_the_holders_is_caught() -> None:
    # value 0 and held by nobody: taken by someone whose count is not there yet
    assert "value = initial - held" in rules(frame(lock(0, [], 0)))
    assert "value >= 0" in rules(frame(lock(-1, [], 2, initial=1)))


def test_waiting_for_a_lock_one_holds_is_caught() -> None:
    me = WorkerView("adder.0", "adder", 100, "blocked", waiting=Waiting("acquire", "mutex"))
    snap = frame(lock(0, ["adder.0"], 1, waiters=["adder.0"]), workers=(me,))
    broken = [v for v in check_frame(snap) if v.rule == "nobody waits for a lock it holds"]
    assert {v.subject for v in broken} == {"mutex", "adder.0"}


def test_a_handed_over_semaphore_has_no_holders_to_check() -> None:
    handoff = ChannelView.of("full", "semaphore", {"value": 1, "initial": 0, "held": -1,
                                                 "holders": [], "handoff": True})
    assert rules(frame(handoff)) == set()


@relaxed
@given(sent=st.integers(0, 100), more=st.integers(1, 100))
def test_more_signals_received_than_sent_is_caught(sent: int, more: int) -> None:
    ok = WorkerView("r", "r", 1, "sleeping", signals_received={"SIGUSR1": sent},
                    signals_sent_to={"SIGUSR1": sent})
    assert rules(frame(workers=(ok,))) == set()
    bad = WorkerView("r", "r", 1, "sleeping", signals_received={"SIGUSR1": sent + more},
                     signals_sent_to={"SIGUSR1": sent})
    assert "received signals <= sent" in rules(frame(workers=(bad,)))


def test_a_signal_nobody_in_the_run_sent_has_another_sender() -> None:
    # the kernel's SIGCHLD: received, never sent by the run
    kid_ended = WorkerView("parent", "parent", 1, "sleeping", signals_received={"SIGCHLD": 3})
    assert rules(frame(workers=(kid_ended,))) == set()


@relaxed
@given(name=st.sampled_from(["bytes_written", "bytes_read"]), now=counts,
       drop=st.integers(1, 10**6))
def test_counters_that_go_down_are_caught(name: str, now: int, drop: int) -> None:
    data = {"bytes_written": 0, "bytes_read": 0, "buffered": 0, "capacity": 65536}
    before = ChannelView.of("s", "socket", {**data, name: now + drop})
    after = ChannelView.of("s", "socket", {**data, name: now})
    assert "counters never go down" in rules(frame(after), frame(before))
    w_before = WorkerView("w", "w", 1, "running", bytes_written={"p": now + drop})
    w_after = WorkerView("w", "w", 1, "running", bytes_written={"p": now})
    assert "counters never go down" in rules(frame(workers=(w_after,)),
                                             frame(workers=(w_before,)))


def test_a_restarted_worker_starts_its_counts_again() -> None:
    before = WorkerView("w", "w", 1, "running", bytes_written={"p": 100})
    after = WorkerView("w", "w", 2, "running", restarts=1, bytes_written={"p": 5})
    assert rules(frame(workers=(after,)), frame(workers=(before,))) == set()


def test_violations_name_their_frame_time_rule_and_values() -> None:
    frames = [frame(pipe(10, 0, 10), t=0.1), frame(pipe(20, 0, 10), t=0.2)]
    found = list(check_frames(frames))
    assert [(v.frame, v.t, v.rule, v.subject) for v in found] == [
        (1, 0.2, "written - read = in the kernel", "p")]
    assert found[0].line() == ("frame 1 (t=0.200 s): p: written - read = in the kernel: "
                               "written 20, read 0, in the kernel 10")


def test_replay_check_prints_the_first_broken_frame_and_exits_1(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    frames = [frame(pipe(10, 0, 10), t=0.1), frame(pipe(20, 5, 15), t=0.2)]
    good.write_text("".join(json.dumps(f.to_dict()) + "\n" for f in frames))
    broken = frames + [frame(pipe(20, 5, 10), t=0.3), frame(pipe(40, 5, 10), t=0.4)]
    bad.write_text("".join(json.dumps(f.to_dict()) + "\n" for f in broken))
    run = [sys.executable, "-m", "ipcviz", "replay", "--check"]
    ok = subprocess.run(run + [str(good)], capture_output=True, text=True, timeout=60)
    assert (ok.returncode, ok.stdout) == (0, "2 frames, 0 violations\n")
    out = subprocess.run(run + [str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stdout == ("frame 2 (t=0.300 s): p: written - read = in the kernel: "
                          "written 20, read 5, in the kernel 10\n")
    assert "4 frames, 2 violations in 2 frames" in out.stderr
    missing = subprocess.run(run + [str(tmp_path / "none.jsonl")], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


@settings(max_examples=30, deadline=None)
@given(frames=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=1,
                       max_size=8))
def test_a_consistent_pipe_run_has_no_violations(frames: list[tuple[int, int]]) -> None:
    written = read = 0
    snaps = []
    for i, (put, took) in enumerate(frames):
        written += put
        read = min(written, read + took)
        snaps.append(frame(pipe(written, read, written - read, capacity=10**6), t=i / 10))
    assert list(check_frames(snaps)) == []
