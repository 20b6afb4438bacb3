"""The sigaction_flags lesson and its mechanisms, run for real: signal dispositions set and
put back at run time, SA_RESTART against EINTR on a sleeping read(2), SA_RESETHAND's
second signal that kills, SA_NODEFER in the kernel; exact counts from real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from ipcviz.telemetry.ring_events import EventCode as EV

from .conftest import SCENARIOS, _leftovers_by_key, run_cli, run_scenario
from .waiting import wait_until


def _failed(summary: dict) -> list[dict]:
    return [r for r in summary["expect"] if not r["ok"]]


@pytest.fixture(scope="module")
def sigaction_run() -> Iterator[dict]:
    """One real run of the lesson, checked; nothing of it is left behind afterwards (the
    same check as the `nothing_left_behind` fixture, around the module's one run)."""
    before = set(_leftovers_by_key())
    yield run_scenario(SCENARIOS / "sigaction_flags.yaml", "--check")
    left: list[str] = []

    def cleared() -> bool:
        left[:] = [text for key, text in _leftovers_by_key().items() if key not in before]
        return not left

    wait_until(cleared, 5, message=lambda: f"nothing left behind; left behind: {left}")


def test_sigaction_flags_passes_its_checks(sigaction_run: dict) -> None:
    assert _failed(sigaction_run) == []
    assert sigaction_run["leaks"] == {"processes": 0, "ipc_objects": 0}
    boss = sigaction_run["workers"]["boss"]
    assert (boss["exit"], boss["signals_sent"]) == (0, {"SIGINT": 2, "SIGUSR1": 8})


def test_sig_ign_then_sig_dfl_put_back(sigaction_run: dict) -> None:
    """SIG_IGN: the first SIGINT is discarded by the kernel (nothing counts it, the
    process lives on); SIG_DFL put back: the second one kills."""
    ignorer = sigaction_run["workers"]["ignorer"]
    assert (ignorer["signals_received"], ignorer["exit"]) == ({}, "SIGINT")
    assert ignorer["signals_sent_to"] == {"SIGINT": 2}


def test_without_sa_restart_each_handler_run_is_one_eintr(sigaction_run: dict) -> None:
    """Three SIGUSR1 delivered while `plain` sleeps in read(2): three EINTR, three reads
    made again, then the 4 bytes."""
    plain = sigaction_run["workers"]["plain"]
    assert (plain["signals_received"], plain["bytes_read"], plain["exit"]) == (
        {"SIGUSR1": 3}, {"to_plain": 4}, 0)
    pipe = sigaction_run["channels"]["to_plain"]
    assert (pipe["interrupted_reads"], pipe["restarted_reads"]) == (3, 0)
    assert (pipe["bytes_written"], pipe["bytes_read"]) == (4, 4)


def test_sa_restart_restarts_the_read_in_the_kernel(sigaction_run: dict) -> None:
    """The same three SIGUSR1 with SA_RESTART: the handler ran three times, the read never
    returned EINTR: the kernel restarted it three times."""
    restarter = sigaction_run["workers"]["restarter"]
    assert (restarter["signals_received"], restarter["bytes_read"], restarter["exit"]) == (
        {"SIGUSR1": 3}, {"to_restarter": 4}, 0)
    pipe = sigaction_run["channels"]["to_restarter"]
    assert (pipe["interrupted_reads"], pipe["restarted_reads"]) == (0, 3)


def test_sa_resethand_the_second_signal_kills(sigaction_run: dict) -> None:
    oneshot = sigaction_run["workers"]["oneshot"]
    assert oneshot["signals_sent_to"] == {"SIGUSR1": 2}
    assert (oneshot["signals_received"], oneshot["exit"]) == ({"SIGUSR1": 1}, "SIGUSR1")


#: a process of its own: installs handlers the way a worker does (SignalCounter, cells in
#: a private buffer), sends itself signals, prints what the kernel holds and what counted
KERNEL_PROBE = textwrap.dedent("""
    import os, signal, sys, time
    from ipcviz.telemetry import table as T
    from ipcviz.worker import sigaction
    from ipcviz.worker.signals import SignalCounter

    cells = memoryview(bytearray(8 * (T.SIG_SENT + 8))).cast("q")
    flags = sys.argv[1:]
    counter = SignalCounter(cells, 0, {signal.SIGUSR1: "count"}, lambda *a: None)
    counter.install([], {signal.SIGUSR1: flags} if flags else {})
    before = sigaction.flags_now(signal.SIGUSR1)
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.05)
    counter.drain()
    handler = sigaction.current(signal.SIGUSR1).handler
    print(before, counter.count(signal.SIGUSR1), "handler" if handler else "SIG_DFL")
""")


def _probe(*flags: str) -> tuple[int, int, str]:
    out = subprocess.run([sys.executable, "-c", KERNEL_PROBE, *flags], capture_output=True,
                         text=True, timeout=30, cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr
    before, counted, after = out.stdout.split()
    return int(before), int(counted), after


@pytest.mark.parametrize("flag, bit", [("SA_RESTART", 0x10000000),
                                       ("SA_RESETHAND", 0x80000000),
                                       ("SA_NODEFER", 0x40000000)])
def test_each_flag_is_set_in_the_kernel(flag: str, bit: int) -> None:
    """The kernel's own sa_flags (read back with sigaction) carry exactly the bit asked
    for on CPython's handler, which still counts the delivery once; SA_RESETHAND alone
    leaves SIG_DFL behind it."""
    plain_flags, counted, after = _probe()
    assert plain_flags & 0xD0000000 == 0 and (counted, after) == (1, "handler")
    flags, counted, after = _probe(flag)
    assert flags & 0xD0000000 == bit
    assert flags & ~bit == plain_flags  # nothing else changed (SA_ONSTACK kept)
    assert (counted, after) == (1, "SIG_DFL" if flag == "SA_RESETHAND" else "handler")


BAD = textwrap.dedent("""\
    version: 1
    channels:
      p: {kind: pipe}
      arr: {kind: shared_array, dtype: int64, shape: [2]}
    workers:
      a:
        handlers: {SIGUSR1: ignore, SIGTERM: count}
        sa_flags: {SIGUSR1: [SA_RESTART], SIGTERM: [SA_NODEFER, SA_NODEFER]}
        steps:
          - disposition: {sig: SIGKILL, action: ignore}
          - disposition: {sig: SIGUSR2, action: handler}
          - read: {from: arr, interruptible: true}
          - read: {from: p, interruptible: true, block: false}
      b:
        sa_flags: {SIGUSR1: [SA_ONESHOT]}
        steps:
          - disposition: {sig: SIGINT, action: sometimes}
""")


def test_wrong_sigaction_keys_are_errors_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = sorted(line.split(": ", 1)[0].split(":", 1)[1] + ": " + line.split(": ", 2)[1]
                   for line in result.stderr.splitlines() if line.strip())
    assert lines == sorted([
        "8:25: workers.a.sa_flags.SIGUSR1",
        "8:61: workers.a.sa_flags.SIGTERM[1]",
        "10:28: workers.a.steps[0].disposition.sig",
        "11:45: workers.a.steps[1].disposition.action",
        "12:22: workers.a.steps[2].read.from",
        "13:53: workers.a.steps[3].read.block",
        "15:26: workers.b.sa_flags.SIGUSR1[0]",
        "17:44: workers.b.steps[0].disposition.action",
    ]), result.stderr


def test_a_restarted_read_never_shows_its_signals_as_coalesced(nothing_left_behind) -> None:
    """While `restarter` sleeps in its restarted read(2), the three SIGUSR1 it was sent
    have run its C handler but are counted only when the read returns: no frame may call
    any of them coalesced (they were all delivered), and the counts catch up at once."""
    from .live import LiveRun

    seen: list[tuple[int, int, dict]] = []
    with LiveRun(str(SCENARIOS / "sigaction_flags.yaml")) as run:
        def observed(snap) -> bool:
            worker = snap.worker("restarter")
            seen.append((worker.signals_sent_to.get("SIGUSR1", 0),
                         worker.signals_received.get("SIGUSR1", 0),
                         dict(worker.signals_merged or {})))
            return worker.exit is not None

        run.wait_for(observed, timeout=30)
    assert [merged for _sent, _got, merged in seen if merged] == []
    asleep_after_all_three = [got for sent, got, _m in seen if sent == 3]
    assert asleep_after_all_three and asleep_after_all_three[-1] == 3


# ---------------------------------------------------------------- shm_lifetime


def test_shm_lifetime_passes_its_checks_with_exact_counts(nothing_left_behind) -> None:
    """18 bytes written by maker, read back by later after maker exited, the name then
    unlinked by cleaner; region truncated from 8192 to 4096 B under toucher's mapping,
    whose store at 4096 ends it with SIGBUS; the runtime unlinks region at the end."""
    summary = run_scenario(SCENARIOS / "shm_lifetime.yaml", "--check")
    assert _failed(summary) == []
    workers, channels = summary["workers"], summary["channels"]
    assert (workers["maker"]["exit"], workers["maker"]["bytes_written"]) == (0, {"note": 18})
    assert (workers["later"]["exit"], workers["later"]["bytes_read"]) == (0, {"note": 18})
    note = channels["note"]
    assert note["last_read"] == {"later": ["kept by the kern", 18]}  # (16 bytes kept)
    assert (note["in_dev_shm"], note["size"], note["declared_size"]) == (False, 0, 4096)
    assert "unlinked_by_runtime" not in note  # cleaner unlinked it, not the runtime
    toucher = workers["toucher"]
    assert (toucher["exit"], toucher["bytes_written"]) == ("SIGBUS", {"region": 6})
    region = channels["region"]
    assert (region["in_dev_shm"], region["size"], region["declared_size"],
            region["contents"], region["unlinked_by_runtime"]) == (True, 4096, 8192,
                                                                   "page 1", True)
    assert not os.path.lexists(region["path"]) and not os.path.lexists(note["path"])
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def _holders(path: str) -> list[str]:
    """Every process on the machine that has `path` open or mapped (root sees them all)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue  # gone, or not ours to read
        if path in maps or path in links:
            found.append(pid)
    return found


def test_the_object_is_still_there_when_no_process_holds_it(nothing_left_behind) -> None:
    """On a frame after maker and later have exited and before cleaner unlinks it, `note`
    is in /dev/shm with maker's bytes while no process on the machine has it open or
    mapped (the runtime neither); the panel says so, and says why toucher got SIGBUS."""
    from ipcviz.tui.widgets.shm_object_lines import shm_object_lines

    from .live import LiveRun

    region_held_by: set[tuple[str, ...]] = set()
    with LiveRun(str(SCENARIOS / "shm_lifetime.yaml")) as run:
        def kept(snap) -> bool:
            region_held_by.add(tuple(snap.channel("region").data.get("held_by", ("?",))))
            ended = {w.name for w in snap.workers if w.state == "exited"}
            return ({"maker", "later", "toucher"} <= ended
                    and snap.channel("note").data.get("in_dev_shm") is True)

        snap = run.wait_for(kept, timeout=30)
        note = snap.channel("note").data
        holders = _holders(note["path"])
        text = "\n".join(line.plain for c in ("note", "region")
                         for line in shm_object_lines(snap.channel(c), snap))
        run.wait_for(lambda s: s.channel("note").data.get("in_dev_shm") is False, timeout=30)
        events = [(e.event.code, e.event.channel, e.event.number, e.event.value)
                  for e in run.events if e.worker == "toucher" and e.event]
        said = [e.text for e in run.events if e.worker == "toucher" and not e.event]
    assert (note["size"], note["contents"], note["held_by"]) == (4096, "kept by the kernel", [])
    assert holders == []
    assert "open or mapped by: no process" in text
    assert ("toucher",) in region_held_by  # its mapping, seen in /proc while it lived
    assert "in /dev/shm: 4096 B" in text
    assert "maker (exited 0)" in text and "later (exited 0)" in text
    assert "truncated from 8192 B" in text and "SIGBUS" in text
    assert (EV.PAST_END, "region", 4096, 4096) in events  # (offset touched, size then)
    assert "killed by SIGBUS" in said  # the runtime's own line


def test_wrong_shm_keys_are_errors_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        channels:
          p: {kind: pipe}
          o: {kind: shm, size: 4096}
        workers:
          a:
            steps:
              - write: {to: p, data: x, at: 3}
              - write: {to: o, data: x, at: 4096}
              - truncate: {shm: p, size: 10}
              - truncate: {shm: o, size: -1}
              - unlink: p
    """))
    result = run_cli("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    where = [line.split(": ", 1)[0].split(":", 1)[1] for line in result.stderr.splitlines()]
    assert where == ["8:37", "9:37", "10:25", "11:34", "12:17"], result.stderr


def test_the_pipes_panel_says_eintr_and_restarts(sigaction_run: dict) -> None:
    """The pipes panel's line for each pipe, from the summary's own channel entries."""
    from ipcviz.telemetry.snapshot import ChannelView
    from ipcviz.tui.widgets.eintr_note import eintr_note

    def line(name: str) -> str:
        entry = sigaction_run["channels"][name]
        return eintr_note(name, ChannelView.of(name, entry["kind"], entry).state).plain

    assert line("to_plain") == ("  to_plain: read(2) returned EINTR 3×; restarts (SA_RESTART)"
                                " are counted when the read returns")
    assert line("to_restarter") == ("  to_restarter: read(2) returned EINTR 0×; the kernel "
                                    "restarted reads after 3 handler runs (SA_RESTART)")
