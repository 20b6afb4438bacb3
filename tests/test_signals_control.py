"""Signals sent through the live runtime, states read from the kernel."""

from __future__ import annotations

from ipcviz.signals import UNCATCHABLE, valid_numbers, signal_name

from .conftest import SCENARIOS, run_scenario
from .live import LiveRun

CATCH_ALL = "{" + ", ".join(
    f"{signal_name(n)}: count" for n in valid_numbers()
    if n not in UNCATCHABLE and signal_name(n) not in ("SIGCHLD", "SIGCONT")) + "}"


def test_stop_cont_and_kill_of_a_worker_that_catches_everything(scenario_file,
                                                                 nothing_left_behind) -> None:
    path = scenario_file(f"""
duration: 60
workers:
  tough:
    handlers: {CATCH_ALL}
    loop: true
    steps:
      - sleep: 0.05
""")
    with LiveRun(str(path)) as run:
        run.wait_for(lambda s: s.worker("tough").state in ("sleeping", "running"))
        run.signal("tough", "SIGTERM")
        run.signal("tough", "SIGINT")
        run.wait_for(lambda s: s.worker("tough").signals_received == {"SIGINT": 1, "SIGTERM": 1})
        run.signal("tough", "SIGSTOP")
        stopped = run.wait_for(lambda s: s.worker("tough").state == "stopped")
        assert stopped.worker("tough").exit is None
        run.signal("tough", "SIGCONT")
        run.wait_for(lambda s: s.worker("tough").state in ("sleeping", "running"))
        run.signal("tough", "SIGKILL")
        end = run.wait_for(lambda s: s.worker("tough").exit is not None)
        assert end.worker("tough").exit == "SIGKILL"
        assert end.worker("tough").state == "exited"
        caught = set(end.worker("tough").masks.get("caught", []))  # last live reading
    assert source_clean(run)
    assert "SIGKILL" not in caught


def source_clean(run: LiveRun) -> bool:
    return run.source.leaks == {"processes": 0, "ipc_objects": 0, "details": []}


def test_kernel_masks_show_blocked_and_pending(scenario_file, nothing_left_behind) -> None:
    path = scenario_file("""
duration: 60
workers:
  holder:
    handlers: {SIGUSR1: count, SIGRTMIN+3: count, SIGHUP: ignore}
    block: [SIGUSR1, SIGRTMIN+3]
""")
    with LiveRun(str(path)) as run:
        run.wait_for(lambda s: s.worker("holder").state == "sleeping")
        run.signal("holder", "SIGUSR1", 5)
        run.signal("holder", "SIGRTMIN+3", 2)
        snap = run.wait_for(
            lambda s: "SIGRTMIN+3" in s.worker("holder").masks.get("shared_pending", []))
        masks = snap.worker("holder").masks
        assert masks["blocked"] == ["SIGUSR1", "SIGRTMIN+3"]
        # kill() is process-directed: the kernel queues it in the shared set (ShdPnd)
        assert masks["shared_pending"] == ["SIGUSR1", "SIGRTMIN+3"]
        assert masks["pending"] == []
        assert masks["ignored"] == ["SIGHUP"]
        assert masks["caught"] == ["SIGUSR1", "SIGRTMIN+3"]
        assert snap.worker("holder").signals_received == {}
    assert source_clean(run)


def test_bundled_signals_coalescing(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "signals_coalescing.yaml", "--check")
    assert [r for r in summary["expect"] if not r["ok"]] == []
    assert summary["workers"]["standard"]["signals_received"] == {"SIGUSR1": 1}
    assert summary["workers"]["realtime"]["signals_received"] == {"SIGRTMIN+1": 50}


def test_zombies_pile_up_without_reaping_and_not_with_it(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "sigchld_zombies.yaml", "--check")
    workers = summary["workers"]
    kids = {name: w for name, w in workers.items() if name.startswith("kid#")}
    assert len(kids) == 20
    lazy_zombies = [n for n, w in kids.items() if w["state"] == "zombie"]
    assert workers["lazy"]["zombies"] == len(lazy_zombies) == 10
    assert workers["careful"]["zombies"] == 0
    reaped = [n for n, w in kids.items() if w["state"] == "exited"]
    assert len(reaped) == 10 and all(kids[n]["exit"] == 0 for n in reaped)
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_a_signal_at_the_instant_of_start_waits_for_the_handler(scenario_file,
                                                               nothing_left_behind) -> None:
    """A signal arriving between fork and the worker's own handlers stays pending until the
    handler is installed (regression: it used to run the runtime's handler in the child,
    or the default action). The timeline at 0 fires right after the last fork."""
    path = scenario_file("""
duration: 1.2
workers:
  w:
    count: 64
    handlers: {SIGTERM: count}
timeline:
  - {at: 0, signal: {to: w, sig: SIGTERM}}
""")
    for _ in range(2):
        summary = run_scenario(path)
        assert {name: (w["signals_received"], w["exit"]) for name, w in summary["workers"].items()
                } == {f"w.{i}": ({"SIGTERM": 1}, None) for i in range(64)}
        assert summary["duration_s"] >= 1.2
