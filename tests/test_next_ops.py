"""The next operations a held run's frames show: worked out from the table's control
cells alone, without reading any worker's /proc, and the same as asking where each worker
is (real workers, real /proc)."""

from __future__ import annotations

from ipcviz.protocol import PauseRun
from ipcviz.runtime import whereabouts
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from tests.waiting import wait_until

SCENARIO = b"""\
channels:
  a: {kind: shared_array, dtype: int64, shape: [1]}
workers:
  sleeper: {count: 3, steps: [{sleep: 60}]}
  looper: {loop: true, steps: [{increment: {array: a, index: [0], times: 10}}]}
"""


def test_next_ops_of_a_paused_run_read_no_proc(nothing_left_behind, monkeypatch) -> None:
    """Paused: the looper waits at its boundary (its next operation shown), the sleepers
    sleep on (none shown). Working the next operations out reads no /proc/PID/stat,
    and gives what `Whereabouts.of` says of each worker (held or paused: shown)."""
    runtime = Runtime(load_text(SCENARIO, "paused.yaml"))
    try:
        runtime.start()
        sched = runtime.scheduler
        wait_until(lambda: runtime.table is not None and all(
            int(runtime.table.array[p.row][whereabouts.T.WAITS]) & 1 for p in runtime.procs
            if p.instance.group == "sleeper"), message="the sleepers asleep in their sleep")
        runtime.execute(PauseRun())
        wait_until(lambda: sched.next_ops().get("looper") is not None,
                   message="the looper held at its boundary")
        read_stat = whereabouts.read_stat
        read: list[int] = []

        def counted(pid: int):
            read.append(pid)
            return read_stat(pid)

        def places() -> dict[str, str]:
            monkeypatch.setattr(whereabouts, "read_stat", read_stat)
            return {name: sched._places.of(row, proc)[0] for name, row, proc in sched._rows()}

        def settled() -> tuple[dict[str, str], dict[str, object]] | None:
            """The places before and after working the next operations out, when they
            agree (a sleeper may look at the run clock, and be at its boundary, for an
            instant): the next operations then answer for those places."""
            before = places()
            monkeypatch.setattr(whereabouts, "read_stat", counted)
            ops = sched.next_ops()
            after = places()
            return (before, ops) if before == after else None

        found = wait_until(settled, message="the places the same before and after")
        where, ops = found
        assert read == []
        assert where["looper"] == "held"
        assert {where[f"sleeper.{i}"] for i in range(3)} <= {"asleep", "held"}
        shown = {name for name, place in where.items() if place in ("held", "paused")}
        assert {name for name, op in ops.items() if op is not None} == shown
        assert set(ops) == set(where)
    finally:
        runtime.shutdown()
