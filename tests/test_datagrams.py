"""Datagram sockets (UDP, Unix dgram) against streams, on real sockets, exact counts:
a stream merges writes (fewer reads than writes), a datagram socket keeps them (one read
each), UDP drops what does not fit (sent = received + dropped), Unix dgram holds the
sender back instead."""

from __future__ import annotations

import pytest

from ipcviz.scenario.load import ScenarioError, load_text

from .conftest import run_scenario


def test_udp_keeps_boundaries_and_drops_what_does_not_fit_tcp_merges(
        nothing_left_behind) -> None:
    summary = run_scenario("udp_vs_tcp", "--check")
    assert summary["expect"] and all(r["ok"] for r in summary["expect"])
    tcp, udp = summary["channels"]["tcp"], summary["channels"]["udp"]
    assert tcp["writes"] == 200 and tcp["bytes_read"] == 2400
    assert tcp["reads"] < 200  # boundaries lost: several messages per read
    assert udp["writes"] == 200 and udp["dropped"] > 0
    assert udp["reads"] + udp["dropped"] == 200  # every datagram: read or dropped
    assert udp["bytes_read"] == 12 * udp["reads"]  # one read, one whole datagram


def test_unix_datagrams_hold_the_sender_back_and_lose_nothing(scenario_file,
                                                              nothing_left_behind) -> None:
    path = scenario_file("""
duration: 20
channels:
  d: {kind: socket, family: unix, type: dgram, server: reader}
workers:
  sender:
    steps:
      - repeat: {times: 300, steps: [{write: {to: d, size: 100}}]}
  reader:
    steps:
      - sleep: 0.5
      - repeat: {times: 300, steps: [{read: {from: d, bytes: 4096}}]}
""")
    summary = run_scenario(path)
    d = summary["channels"]["d"]
    assert d["writes"] == d["reads"] == 300 and d["dropped"] == 0
    assert d["bytes_read"] == 30000
    assert summary["workers"]["reader"]["exit"] == 0


def test_a_socket_family_and_type_that_do_not_go_together_is_one_line() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(b"channels:\n  s: {kind: socket, family: tcp, type: dgram, server: a}\n"
                  b"workers:\n  a: {}\n", "f.yaml")
    assert info.value.lines == [
        "f.yaml:2:40: channels.s.type: tcp sockets are streams; use family: udp for datagrams"]
