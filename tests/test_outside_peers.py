"""A run's socket and RPC channels on 127.0.0.1 serve only the run's own processes: a
connection or datagram from outside the run (another user, or any process the run did
not start) is refused unread, counted, and logged; the run's own counts stay exact.
Attacked for real from the test process and, where the test runs as root, as uid 65534."""

from __future__ import annotations

import json
import os
import select
import socket
import threading
from pathlib import Path

import pytest
from ipcviz.telemetry.ring_events import EventCode as EV

from .live import LiveRun
from .users import NOBODY, as_user

SCENARIO = """
duration: 8
channels:
  tcp: {kind: socket, family: tcp, server: server}
  udp: {kind: socket, family: udp, server: userver}
  rpc: {kind: rpc, family: tcp, server: rserver}
workers:
  client:
    steps:
      - sleep: 2
      - repeat: {times: 5, steps: [{write: {to: tcp, data: "hello\\n"}}]}
      - repeat: {times: 4, steps: [{write: {to: udp, data: "dgram!"}}]}
      - repeat: {times: 3, steps: [{call: {on: rpc, method: add, params: [2, 3], timeout: 3}}]}
      - sleep: 30
  server:
    steps:
      - repeat: {times: forever, steps: [{read: {from: tcp, bytes: 65536, block: false}}, {sleep: 0.02}]}
  userver:
    steps:
      - repeat: {times: forever, steps: [{read: {from: udp, bytes: 65536, block: false}}, {sleep: 0.02}]}
  rserver:
    steps:
      - repeat: {times: forever, steps: [{serve: rpc}]}
"""
FAKE_CALL = json.dumps({"jsonrpc": "2.0", "method": "add", "params": [40, 2],
                        "id": 1}).encode() + b"\n"


def _address(run: LiveRun, name: str) -> tuple[str, int]:
    snap = run.wait_for(lambda s: any(c.name == name and c.data.get("address")
                                      for c in s.channels))
    (channel,) = [c for c in snap.channels if c.name == name]
    host, _, port = channel.data["address"].rpartition(":")
    return host, int(port)


def _attack(tcp: tuple[str, int], udp: tuple[str, int], rpc: tuple[str, int],
            datagrams: int) -> list[socket.socket]:
    """One connection to the stream socket and one to the RPC server, each sending what
    the servers would read and count, and `datagrams` datagrams; the sockets stay open."""
    stream = socket.create_connection(tcp)
    stream.sendall(b"FAKE\n")
    caller = socket.create_connection(rpc)
    caller.sendall(FAKE_CALL)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(datagrams):
        sender.sendto(b"fake", udp)
    return [stream, caller, sender]


def _counts(run: LiveRun) -> dict[str, dict]:
    return {c.name: c.data for c in run.latest.channels} if run.latest else {}


