"""RPC for real: JSON-RPC 2.0 calls over real sockets between real processes, with exact
counts of calls, answers, timeouts, retries, and calls a server executed twice."""

from __future__ import annotations

import json
import os

import pytest

from ipcviz.channels.rpc import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcServer,
    answer,
    request,
)
from ipcviz.scenario.load import ScenarioError, load_text
from ipcviz.worker.steps.rpc import _parse

from .conftest import SCENARIOS, run_scenario


def test_rpc_call_lesson_retry_runs_twice_and_restart_loses_the_connection(
        nothing_left_behind) -> None:
    """The bundled lesson, exactly: 8 calls all answered; the slow call's one timeout is
    one retry and one call executed twice; the server restarted mid-call costs a lost
    connection (the second retry) and is executed once by the new server."""
    summary = run_scenario(SCENARIOS / "rpc_call.yaml", "--check")
    assert [r for r in summary["expect"] if not r["ok"]] == []
    rpc = summary["channels"]["rpc"]
    assert (rpc["calls"], rpc["answered"], rpc["gave_up"], rpc["in_flight"]) == (8, 8, 0, 0)
    assert (rpc["timeouts"], rpc["retries"]) == (2, 2)
    assert rpc["executed_twice"] == 1
    # 4 + 2 (the slow call and its retry) + 1 (only the new server finished call 6) + 2
    assert rpc["executed"] == 9
    assert rpc["latency_ms_max"] > 3000  # call 6: killed after 1.5 s, then 3 s of sleep
    assert summary["workers"]["server"]["restarts"] == 1
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_every_retry_that_races_its_answer_is_executed_twice(scenario_file, family,
                                                             nothing_left_behind) -> None:
    """A server slower than the timeout: each retry reaches it after it did the work (one
    connection, requests in order), so executed twice == retries, and every attempt is
    executed once the server has drained them."""
    path = scenario_file(f"""
duration: 3
channels:
  rpc: {{kind: rpc, family: {family}, server: server}}
workers:
  server:
    steps:
      - repeat: {{times: forever, steps: [{{serve: rpc}}]}}
  client:
    steps:
      - repeat:
          times: 3
          steps:
            - call: {{on: rpc, method: sleep, params: [0.25], timeout: 0.1, retries: 1}}
      - call: {{on: rpc, method: add, params: [2, 3.5], timeout: 2}}
""")
    rpc = run_scenario(path)["channels"]["rpc"]
    assert rpc["calls"] == 4
    assert rpc["retries"] > 0
    assert rpc["executed_twice"] == rpc["retries"]
    assert rpc["executed"] == rpc["calls"] + rpc["retries"]
    assert rpc["answered"] + rpc["gave_up"] == rpc["calls"]
    assert rpc["in_flight"] == 0
    assert rpc["callers"]["client"]["calls"] == 4


def test_a_server_killed_for_good_makes_calls_give_up(scenario_file,
                                                      nothing_left_behind) -> None:
    """No server left: the runtime closes the listener, connecting is refused, and the
    call is given up after its 1 + 2 attempts, none of them executed."""
    path = scenario_file("""
duration: 3
channels:
  rpc: {kind: rpc, server: server}
workers:
  server:
    steps:
      - repeat: {times: forever, steps: [{serve: rpc}]}
  client:
    steps:
      - sleep: 0.5
      - call: {on: rpc, method: add, params: [1, 1], timeout: 0.3, retries: 2}
timeline:
  - {at: 0.2, kill: server}
""")
    summary = run_scenario(path)
    rpc = summary["channels"]["rpc"]
    assert (rpc["calls"], rpc["answered"], rpc["gave_up"]) == (1, 0, 1)
    assert (rpc["timeouts"], rpc["retries"], rpc["executed"]) == (3, 2, 0)
    assert summary["workers"]["client"]["exit"] == 0


def test_a_restarted_server_answers_the_retry_and_runs_it_once(scenario_file,
                                                                nothing_left_behind) -> None:
    """Killed in the middle of a 1 s call (before it could record the id): the client
    sees the connection lost, sends the call again, the new server runs it (not twice)."""
    path = scenario_file("""
duration: 3
channels:
  rpc: {kind: rpc, server: server}
workers:
  server:
    steps:
      - repeat: {times: forever, steps: [{serve: rpc}]}
  client:
    steps:
      - call: {on: rpc, method: sleep, params: [1.0], timeout: 5, retries: 1}
      - call: {on: rpc, method: add, params: [1, 2.5]}
timeline:
  - {at: 0.5, restart: server}
""")
    summary = run_scenario(path)
    rpc = summary["channels"]["rpc"]
    assert (rpc["calls"], rpc["answered"], rpc["retries"], rpc["timeouts"]) == (2, 2, 1, 1)
    assert (rpc["executed"], rpc["executed_twice"]) == (2, 0)
    assert rpc["latency_ms_max"] > 1400  # 0.5 s with the old server + 1 s with the new
    assert summary["workers"]["server"]["restarts"] == 1


