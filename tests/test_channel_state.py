"""Channel state crosses to the UI typed (ipcviz/channels/state.py): each typed kind's
frame data becomes its family's frozen state and back, key for key and in the same order
(the JSON summary and recordings are unchanged); a real run's frames carry the typed
state with exact counts; the scenario format names no panel (the UI picks one by family).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from ipcviz.channels.lock_state import Holder, LockState
from ipcviz.channels.memory_state import (ArrayState, MmapState, PageState, ShmState,
                                          WindowState)
from ipcviz.channels.queue_state import QueueState
from ipcviz.channels.rpc_state import RpcState
from ipcviz.channels.state import DictState, FileState, PipeState, Race, SocketState
from ipcviz.scenario.kinds import CHANNELS, ChannelKind
from ipcviz.scenario.load import load_text
from ipcviz.telemetry.snapshot import ChannelView, Snapshot

from .conftest import ROOT

PIPE = {"bytes_written": 12, "bytes_read": 8, "last_read": {"r": ["hello", 5]},
        "buffered": 4, "max_buffered": 9, "capacity": 65536, "write_ends": ["w fd 4"],
        "read_ends": ["r fd 3"], "write_ends_open": 1, "read_ends_open": 1,
        "moved": 8, "mb_per_s": 0.0, "rank": 1}
FIFO = {"bytes_written": 3, "bytes_read": 3, "last_read": {}, "buffered": 0,
        "max_buffered": 3, "capacity": 65536, "closed": True, "unread_at_close": 0,
        "path": "/tmp/x/f", "open_by": {"write": [], "read": ["r"]}}
SOCKET = {"bytes_written": 10, "bytes_read": 10, "last_read": {}, "writes": 2, "reads": 1,
          "peers_refused": 0, "address": "127.0.0.1:4000", "family": "tcp", "server": "s",
          "connections": 1, "accept_queue": 0, "max_accept_queue": 4}
MQUEUE = {"messages_sent": 5, "messages_received": 3, "bytes_sent": 50, "bytes_received": 30,
          "refused": 1, "empty_receives": 0, "depth": 2, "capacity": 4, "max_depth": 4,
          "message_size": 10}
RENDEZVOUS = {"messages_sent": 2, "messages_received": 1, "bytes_sent": 2,
              "bytes_received": 1, "refused": 0, "empty_receives": 0, "depth": 0,
              "capacity": 0, "max_depth": 0, "spool_bytes": 96, "waiting_senders": 1}
SYSV = {"messages_sent": 4, "messages_received": 3, "bytes_sent": 4, "bytes_received": 3,
        "refused": 0, "empty_receives": 2, "depth": 1, "max_depth": 2, "bytes_queued": 1,
        "byte_capacity": 16384, "key": "0x1234abcd", "msqid": 7,
        "queued_by_type": {"2": 1}, "received_by_type": {"1": 2, "2": 1},
        "sent_by_type": {"1": 2, "2": 2}}
MUTEX = {"value": 0, "initial": 1, "max_held": 1, "held": 1, "holders": [Holder("a", True)],
         "waiters": ["b"]}
GONE = {"value": None, "initial": 2, "max_held": 2}
RPC = {"calls": 1, "answered": 0, "in_flight": 1, "timeouts": 0, "retries": 0, "gave_up": 0,
       "executed": 0, "executed_twice": 0, "errors": 0, "latency_ms_mean": None,
       "latency_ms_max": None, "callers": {"c": {"calls": 1, "latency_ms_mean": None}},
       "bytes_written": 60, "bytes_read": 0, "peers_refused": 0, "address": "/tmp/x/r",
       "family": "unix", "server": "s", "connections": 1}
FILE = {"bytes_written": 40, "bytes_read": 20, "records_written": 4, "records_read": 2,
        "torn_reads": 1, "path": "/tmp/x/log", "lock": False, "file_bytes": 40}
MMAP = {"bytes_written": 200, "bytes_read": 64, "path": "/tmp/x/m", "size": 4096,
        "write_offset": 200, "preview": "6869", "window_at": 144, "window": "00ff",
        "moved": 64, "mb_per_s": 0.5, "rank": 2, "syscalls_counted": True, "messages": 4,
        "syscalls": 9, "syscalls_per_message": 2.25, "cpu_us_per_message": 3.5,
        "copy_calls": 0, "copy_calls_per_message": 0.0}
SHM = {"bytes_written": 5, "bytes_read": 5, "last_read": {"r": ["hello", 5]},
       "path": "/dev/shm/x", "declared_size": 4096, "in_dev_shm": True, "size": 4096,
       "contents": "hello", "held_by": ["r"], "unlinked_by_runtime": True}
PAGE = {"bytes_written": 2, "bytes_read": 0, "last_read": {}, "shared": False, "size": 4096,
        "address": "0x7f00", "seen_by": {"a": ["0x7f00", None, None]},
        "frames_hidden": True, "same_address": None, "same_frame_first": None,
        "same_frame_last": None, "values_read": {}}
WINDOW = {"bytes_written": 0, "bytes_read": 8192, "path": "/tmp/x/w", "file_size": 1 << 28,
          "offset": 0, "length": 1 << 20, "window_pages": 256, "file_blocks_bytes": None,
          "pages_touched": 2, "rss_pages": None, "faults": 2, "major_faults": 0}
ARRAY = {"dtype": "int32", "shape": [2, 2], "shm_path": "/dev/shm/a", "sum": 7,
         "initial_sum": 6, "values": [[0, 2], [2, 3]], "last_writer": [[-1, 0], [-1, -1]],
         "increments": 3, "lost_updates": 2}
BIG = {"dtype": "float32", "shape": [100, 100], "shm_path": "/dev/shm/b", "sum": 1.0,
       "initial_sum": 0.0, "values": {"min": 0.0, "max": 1.0, "sum": 1.0},
       "heat": [[0.0, 1.0]], "elements": [[[0, 1], 1.0]], "increments": 1,
       "lost_updates": None, "lost_updates_note": "rounding"}


@pytest.mark.parametrize("kind, data, state", [
    ("pipe", PIPE, PipeState), ("fifo", FIFO, PipeState), ("socket", SOCKET, SocketState),
    ("file", FILE, FileState), ("mqueue", MQUEUE, QueueState),
    ("queue", RENDEZVOUS, QueueState), ("sysv_queue", SYSV, QueueState),
    ("semaphore", MUTEX, LockState), ("semaphore", GONE, LockState),
    ("rpc", RPC, RpcState), ("mmap", MMAP, MmapState), ("shm", SHM, ShmState),
    ("page", PAGE, PageState), ("window", WINDOW, WindowState),
    ("shared_array", ARRAY, ArrayState), ("shared_array", BIG, ArrayState)])
def test_a_streams_data_is_its_typed_state_and_back_key_for_key(kind, data, state) -> None:
    view = ChannelView.of("c", kind, data)
    assert type(view.state) is state
    assert list(view.state.to_dict().items()) == list(data.items())  # the order too
    again = Snapshot.from_dict(json.loads(json.dumps(
        Snapshot("s", 1.0, True, channels=(view,)).to_dict())))
    assert again.channels == (view,)


def test_typed_fields_are_read_not_keys() -> None:
    pipe = ChannelView.of("p", "pipe", PIPE).state
    assert isinstance(pipe, PipeState) and not pipe.named
    assert (pipe.written, pipe.read, pipe.buffered, pipe.race) == (12, 8, 4, Race(8, 0.0, 1))
    fifo = ChannelView.of("f", "fifo", FIFO).state
    assert isinstance(fifo, PipeState) and fifo.named and fifo.closed
    socket = ChannelView.of("s", "socket", {**SOCKET, "type": "dgram"}).state
    assert isinstance(socket, SocketState) and socket.datagrams
    with pytest.raises(dataclasses.FrozenInstanceError):
        pipe.bytes_read = 0  # type: ignore[misc]


def test_a_pipe_only_programs_use_has_no_byte_counts() -> None:
    """No step counted its bytes: the keys are absent, not 0, and stay absent."""
    data = {"buffered": 0, "capacity": 65536, "uncounted": True,
            "traced_bytes": {"ls": [79, 0]}}
    state = ChannelView.of("p", "pipe", data).state
    assert isinstance(state, PipeState) and state.bytes_written is None
    assert state.to_dict() == data


def test_the_stream_relations_live_on_the_state() -> None:
    """written - read = in the kernel, and no counter goes down from the frame before."""
    broken = ChannelView.of("p", "pipe", {**PIPE, "buffered": 3}).state
    assert [b.rule for b in broken.relations(None)] == ["written - read = in the kernel"]
    before = ChannelView.of("s", "socket", {**SOCKET, "reads": 2}).state
    now = ChannelView.of("s", "socket", SOCKET).state
    assert now.relations(before) == [("counters never go down", {"reads": 1, "before": 2})]


def test_the_queue_relations_live_on_the_state() -> None:
    """sent - received = depth (with a rendezvous's waiting senders), and per type sent =
    received + queued."""
    for data in (MQUEUE, RENDEZVOUS, SYSV):
        assert ChannelView.of("q", "queue", data).state.relations(None) == []
    lost = ChannelView.of("q", "mqueue", {**MQUEUE, "depth": 1}).state
    assert lost.relations(None) == [("sent - received = depth",
                                     {"sent": 5, "received": 3, "depth": 1})]
    typed = ChannelView.of("q", "sysv_queue", {**SYSV, "sent_by_type": {"1": 3, "2": 2}})
    assert typed.state.relations(None) == [("sent = received + queued, per type",
                                            {"type": 1, "sent": 3, "received": 2,
                                             "queued": 0})]


def test_the_lock_relations_live_on_the_state() -> None:
    """value = initial - held, and nobody waits for a lock it holds; a semaphore that is
    gone keeps its null value (the key is there)."""
    assert ChannelView.of("m", "semaphore", MUTEX).state.relations(None) == []
    both = ChannelView.of("m", "semaphore", {**MUTEX, "waiters": ["a"]}).state
    assert both.relations(None) == [("nobody waits for a lock it holds", {"workers": ["a"]})]
    gone = ChannelView.of("g", "semaphore", GONE).state
    assert isinstance(gone, LockState) and gone.to_dict()["value"] is None
    old = {**MUTEX, "holder": "a"}  # recordings made before `holders` carry `holder` too
    assert ChannelView.of("m", "semaphore", old).state.to_dict() == old


def test_a_kind_this_ipcviz_does_not_know_keeps_its_keys() -> None:
    view = ChannelView.of("x", "newer_kind", {"depth": 3, "rank": 2, "moved": 9})
    assert isinstance(view.state, DictState)
    assert view.state.to_dict() == {"depth": 3, "moved": 9, "mb_per_s": 0.0, "rank": 2}


def test_a_view_made_from_a_dict_says_how_to_make_one() -> None:
    with pytest.raises(TypeError, match="ChannelView.of"):
        ChannelView("p", "pipe", {"bytes_written": 1})  # type: ignore[arg-type]


def test_the_format_names_no_panel_and_every_family_has_one() -> None:
    from ipcviz.tui.widgets.channel_panels import FAMILY_PANELS, panel_of

    assert "panel" not in {f.name for f in dataclasses.fields(ChannelKind)}
    assert {row.family for row in CHANNELS.values()} <= FAMILY_PANELS.keys()
    assert [panel_of(k) for k in ("pipe", "fifo", "socket", "file", "mqueue", "mmap",
                                  "semaphore", "rpc", "no_such_kind")] == [
        "pipes", "pipes", "pipes", "pipes", "queues", "memory", "locks", "rpc", None]


def test_an_old_recordings_pipe_frames_load_typed() -> None:
    """A recording made before the state was typed: every pipe frame is a PipeState whose
    relations hold."""
    from ipcviz.telemetry.recording_file import read_recording

    frames = read_recording(f"{ROOT}/tests/recordings/pipe_oneway.jsonl")
    pipes = [c.state for f in frames for c in f.channels if c.kind == "pipe"]
    assert pipes and all(isinstance(p, PipeState) for p in pipes)
    assert all(p.relations(None) == [] for p in pipes)


def test_a_real_runs_frames_carry_exact_typed_counts(nothing_left_behind) -> None:
    """Three writes of 100 bytes, all read: the last frame's pipe is a PipeState with
    exactly 300 written, 300 read and nothing left in the kernel."""
    from ipcviz.runtime.headless import run_headless

    scenario = load_text(b"""\
version: 1
name: typed
duration: 20
channels:
  p: {kind: pipe}
workers:
  w:
    steps:
      - repeat: {times: 3, steps: [{write: {to: p, size: 100}}]}
  r:
    steps:
      - repeat: {times: 3, steps: [{read: {from: p, bytes: 100}}]}
""", "typed.yaml")
    frames: list[Snapshot] = []
    run_headless(scenario, on_snapshot=frames.append)
    state = frames[-1].channel("p").state
    assert isinstance(state, PipeState)
    assert (state.bytes_written, state.bytes_read, state.buffered) == (300, 300, 0)


def test_the_memory_relations_live_on_the_state() -> None:
    """One address in every process, a shared page one frame; pages touched within the
    window and all resident; gained = increments - lost updates, lost ones never found
    again; an unlinked shm name does not come back."""
    for kind, data in (("page", PAGE), ("window", WINDOW), ("shared_array", ARRAY),
                       ("shared_array", BIG), ("shm", SHM), ("mmap", MMAP)):
        assert ChannelView.of("m", kind, data).state.relations(None) == []
    moved = ChannelView.of("p", "page", {**PAGE, "seen_by": {"a": ["0x8000", 1, 2]}}).state
    assert moved.relations(None) == [("one virtual address in every process",
                                      {"a": "0x8000", "mapped at": "0x7f00"})]
    split = ChannelView.of("p", "page", {**PAGE, "shared": True, "same_frame_last": False,
                                         "seen_by": {"a": ["0x7f00", 5, 5],
                                                     "b": ["0x7f00", 5, 6]}}).state
    assert split.relations(None) == [("a shared page is one frame", {"a": 5, "b": 6})]
    window = ChannelView.of("w", "window", {**WINDOW, "rss_pages": 3}).state
    assert window.relations(None) == [("resident pages = pages touched",
                                       {"rss pages": 3, "pages touched": 2})]
    array = ChannelView.of("a", "shared_array", {**ARRAY, "lost_updates": 1}).state
    assert array.relations(None) == [("gained = increments - lost updates",
                                      {"increments": 3, "gained": 1, "lost updates": 1})]
    found = ChannelView.of("a", "shared_array", ARRAY).state
    assert found.relations(ChannelView.of("a", "shared_array", {
        **ARRAY, "lost_updates": 3}).state) == [
        ("lost updates never decrease", {"lost updates": 2, "before": 3})]
    gone = ChannelView.of("s", "shm", {**SHM, "in_dev_shm": False, "size": 0,
                                       "contents": ""}).state
    back = ChannelView.of("s", "shm", SHM).state
    assert back.relations(gone) == [("an unlinked name does not come back",
                                     {"before": False, "now": True})]


def test_a_real_runs_memory_frames_carry_exact_typed_counts(nothing_left_behind) -> None:
    """One worker increments an array 50 times (nothing can be lost: it is alone) and
    stores 4 bytes in a page twice, another reads them once: the last frame's states are
    typed with exactly those counts, and every frame keeps their relations."""
    from ipcviz.runtime.headless import run_headless
    from ipcviz.telemetry.invariants import check_frames

    scenario = load_text(b"""\
version: 1
name: typed memory
duration: 20
channels:
  a: {kind: shared_array, dtype: int64, shape: [4]}
  p: {kind: page, shared: true}
workers:
  w:
    steps:
      - repeat: {times: 50, steps: [{increment: {array: a, index: 1}}]}
      - repeat: {times: 2, steps: [{write: {to: p, data: "ping"}}]}
  r:
    steps:
      - sleep: 1
      - read: {from: p, bytes: 4}
""", "typed_memory.yaml")
    frames: list[Snapshot] = []
    run_headless(scenario, on_snapshot=frames.append)
    array, page = frames[-1].channel("a").state, frames[-1].channel("p").state
    assert isinstance(array, ArrayState) and isinstance(page, PageState)
    assert (array.increments, array.lost_updates, array.gained, array.values) == (
        50, 0, 50, [0, 50, 0, 0])
    assert (page.bytes_written, page.bytes_read, page.values_read) == (8, 4, {"r": "ping"})
    assert list(check_frames(frames)) == []


def test_a_caller_not_yet_answered_has_no_latency_and_replays() -> None:
    """An rpc caller with a call in flight and no answer: its mean and largest latency
    are null in the JSON, and a recording of that frame is a frame a replay reads."""
    from ipcviz.telemetry.recording_file import frame_problem

    frame = json.loads(json.dumps(Snapshot("s", 1.0, True, channels=(
        ChannelView.of("c", "rpc", RPC),)).to_dict()))
    assert frame["channels"][0]["data"]["callers"]["c"]["latency_ms_mean"] is None
    assert frame_problem(frame) is None


def test_every_kind_a_race_compares_keeps_its_system_call_counts_in_a_replay() -> None:
    """`count_syscalls` adds its keys to every channel `compare:` accepts: a replay keeps
    them for each such kind (a page or a window too), or its cost would vanish."""
    from ipcviz.channels.state import COST_KEYS
    from ipcviz.scenario.kinds import COMPARED_FAMILIES
    from ipcviz.telemetry.wire_types import CHANNEL_DATA

    compared = [kind for kind, row in CHANNELS.items() if row.counters in COMPARED_FAMILIES]
    assert {"pipe", "mqueue", "page", "window"} <= set(compared)
    for kind in compared:
        assert set(COST_KEYS) <= set(CHANNEL_DATA[kind]), kind
