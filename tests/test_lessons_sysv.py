"""System V message queues (`sysv_queue`) and the lesson `sysv_message_types`, run for
real: a receive by type skips the other types queued ahead, counted exactly by type;
the queue is in `ipcs -q` while the run lives and gone after it, however it ended."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from ipcviz.host.process import ProcessIdentity

from .conftest import SCENARIOS, run_cli, run_scenario
from .live import LiveRun
from .waiting import wait_until

LESSON = SCENARIOS / "sysv_message_types.yaml"

#: three type-1 messages, then a receiver asks for type 2 and waits; a sleeper keeps the
#: run alive
WAITING = """\
version: 1
name: waits for type 2
duration: 30
channels:
  mail: {kind: sysv_queue}
workers:
  sender:
    steps:
      - send: {to: mail, type: 1, data: "one"}
      - send: {to: mail, type: 1, data: "one"}
      - send: {to: mail, type: 1, data: "one"}
  picky:
    steps:
      - receive: {from: mail, type: 2}
"""


def sysv_queues() -> dict[int, tuple[int, int]]:
    """The System V message queues of our uid: {msqid: (key, messages)}, from the kernel's
    own list (what `ipcs -q` prints)."""
    out = {}
    with open("/proc/sysvipc/msg") as fh:
        next(fh)
        for line in fh:
            key, msqid, _perms, _cbytes, qnum, *rest = line.split()
            if int(rest[2]) == os.getuid():
                out[int(msqid)] = (int(key), int(qnum))
    return out


def ipcs_lists(key: str) -> bool:
    """`ipcs -q` lists a queue of this key ("0x1234abcd")."""
    listing = subprocess.run(["ipcs", "-q"], capture_output=True, text=True, timeout=10)
    return any(line.split()[:1] == [key] for line in listing.stdout.splitlines())


def test_the_lesson_counts_each_type_exactly(nothing_left_behind) -> None:
    """Seven sent (five of type 1, two of type 2); `urgent` takes the two of type 2,
    skipping the type-1 messages ahead; `reader` takes the oldest (type 1); four of type
    1 stay, read in place from the kernel; the queue is removed at the end."""
    summary = run_scenario(LESSON, "--check")
    assert [r for r in summary["expect"] if not r["ok"]] == []
    checked = {r["check"] for r in summary["expect"]}
    assert {"mail queued_by_type 1 == 4", "mail received_by_type 2 == 2"} <= checked
    mail = summary["channels"]["mail"]
    assert mail["kind"] == "sysv_queue"
    assert (mail["messages_sent"], mail["messages_received"], mail["depth"]) == (7, 3, 4)
    assert mail["sent_by_type"] == {"1": 5, "2": 2}
    assert mail["received_by_type"] == {"1": 1, "2": 2}
    assert mail["queued_by_type"] == {"1": 4}
    assert (mail["bytes_sent"], mail["bytes_received"]) == (5 * 7 + 2 * 6, 2 * 6 + 7)
    workers = summary["workers"]
    assert workers["urgent"]["messages_received"] == {"mail": 2}
    assert workers["reader"]["messages_received"] == {"mail": 1}
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
    assert mail["msqid"] not in sysv_queues()
    assert not ipcs_lists(mail["key"])


def test_a_receive_by_type_waits_past_other_types_in_ipcs(nothing_left_behind,
                                                          scenario_file) -> None:
    """Three type-1 messages queued and a receiver asking for type 2 sleeps in msgrcv:
    the queue keeps all three, listed by `ipcs -q` with its key; gone when the run ends."""
    with LiveRun(str(scenario_file(WAITING))) as run:
        snap = run.wait_for(lambda s: s.channel("mail").data.get("depth") == 3
                            and s.worker("picky").state == "blocked")
        mail = snap.channel("mail").data
        assert mail["queued_by_type"] == {"1": 3}
        assert mail["messages_received"] == 0 and mail.get("received_by_type") == {}
        assert snap.worker("picky").waiting == ("receive", "mail")
        assert sysv_queues()[mail["msqid"]] == (int(mail["key"], 16), 3)
        assert ipcs_lists(mail["key"])
    wait_until(lambda: mail["msqid"] not in sysv_queues(), message="the queue removed")
    assert not ipcs_lists(mail["key"])


def test_a_killed_runtime_leaves_its_queue_to_the_sweep(nothing_left_behind,
                                                        scenario_file) -> None:
    """SIGKILL gives the runtime no chance to remove the queue: it stays, registered,
    and `ipcviz clean` removes it (the kernel says it is ours)."""
    with LiveRun(str(scenario_file(WAITING))) as run:
        snap = run.wait_for(lambda s: s.channel("mail").data.get("depth") == 3)
        msqid = snap.channel("mail").data["msqid"]
        workers = [ProcessIdentity.of(w.pid) for w in snap.workers if w.pid]
        os.kill(run.source.proc.pid, signal.SIGKILL)
        wait_until(lambda: not any(w and w.exists() for w in workers), message="workers to die")
        wait_until(lambda: run.source.proc.poll() is not None, message="the runtime reaped")
        assert msqid in sysv_queues(), "a SIGKILLed runtime cannot remove its queue"
        result = run_cli("clean")
    assert result.returncode == 0
    assert "sysv_msg" in result.stdout
    assert msqid not in sysv_queues()


def run_queue_keys(pid: int) -> set[int]:
    """The System V keys the registries of the runs process `pid` and its children made
    hold (`<run root>/<run id>/registry.json`; a run id starts with its maker's pid)."""
    import json

    import psutil

    from ipcviz.host.ownership import sysv_key

    pids = {pid} | {p.pid for p in psutil.Process(pid).children(recursive=True)}
    keys = set()
    for directory in Path(os.environ["IPCVIZ_RUN_ROOT"]).iterdir():
        if int(directory.name.split("-")[0]) not in pids:
            continue
        try:
            lines = (directory / "registry.json").read_text().splitlines()[1:]
        except OSError:
            continue
        keys |= {sysv_key(entry["name"]) for entry in map(json.loads, lines)
                 if entry.get("kind") == "sysv_msg" and not entry.get("dropped")}
    return keys


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stopped_headless_run_removes_its_queue(nothing_left_behind, scenario_file,
                                                  sig: int) -> None:
    """SIGTERM, Ctrl-C or a hang-up to a headless run: its queue (found by the key its
    run registered) is removed as the run ends."""
    proc = subprocess.Popen([os.sys.executable, "-m", "ipcviz", "run",
                             str(scenario_file(WAITING)), "--headless", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    keys: set[int] = set()

    def filled() -> bool:
        keys.update(run_queue_keys(proc.pid))
        return any(key == k and n == 3 for key, n in sysv_queues().values() for k in keys)

    try:
        wait_until(filled, message="the queue filled")
        proc.send_signal(sig)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_until(lambda: not keys & {key for key, _ in sysv_queues().values()},
               message="the queue removed")


@pytest.mark.parametrize(("step", "column", "words"), [
    ('send: {to: mail, type: 0, data: "x"}', 32, "send.type: Input should be greater than "
                                                 "or equal to 1"),
    ('send: {to: mail, type: -2, data: "x"}', 32, "send.type: Input should be greater than "
                                                  "or equal to 1"),
    ('send: {to: mail, type: 5, data: "x"}', 32, "send.type: Input should be less than or "
                                                 "equal to 4"),
    ('send: {to: mail, data: "x"}', 15, "a send to a sysv_queue needs `type:`"),
    ('send: {to: mq, type: 1, data: "x"}', 30, "mqueue channels have no message types"),
    ('send: {to: mail, type: 1, priority: 3, data: "x"}', 45, "not priorities"),
    ("receive: {from: mail, type: 0}", 37, "receive.type: Input should be greater than or "
                                           "equal to 1"),
    ("receive: {from: mail, timeout: 1}", 40, "msgrcv has no timeout"),
    ('send: {to: mail, type: 1, size: 9000}', 15, "over /proc/sys/kernel/msgmax"),
])
def test_a_wrong_message_type_is_one_line_with_its_place(scenario_file, step: str,
                                                         column: int, words: str) -> None:
    path = scenario_file(f"""\
version: 1
name: bad
channels:
  mail: {{kind: sysv_queue}}
  mq: {{kind: mqueue}}
workers:
  a:
    steps:
      - {step}
""")
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:9:{column}: workers.a.steps[0].")
    assert words in lines[0]
    assert "Traceback" not in result.stderr


def test_the_queues_panel_says_each_type(nothing_left_behind, scenario_file) -> None:
    """The panel's line per type, from a live frame: three of type 1 queued, none taken;
    then the key the queue has in `ipcs -q`."""
    from ipcviz.tui.widgets.queues import type_lines

    with LiveRun(str(scenario_file(WAITING))) as run:
        snap = run.wait_for(lambda s: s.channel("mail").data.get("depth") == 3)
        mail = snap.channel("mail")
        lines = [line.plain for line in type_lines([mail])]
    assert lines == [" mail type 1: sent 3, received 0, queued 3",
                     f" mail is key {mail.data['key']} in `ipcs -q` while the run lives"]


def test_a_planted_key_is_left_alone_and_another_is_used(nothing_left_behind) -> None:
    """Another process holds the key the channel's name gives (a squatter who read the
    run id): the channel takes a key of a name nobody can guess, and the run's cleanup
    removes its own queue and never the planted one."""
    import sysv_ipc

    from ipcviz.channels.sysv_queue import SysvQueueChannel
    from ipcviz.host.ownership import sysv_key
    from ipcviz.host.registry import Registry
    from ipcviz.scenario.models import SysvQueueChannel as Options

    registry = Registry.create()
    planted = sysv_ipc.MessageQueue(sysv_key(registry.ipc_name("mail")), sysv_ipc.IPC_CREX,
                                    mode=0o600)
    try:
        channel = SysvQueueChannel("mail", 0, Options(kind="sysv_queue"), registry)
        channel.create()
        assert channel.key != planted.key
        assert channel.ipc_name.startswith(registry.ipc_name("mail") + ".")
        ours = channel.queue.id
        assert {ours, planted.id} <= set(sysv_queues())
        registry.remove_all()
        assert ours not in sysv_queues()
        assert planted.id in sysv_queues()
    finally:
        planted.remove()


@pytest.mark.parametrize(("check", "column", "words"), [
    ('{channel: mail, queued_by_type: {1: 4}}', 41,
     'expect[0].queued_by_type[1]: expected 1, 2, 3, 4 (as text), e.g. {"1": 1}, got 1'),
    ('{channel: mail, queued_by_type: {"7": 4}}', 43,
     "expect[0].queued_by_type.7: '7' is not an item of queued_by_type (1, 2, 3, 4)"),
    ('{channel: mail, received_by_type: 4}', 39,
     "expect[0].received_by_type: 'received_by_type' holds a mapping: give its items"),
    ('{channel: mq, sent_by_type: {"1": 4}}', 33,
     "expect[0].sent_by_type: channel 'mq' has no 'sent_by_type' in its summary entry"),
])
def test_a_wrong_count_by_type_in_expect_is_one_line(scenario_file, check: str,
                                                     column: int, words: str) -> None:
    path = scenario_file(f"""\
version: 1
name: bad
channels:
  mail: {{kind: sysv_queue}}
  mq: {{kind: mqueue}}
workers:
  a:
    steps:
      - send: {{to: mail, type: 1, data: "x"}}
expect:
  - {check}
""")
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:11:{column}: {words}")


def test_messages_up_to_msgmax_go_through_whole(nothing_left_behind, scenario_file) -> None:
    """An 8,000-byte message of type 3 behind a 5,000-byte one of type 1 (both under the
    kernel's msgmax of 8,192 with their header): sent, the type-3 one received whole, and
    the other's type still read in place from the kernel."""
    summary = run_scenario(scenario_file("""\
version: 1
name: big messages
channels:
  mail: {kind: sysv_queue}
workers:
  a:
    steps:
      - send: {to: mail, type: 1, size: 5000}
      - send: {to: mail, type: 3, size: 8000}
  b:
    steps:
      - sleep: 0.3
      - receive: {from: mail, type: 3}
"""))
    mail = summary["channels"]["mail"]
    assert (mail["messages_sent"], mail["messages_received"], mail["depth"]) == (2, 1, 1)
    assert (mail["bytes_sent"], mail["bytes_received"]) == (13000, 8000)
    assert mail["queued_by_type"] == {"1": 1}
    assert mail["received_by_type"] == {"3": 1}
    assert summary["workers"]["a"]["exit"] == 0 and summary["workers"]["b"]["exit"] == 0