def test_requests_and_answers_are_json_rpc_2() -> None:
    assert json.loads(request("add", [2, 3], 7)) == {"jsonrpc": "2.0", "method": "add",
                                                     "params": [2, 3], "id": 7}
    assert json.loads(answer(7, 5)) == {"jsonrpc": "2.0", "id": 7, "result": 5}
    assert json.loads(answer(None, error=(PARSE_ERROR, "Parse error")))["error"] == {
        "code": -32700, "message": "Parse error"}
    assert _parse(b'{"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 3}') == (
        3, "add", [1, 2], None)
    assert _parse(b"{not json")[3][0] == PARSE_ERROR
    assert _parse(b'{"jsonrpc": "2.0", "method": "rm", "id": 3}')[3][0] == METHOD_NOT_FOUND
    assert _parse(b'{"jsonrpc": "2.0", "method": "add", "params": ["a"], "id": 3}'
                  )[3][0] == INVALID_PARAMS
    assert _parse(b'{"jsonrpc": "2.0", "method": "sleep", "params": [999], "id": 3}'
                  )[3][0] == INVALID_PARAMS
    assert _parse(b'{"jsonrpc": "1.0", "method": "add", "id": 3}')[3][0] == -32600


def test_a_second_server_knows_the_ids_the_first_one_served(tmp_path) -> None:
    """The served-id file is the memory that outlives a server: a restarted one (a new
    RpcServer on the same file) sees what the first recorded, and nothing else."""
    import socket

    path = tmp_path / "rpc.served"
    path.write_bytes(b"")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        first = RpcServer(listener, str(path))
        first.record(1 << 24 | 5)
        second = RpcServer(listener, str(path))
        assert second.executed_before(1 << 24 | 5)
        assert not second.executed_before(1 << 24 | 6)
        second.record(1 << 24 | 6)
        assert first.executed_before(1 << 24 | 6)
        assert os.path.getsize(path) == 16
    finally:
        listener.close()


@pytest.mark.parametrize("server, client, message", [
    ("{call: {on: rpc, method: add, params: [1]}}", "{call: {on: rpc, method: add}}",
     "it cannot call itself"),
    ("{serve: rpc}", "{serve: rpc}", "only 'server', the server of 'rpc', serves it"),
    ("{serve: rpc}", "{call: {on: rpc, method: add, params: [a]}}", "add takes numbers only"),
    ("{serve: rpc}", "{call: {on: rpc, method: sleep, params: [61]}}",
     "sleep takes one number of seconds"),
    ("{serve: rpc}", "{call: {on: rpc, method: rm}}", "call.method"),
    ("{serve: p}", "{call: {on: rpc, method: add}}", "'serve' does not work on pipe 'p'"),
])
def test_bad_rpc_steps_are_one_line_each(server: str, client: str, message: str) -> None:
    text = ("channels:\n  rpc: {kind: rpc, server: server}\n  p: {kind: pipe}\n"
            f"workers:\n  server:\n    steps: [{server}]\n  client:\n    steps: [{client}]\n")
    with pytest.raises(ScenarioError) as err:
        load_text(text.encode(), "f.yaml")
    assert message in str(err.value), str(err.value)
    assert len(str(err.value).splitlines()) == 1, str(err.value)


@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_a_server_killed_then_restarted_listens_again(scenario_file, family,
                                                      nothing_left_behind) -> None:
    """`k` on the server, then a restart (the lesson's timeline at 7 s): the runtime had
    closed the dead server's listener, so the new server found none and exited 70. It
    listens again at the same address, and the calls after it are answered."""
    path = scenario_file(f"""
duration: 3
channels:
  rpc: {{kind: rpc, family: {family}, server: server}}
workers:
  server:
    steps:
      - repeat: {{times: forever, steps: [{{serve: rpc}}]}}
  client:
    steps:
      - call: {{on: rpc, method: add, params: [1, 1], timeout: 0.3}}
      - sleep: 1.2
      - call: {{on: rpc, method: add, params: [2, 2], timeout: 1, retries: 2}}
timeline:
  - {{at: 0.4, kill: server}}
  - {{at: 0.8, restart: server}}
""")
    summary = run_scenario(path)
    rpc = summary["channels"]["rpc"]
    assert (rpc["calls"], rpc["answered"], rpc["gave_up"]) == (2, 2, 0)
    assert summary["workers"]["server"]["exit"] is None  # alive, serving
    assert summary["workers"]["server"]["restarts"] == 1
