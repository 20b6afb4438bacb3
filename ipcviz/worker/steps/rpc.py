"""`call` and `serve`: JSON-RPC 2.0 over a stream socket (channels/rpc.py has the wire
format and the record of served ids).

A call's id is the caller's pid and its call number (pid << 24 | n), unique in the run;
every attempt of one call sends the same id. Counted on the caller's row: calls begun,
answered, waits that ended without an answer, calls sent again, calls given up, and
the answered calls' latency. On the server's row: calls executed, executed again with
an id already executed (a retry that raced its first answer), invalid requests.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from ipcviz.channels.rpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcClientEnd,
    answer,
    request,
)
from ipcviz.scenario import schema
from ipcviz.scenario.models import MAX_RPC_SLEEP, RPC_METHODS, CallArgs
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker.boundary import Next
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps.registry import describes, handles
from ipcviz.worker.steps.streams import watch_refusals

#: events carry the call number in the high bits of their second value
CALL_SHIFT = 24
_DETAIL = (1 << CALL_SHIFT) - 1
#: longest single wait for an answer before the timeout is looked at again
WAIT_SLICE_MS = 200
#: pause before sending a call again after its connection was lost (no server: refused)
LOST_BACKOFF = 0.2


def call_id(pid: int, number: int) -> int:
    return pid << CALL_SHIFT | (number & _DETAIL)


def _speed(row: WorkerRow) -> int:
    """The slow-motion divisor: a pause after a lost connection stretches as sleeps do."""
    return max(1, row.cells[row.base + T.CTRL_SPEED])


@handles("call")
def call(row: WorkerRow, args: CallArgs) -> None:
    name = args.on
    client = row.ends.rpc_client[name]
    cells = row.cells
    number = row.seq[name] = row.seq.get(name, 0) + 1
    ident = call_id(os.getpid(), number)
    data = request(args.method, list(args.params), ident)
    channel = row.index(name)
    cells[row.counter(name, T.CALLS)] += 1
    began = time.monotonic()
    for attempt in range(1, args.retries + 2):
        if attempt > 1:
            cells[row.counter(name, T.RETRIES)] += 1
        sent = client.send(data)
        if sent:
            cells[row.counter(name, T.BYTES_WRITTEN)] += len(data)
        left = row.run_deadline(args.timeout)  # run time: it stands still with the run
        outcome = _await_answer(row, client, name, ident, number, left) if sent else "lost"
        if outcome == "answered":
            micros = int((time.monotonic() - began) * 1e6)
            cells[row.counter(name, T.ANSWERED)] += 1
            cells[row.counter(name, T.LATENCY_SUM_US)] += micros
            top = row.counter(name, T.LATENCY_MAX_US)
            cells[top] = max(cells[top], micros)
            row.emit(EV.CALL_ANSWERED, channel, number=number, value=micros)
            return
        cells[row.counter(name, T.TIMEOUTS)] += 1
        if outcome == "lost":  # the server went away: connect again after a moment
            row.emit(EV.CALL_RECONNECT, channel, number=number, count=attempt)
            pause = min(left(), LOST_BACKOFF * _speed(row))
            if pause > 0 and attempt <= args.retries:
                with row.blocked(T.OP_CALL, name, number):
                    row.wait(time.sleep, pause)
        else:  # the detail says whether the same call goes out again
            row.emit(EV.CALL_TIMEOUT, channel, number=number, count=attempt,
                     reason=attempt <= args.retries)
    cells[row.counter(name, T.GAVE_UP)] += 1
    row.emit(EV.CALL_GAVE_UP, channel, number=number, count=args.retries + 1)


def _await_answer(row: WorkerRow, client: RpcClientEnd, name: str, ident: int, number: int,
                  left: Callable[[], float]) -> str:
    """"answered", "timeout" or "lost" (the connection broke): reads answer lines,
    dropping late answers to earlier calls, until the one for `ident` comes or `left()`
    (the wall seconds to wait at most) says the timeout has passed."""
    cells = row.cells
    while True:
        line = client.read_line()
        if line is None:
            wait = left()
            if wait <= 0:
                return "timeout"
            with row.blocked(T.OP_CALL, name, number):
                row.wait(client.wait_readable, min(WAIT_SLICE_MS, max(1, int(wait * 1000))))
            continue
        if line == b"":
            return "lost"
        cells[row.counter(name, T.BYTES_READ)] += len(line) + 1
        try:
            got = json.loads(line).get("id")
        except (ValueError, AttributeError):
            got = None
        if got == ident:
            return "answered"
        stale = got & _DETAIL if isinstance(got, int) else 0
        row.emit(EV.STALE_ANSWER, row.index(name), number=stale)


@handles("serve")
def serve(row: WorkerRow, name: str) -> None:
    """Answer one call: from whichever client has a whole request line."""
    server = row.ends.rpc_server[name]
    cells = row.cells
    watch_refusals(row, name, server)
    got = server.next_request()
    while got is None:
        with row.blocked(T.OP_SERVE, name):
            row.wait(server.wait_readable, WAIT_SLICE_MS)
        got = server.next_request()
    conn, line = got
    cells[row.counter(name, T.BYTES_READ)] += len(line) + 1
    ident, method, params, error = _parse(line)
    if error is not None:
        cells[row.counter(name, T.RPC_ERRORS)] += 1
        cells[row.counter(name, T.BYTES_WRITTEN)] += server.answer(conn, answer(ident, error=error))
        return
    twice = server.executed_before(ident)
    result = _execute(row, method, params)
    server.record(ident)
    cells[row.counter(name, T.EXECUTED)] += 1
    if twice:
        cells[row.counter(name, T.EXECUTED_TWICE)] += 1
        row.emit(EV.EXECUTED_TWICE, row.index(name), number=ident & _DETAIL)
    cells[row.counter(name, T.BYTES_WRITTEN)] += server.answer(conn, answer(ident, result))


def _parse(line: bytes) -> tuple[Any, str, list, tuple[int, str] | None]:
    """(id, method, params, error): a JSON-RPC 2.0 request, or the error to answer."""
    try:
        req = json.loads(line)
    except ValueError:
        return None, "", [], (PARSE_ERROR, "Parse error")
    if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(
            req.get("method"), str) or not isinstance(req.get("id"), int):
        return None, "", [], (INVALID_REQUEST, "Invalid Request")
    ident, method, params = req["id"], req["method"], req.get("params", [])
    if method not in RPC_METHODS:
        return ident, method, [], (METHOD_NOT_FOUND, "Method not found")
    numbers = isinstance(params, list) and all(
        isinstance(p, (int, float)) and not isinstance(p, bool) for p in params)
    if method == "add" and not numbers or method == "sleep" and not (
            numbers and len(params) == 1 and 0 <= params[0] <= MAX_RPC_SLEEP):
        return ident, method, [], (INVALID_PARAMS, "Invalid params")
    return ident, method, params, None


def _execute(row: WorkerRow, method: str, params: list) -> Any:
    if method == "add":
        total = sum(params)
        return int(total) if float(total).is_integer() else total
    if method == "sleep":
        row.sleep(float(params[0]))
        return params[0]
    return params  # echo


@describes("call")
def describe_call(row: WorkerRow, args: CallArgs) -> Next:
    return (T.OP_CALL, row.index(args.on), RPC_METHODS.index(args.method))


@describes("serve")
def describe_serve(row: WorkerRow, name: str) -> Next:
    return (T.OP_SERVE, row.index(name), 0)