def test_peers_from_outside_the_run_are_refused_and_counted(tmp_path: Path,
                                                           nothing_left_behind) -> None:
    """Before: the servers read the outsiders' bytes, datagrams and call (bytes_read 35,
    udp reads 7, rpc executed 5), so counts and `expect` were theirs to falsify."""
    path = tmp_path / "outside.yaml"
    path.write_text(SCENARIO)
    as_root = os.geteuid() == 0
    with LiveRun(str(path)) as run:
        tcp, udp, rpc = (_address(run, name) for name in ("tcp", "udp", "rpc"))
        held = _attack(tcp, udp, rpc, datagrams=3)
        # this process's attack refused (and its sender named) before the other user's
        # process is forked: the fork inherits these sockets, and a refusal looked up
        # while both hold them may name either process
        run.wait_for(lambda s: [{c.name: c.data for c in s.channels}[n].get("peers_refused")
                                for n in ("tcp", "udp", "rpc")] == [1, 3, 1], timeout=20)
        try:
            theirs: list[int] = []
            release, done = os.pipe()
            if as_root:  # another user: a child of this process become 65534
                def attack() -> int:
                    for sock in held:  # inherited: only its own sockets are its attack
                        sock.close()
                    kept = _attack(tcp, udp, rpc, datagrams=2)
                    # held until the servers have looked at them (they name the holder)
                    select.select([release], [], [], 30)
                    for sock in kept:
                        sock.close()
                    return os.getpid()

                def as_nobody() -> None:
                    try:
                        theirs.append(as_user(attack, NOBODY))
                    except BaseException as failed:  # (raised here, after the join)
                        theirs.append(failed)

                nobody = threading.Thread(target=as_nobody)
                nobody.start()
            outsiders = 2 if as_root else 1
            sent = 5 if as_root else 3

            def settled(snap) -> bool:
                data = {c.name: c.data for c in snap.channels}
                return (data["tcp"].get("peers_refused") == outsiders
                        and data["udp"].get("peers_refused") == sent
                        and data["rpc"].get("peers_refused") == outsiders
                        and data["tcp"]["bytes_read"] == 30
                        and data["udp"]["reads"] == 4 and data["rpc"]["answered"] == 3)
            try:
                run.wait_for(settled, timeout=20)
            finally:
                os.write(done, b"x")  # the other user's sockets may go
                if as_root:
                    nobody.join(30)
            seq = run.latest.seq  # three frames later nothing more came: never read
            run.wait_for(lambda s: s.seq >= seq + 3)
            counts = _counts(run)
        finally:
            for sock in held:
                sock.close()
            os.close(release)
            os.close(done)
        if theirs and isinstance(theirs[0], BaseException):
            raise theirs[0]
        nobody_pid = theirs[0] if theirs else None
        events = [(e.event.channel, e.event.reason, e.event.uid, e.event.pid)
                  for e in run.events if e.event and e.event.code is EV.PEER_REFUSED]
    assert counts["tcp"]["bytes_read"] == 30 and counts["tcp"]["bytes_written"] == 30
    assert counts["tcp"]["peers_refused"] == outsiders
    assert (counts["udp"]["reads"], counts["udp"]["bytes_read"]) == (4, 24)
    assert counts["udp"]["peers_refused"] == sent
    assert (counts["rpc"]["calls"], counts["rpc"]["answered"], counts["rpc"]["executed"],
            counts["rpc"]["errors"]) == (3, 3, 3, 0)
    assert counts["rpc"]["peers_refused"] == outsiders
    # (channel, 1 for a datagram dropped, 0 for a connection refused, uid, pid)
    for who in [(os.getuid(), os.getpid())] + ([(NOBODY, nobody_pid)] if as_root else []):
        assert ("tcp", 0, *who) in events, events
        assert ("rpc", 0, *who) in events, events
        assert ("udp", 1, *who) in events, events


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_the_runs_own_clients_are_served_even_after_they_closed(scenario_file, family: str,
                                                                nothing_left_behind) -> None:
    """A client that connects, writes and ends before the server first looks: its socket is
    gone from every process (the kernel shows inode 0), but its port was registered by the
    run before it connected, so its bytes are the run's. (Headless, with --json.)"""
    from .conftest import run_scenario

    path = scenario_file(f"""
duration: 2.5
channels:
  s: {{kind: socket, family: {family}, server: server}}
workers:
  client:
    steps:
      - write: {{to: s, data: "bye\\n"}}
  server:
    steps:
      - sleep: 1
      - repeat: {{times: 20, steps: [{{read: {{from: s, bytes: 100, block: false}}}}, {{sleep: 0.02}}]}}
expect:
  - {{channel: s, bytes_read: 4, peers_refused: 0}}
""")
    summary = run_scenario(path)
    assert summary["channels"]["s"]["bytes_read"] == 4, summary
    assert summary["channels"]["s"]["peers_refused"] == 0
    assert summary["workers"]["client"]["exit"] == 0
    assert all(e["ok"] for e in summary["expect"]), summary["expect"]
