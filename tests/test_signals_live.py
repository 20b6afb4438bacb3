"""Signals for real: exact counts from real runs."""

from __future__ import annotations

from .conftest import SCENARIOS, run_scenario


def test_twenty_sigusr1_spaced_20ms_arrive_as_twenty(scenario_file, nothing_left_behind) -> None:
    # "interval" promises spaced signals: a runtime that wakes late does not send two at
    # once, and waits while the last one is still pending at a target not yet scheduled.
    # (Twenty separate timeline entries make no such promise: on a loaded machine two of
    # them may go out together and the kernel really merges them.)
    path = scenario_file("""
duration: 1.5
workers:
  counter:
    handlers: {SIGUSR1: count}
  victim:
    handlers: {SIGTERM: count, SIGINT: count, SIGUSR1: count}
timeline:
  - {at: 0.3, signal: {to: counter, sig: SIGUSR1, count: 20, interval: 0.02}}
  - {at: 0.8, kill: victim}
""")
    summary = run_scenario(path)
    counter = summary["workers"]["counter"]
    assert counter["signals_received"] == {"SIGUSR1": 20}
    assert counter["signals_sent_to"] == {"SIGUSR1": 20}
    assert summary["workers"]["victim"]["exit"] == "SIGKILL"
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_signals_handlers_scenario_checks_pass(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "signals_handlers.yaml", "--check")
    assert [r for r in summary["expect"] if not r["ok"]] == []
    assert summary["workers"]["stubborn"]["exit"] == "SIGKILL"
    assert summary["workers"]["counter"]["signals_received"] == {"SIGUSR1": 20}


def test_standard_signals_coalesce_realtime_queue(scenario_file, nothing_left_behind) -> None:
    path = scenario_file("""
duration: 3
workers:
  std:
    handlers: {SIGUSR1: count}
    steps:
      - block: [SIGUSR1]
      - sleep: 0.8
      - unblock: [SIGUSR1]
      - sleep: 0.3
  rt:
    handlers: {SIGRTMIN+1: count}
    steps:
      - block: [SIGRTMIN+1]
      - sleep: 0.8
      - unblock: [SIGRTMIN+1]
      - sleep: 0.3
timeline:
  - {at: 0.2, signal: {to: std, sig: SIGUSR1, count: 50}}
  - {at: 0.2, signal: {to: rt, sig: SIGRTMIN+1, count: 50}}
""")
    summary = run_scenario(path)
    std, rt = summary["workers"]["std"], summary["workers"]["rt"]
    assert std["signals_sent_to"] == {"SIGUSR1": 50}
    assert std["signals_received"] == {"SIGUSR1": 1}
    assert rt["signals_received"] == {"SIGRTMIN+1": 50}


def test_worker_to_worker_signal_and_wait(scenario_file, nothing_left_behind) -> None:
    path = scenario_file("""
duration: 3
workers:
  waiter:
    handlers: {SIGUSR2: count}
    steps:
      - wait_signal: SIGUSR2
      - exit: 7
  sender:
    steps:
      - sleep: 0.3
      - signal: {to: waiter, sig: SIGUSR2}
""")
    summary = run_scenario(path)
    assert summary["workers"]["sender"]["signals_sent"] == {"SIGUSR2": 1}
    assert summary["workers"]["waiter"]["signals_received"] == {"SIGUSR2": 1}
    assert summary["workers"]["waiter"]["exit"] == 7
