"""`signal`, `wait_signal`, `block` and `unblock`: signals sent, awaited and masked."""

from __future__ import annotations

import signal as os_signal
import time

from ipcviz.host.process import ProcessIdentity
from ipcviz.scenario import schema
from ipcviz.scenario.plan import PARENT_TARGET
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker.boundary import Next, hold
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.signals import SignalArrived
from ipcviz.worker.steps.registry import describes, handles


@handles("signal")
def send_signal(row: WorkerRow, args: schema.SignalArgs) -> None:
    """`count` signals to each target (the runtime for `parent`), `interval` apart."""
    ctx, cells = row.ctx, row.cells
    if args.to == "parent":
        idents = [ctx.runtime]
        rows = [PARENT_TARGET]
    else:
        rows = list(ctx.plan.target_rows[args.to])
        idents = []
        for target in rows:
            base = ctx.table.row_base(target)
            idents.append(ProcessIdentity(cells[base + T.PID], cells[base + T.START]))
    sent_cell = row.base + T.SIG_SENT + args.sig
    pause_cell = row.pause_cell
    for ident, target in zip(idents, rows):
        sent = 0
        to_cell = row.sent_to_cells[(target, args.sig)]
        started = time.monotonic_ns()  # the event is dated when kill() was called
        for k in range(args.count):
            if k and args.interval:
                row.sleep(args.interval)
            if cells[pause_cell] & T.PAUSE_WORKER:  # paused (`p`, or the final reading)
                hold(row, (T.OP_CODE["signal"], -1, args.sig))  # mid-burst: what it sent
                # so far is counted, and the reading sees no more arrive
            # counted one by one, and before kill(): a long burst cut by the end of the
            # run has every signal it sent counted, and a reading never finds one
            # received that is not yet counted sent (taken back if kill() fails)
            cells[sent_cell] += 1
            cells[to_cell] += 1
            if ident.pid and ident.signal(args.sig):
                sent += 1
            else:
                cells[sent_cell] -= 1
                cells[to_cell] -= 1
        row.emit(EV.SENT, t_ns=started, signal=args.sig, peer_row=target, count=sent)


@handles("wait_signal")
def wait_signal(row: WorkerRow, sig: int) -> None:
    signals = row.signals
    baseline = signals.count(sig)
    row.set_op(T.OP_WAIT_SIGNAL, -1, sig)
    try:
        signals.awaited = sig
        while signals.count(sig) <= baseline:
            row.wait(time.sleep, 0.05)
    except SignalArrived:
        pass
    finally:
        signals.awaited = None
    row.emit(EV.WAITED, signal=sig)


@handles("block")
def block(row: WorkerRow, sigs: list[int]) -> None:
    os_signal.pthread_sigmask(os_signal.SIG_BLOCK, sigs)
    row.emit(EV.BLOCK, signal=sigs[0] if sigs else 0, count=len(sigs))
    row.mark_hidden_block()


@handles("unblock")
def unblock(row: WorkerRow, sigs: list[int]) -> None:
    row.emit(EV.UNBLOCK, signal=sigs[0] if sigs else 0, count=len(sigs))
    os_signal.pthread_sigmask(os_signal.SIG_UNBLOCK, sigs)
    row.mark_hidden_block()


@describes("signal")
def describe_signal(row: WorkerRow, args: schema.SignalArgs) -> Next:
    return (T.OP_CODE["signal"], -1, args.sig)


@describes("wait_signal")
def describe_wait_signal(row: WorkerRow, sig: int) -> Next:
    return (T.OP_WAIT_SIGNAL, -1, sig)


@describes("block")
def describe_block(row: WorkerRow, sigs: list[int]) -> Next:
    return (T.OP_CODE["block"], -1, sigs[0] if sigs else 0)


@describes("unblock")
def describe_unblock(row: WorkerRow, sigs: list[int]) -> Next:
    return (T.OP_CODE["unblock"], -1, sigs[0] if sigs else 0)


@handles("disposition")
def disposition(row: WorkerRow, args: schema.DispositionArgs) -> None:
    """signal(SIG, SIG_IGN) / signal(SIG, SIG_DFL), or the handler put back (sigaction)."""
    if args.action == "ignore":
        os_signal.signal(args.sig, os_signal.SIG_IGN)
    elif args.action == "default":
        os_signal.signal(args.sig, os_signal.SIG_DFL)
    else:
        row.signals.restore(args.sig)
    row.emit(EV.DISPOSITION, signal=args.sig, reason=DISPOSITION_INDEX[args.action])


#: a `disposition` step's action -> its index in op_words.DISPOSITIONS
DISPOSITION_INDEX = {"ignore": 0, "default": 1, "handler": 2}


@describes("disposition")
def describe_disposition(row: WorkerRow, args: schema.DispositionArgs) -> Next:
    return (T.OP_CODE["disposition"], -1, args.sig << 2 | DISPOSITION_INDEX[args.action])
