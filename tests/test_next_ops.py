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
        places = {name: sched._places.of(row, proc)[0] for name, row, proc in sched._rows()}
        read: list[int] = []
        read_stat = whereabouts.read_stat

        def counted(pid: int):
            read.append(pid)
            return read_stat(pid)

        monkeypatch.setattr(whereabouts, "read_stat", counted)
        ops = sched.next_ops()
        assert read == []
        assert places == {"sleeper.0": "asleep", "sleeper.1": "asleep",
                          "sleeper.2": "asleep", "looper": "held"}
        assert {name for name, op in ops.items() if op is not None} == {"looper"}
        assert set(ops) == set(places)
    finally:
        runtime.shutdown()
