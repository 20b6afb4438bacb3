"""The pipe lessons of the course's "Pipes and FIFOs" chapter added last, run for real:
`pipe_eof_never` (a reader that keeps its own write end never sees end-of-file, until it
closes it), with the mechanisms behind it: `keeps:`, the `close` action and the count of
each pipe's ends from every process's descriptors in /proc."""

from __future__ import annotations

import os
import subprocess

from ipcviz.runtime.pipe_holders import holders_of, pipe_data
from ipcviz.tui.widgets.fd_lines import fd_line
from ipcviz.tui.widgets.pipe_ends import ends_notes
from ipcviz.telemetry.ring_events import EventCode as EV

from .conftest import SCENARIOS, run_cli, run_scenario
from .live import LiveRun
from .waiting import wait_until

EOF_NEVER = SCENARIOS / "pipe_eof_never.yaml"


def _failed(summary: dict) -> list[dict]:
    return [r for r in summary["expect"] if not r["ok"]]


def _fd_of(text: str, holder: str) -> int:
    """"reader fd 4" -> 4, checking the holder's name."""
    name, _, fd = text.rpartition(" fd ")
    assert name == holder, text
    return int(fd)


def test_a_reader_holding_its_own_write_end_never_sees_eof(nothing_left_behind) -> None:
    """The writer's 35 bytes are all read, the writer has exited and the runtime has
    closed its own copy: the one write end left, counted from /proc, is the reader's, and
    the reader is still blocked in its read at the end of the run."""
    summary = run_scenario(EOF_NEVER, "--check")
    assert _failed(summary) == []
    writer, reader = summary["workers"]["writer"], summary["workers"]["reader"]
    assert (writer["exit"], writer["bytes_written"]) == (0, {"p": 35})
    assert (reader["state"], reader["blocked_on"], reader["exit"]) == ("blocked", "read p",
                                                                       None)
    assert reader["bytes_read"] == {"p": 35}
    p = summary["channels"]["p"]
    assert (p["bytes_written"], p["bytes_read"], p["buffered"]) == (35, 35, 0)
    assert p["write_ends_open"] == 1 and len(p["write_ends"]) == 1
    assert _fd_of(p["write_ends"][0], "reader") >= 3
    # the reader's read end and the runtime's (it keeps one while a live worker reads)
    assert p["read_ends_open"] == 2
    assert sorted(e.rpartition(" fd ")[0] for e in p["read_ends"]) == ["ipcviz runtime",
                                                                      "reader"]
    assert "closed" not in p and "uncounted" not in p
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_the_close_action_ends_the_hang(tmp_path, nothing_left_behind) -> None:
    """The same lesson with `close: reader` at 2 s on its timeline: the reader closes the
    end it kept, its read returns end of file, it exits 0; no end is left open."""
    text = EOF_NEVER.read_text()
    text = text.replace("triggers:\n", "timeline:\n  - {at: 2.0, close: reader}\ntriggers:\n")
    text = text.split("expect:\n")[0]
    path = tmp_path / "closed.yaml"
    path.write_text(text)
    summary = run_scenario(path)
    reader = summary["workers"]["reader"]
    assert (reader["state"], reader["exit"], reader["bytes_read"]) == ("exited", 0,
                                                                      {"p": 35})
    p = summary["channels"]["p"]
    assert (p["write_ends_open"], p["read_ends_open"], p["closed"]) == (0, 0, True)
    assert (p["bytes_written"], p["bytes_read"], p["unread_at_close"]) == (35, 35, 0)


def test_the_panel_says_why_then_the_key_closes_it(nothing_left_behind) -> None:
    """Live: once the writer is gone, the pipes panel's line names the reader's own write
    end and says EOF cannot come; the trigger's action makes the reader close it (its
    event names the descriptor) and its read ends with end of file."""
    with LiveRun(str(EOF_NEVER)) as run:
        stuck = run.wait_for(lambda s: s.worker("writer").exit == 0
                             and s.channel("p").data.get("write_ends_open") == 1,
                             timeout=20)
        p = stuck.channel("p")
        fd = _fd_of(p.data["write_ends"][0], "reader")
        [line] = ends_notes(p, p.state, stuck)
        assert line.plain == (f"  p: 1 write end open (reader fd {fd}): the reader itself "
                              "still holds a write end: EOF cannot come")
        run.action("close", "reader")
        eof = (EV.EOF, "p", None, None)
        ended = run.wait_for(lambda s: s.worker("reader").exit == 0 and eof in [
            _typed(e) for e in run.events], timeout=20)
        gone = ended.channel("p")
        assert ends_notes(gone, gone.state, ended) == []
        typed = [_typed(e) for e in run.events if e.worker == "reader"]
        closed = (EV.CLOSED_KEPT, "p", fd, 1)  # (its fd, 1: the write end)
        assert closed in typed
        assert typed.index(closed) < typed.index(eof)


def _typed(view: object) -> tuple | None:
    """(code, channel, number, reason) of a worker's event; None for the runtime's."""
    e = getattr(view, "event", None)
    return None if e is None else (e.code, e.channel, e.number, e.reason)


def test_ends_are_counted_in_every_process_from_the_kernel() -> None:
    """A real pipe: this process holds both ends, a forked child holds a second copy of
    the write end and a dup of it: 3 write ends and 1 read end, each with its descriptor."""
    read_fd, write_fd = os.pipe()
    inode = os.fstat(read_fd).st_ino
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.close(go_w)
            extra = os.dup(write_fd)
            os.write(write_fd, str(extra).encode())
            os.read(go_r, 1)  # held until the parent has counted
        finally:
            os._exit(0)
    os.close(go_r)
    try:
        extra = int(os.read(read_fd, 16))
        found, hidden = holders_of([inode], [("me", os.getpid()), ("child", pid)])
        ends = sorted((e.holder, e.fd, e.end) for e in found[inode])
        assert ends == sorted([("me", read_fd, "read"), ("me", write_fd, "write"),
                               ("child", write_fd, "write"), ("child", extra, "write")])
        assert hidden == []
        data = pipe_data(found[inode], hidden)
        assert (data["write_ends_open"], data["read_ends_open"]) == (3, 1)
    finally:
        os.close(go_w)
        os.waitpid(pid, 0)
        os.close(read_fd)
        os.close(write_fd)


def test_hidden_descriptors_are_named_not_counted_as_none() -> None:
    """Read by another user (nobody), this process's descriptors are hidden by the
    kernel: the process is named in `ends_hidden` and no count is given."""
    if os.geteuid() != 0:  # as a plain user, a process of another user is what hides
        others = [int(p) for p in os.listdir("/proc") if p.isdigit()
                  and os.stat(f"/proc/{p}").st_uid != os.geteuid()]
        found, hidden = holders_of([1], [("init", others[0])] if others else [])
        assert hidden == (["init"] if others else [])
        return
    read_fd, write_fd = os.pipe()
    report_r, report_w = os.pipe()
    me, inode = os.getpid(), os.fstat(read_fd).st_ino
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            found, hidden = holders_of([inode], [("test", me)])
            data = pipe_data(found[inode], hidden)
            os.write(report_w, repr(sorted(data.items())).encode())
        finally:
            os._exit(0)
    os.close(report_w)
    try:
        report = os.read(report_r, 4096).decode()
        os.waitpid(pid, 0)
        assert report == repr(sorted({"ends_hidden": ["test"], "read_ends": [],
                                      "write_ends": []}.items()))
    finally:
        for fd in (read_fd, write_fd, report_r):
            os.close(fd)


def test_a_wrong_keeps_or_close_is_an_error_with_its_line(tmp_path) -> None:
    """Each problem of `keeps:` and `close` is one line with its line and column."""
    path = tmp_path / "bad.yaml"
    path.write_text("""\
version: 1
name: bad keeps
channels:
  p: {kind: pipe}
  f: {kind: fifo}
workers:
  writer:
    steps:
      - write: {to: p, data: "x"}
  reader:
    keeps: {p: read, f: write, q: write}
    steps:
      - read: {from: p}
  other:
    keeps: {p: both}
    steps:
      - sleep: 0.1
  prog:
    exec: [sleep, "1"]
    keeps: {p: write}
triggers:
  - {key: x, label: "close", close: writer}
""")
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert sorted(line.removeprefix(f"{path}:") for line in lines) == sorted([
        "11:16: workers.reader.keeps.p: this worker's steps already use the read end of "
        "'p': keep the end they do not use",
        "11:25: workers.reader.keeps.f: 'keeps' works on a pipe (an end inherited across "
        "fork); 'f' is a fifo",
        "11:35: workers.reader.keeps.q: unknown channel 'q' (channels: p, f)",
        "15:16: workers.other.keeps.p: got 'both'; expected 'read' or 'write'",
        "20:16: workers.prog.keeps.p: 'keeps' is for a worker with steps (a program closes "
        "or keeps its own descriptors)",
        "22:37: triggers[0].close: worker 'writer' keeps no pipe end open (give it `keeps: "
        "{PIPE: write}`)",
    ])


def test_the_reader_without_keeps_sees_eof(tmp_path, nothing_left_behind) -> None:
    """The control: the same two workers without `keeps:`: the reader's read returns end
    of file once the writer has exited, and the pipe is freed (every end closed)."""
    text = EOF_NEVER.read_text().replace("    keeps: {p: write}\n", "")
    text = text.split("triggers:\n")[0]
    path = tmp_path / "fixed.yaml"
    path.write_text(text)
    summary = run_scenario(path)
    assert summary["workers"]["reader"]["exit"] == 0
    p = summary["channels"]["p"]
    assert (p["write_ends_open"], p["closed"], p["bytes_read"]) == (0, True, 35)


# ---------------------------------------------------------------- shell_pipeline

PIPELINE = SCENARIOS / "shell_pipeline.yaml"


def test_ls_into_grep_through_one_pipe(nothing_left_behind) -> None:
    """`ls -1` of the lesson's ten files writes 79 bytes into `p` (strace counts them on
    its descriptor 1), grep reads the same 79 on its descriptor 0 and prints the 4 names
    ending in .c; both exit 0 and the pipe is freed."""
    summary = run_scenario(PIPELINE, "--check")
    assert _failed(summary) == []
    ls, grep = summary["workers"]["ls"], summary["workers"]["grep"]
    assert (ls["exit"], ls["bytes_written"], ls["bytes_read"], ls["output_lines"]) == (
        0, {"p": 79}, {}, 0)
    assert (grep["exit"], grep["bytes_read"], grep["bytes_written"]) == (0, {"p": 79}, {})
    assert grep["output_lines"] == 4
    assert grep["program"]["last_output"] == ["fifo.c", "fork.c", "pipe.c", "signals.c"]
    p = summary["channels"]["p"]
    assert (p["closed"], p["uncounted"]) == (True, True)  # no step counted its bytes:
    assert "bytes_written" not in p and "bytes_read" not in p  # no zeros in their place
    assert p["traced_bytes"] == {"ls": [79, 0], "grep": [0, 79]}  # strace's, by program
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_each_program_has_the_pipe_where_dup2_put_it(tmp_path, nothing_left_behind) -> None:
    """Two programs that stay alive (`sleep` writing into `p`, `cat` reading it): after
    exec, the writer's descriptor 1 is the write end and the reader's 0 the read end of
    one pipe (one inode), read from each process's /proc; the other standard descriptors
    are /dev/null or ipcviz's own output pipes, one per stream."""
    path = tmp_path / "pair.yaml"
    path.write_text("""\
version: 1
name: pair
duration: 30
channels:
  p: {kind: pipe}
workers:
  writer:
    exec: [sleep, "30"]
    stdout: {to: p}
  reader:
    exec: [cat]
    stdin: {from: p}
""")
    from ipcviz.tui.source import LiveSource

    run = LiveRun(str(path))
    run.source = LiveSource(str(path), allow_exec=True)
    with run:
        def execd(snap) -> bool:
            fds = [(snap.worker(n).program or {}).get("fds") or {} for n in ("writer",
                                                                          "reader")]
            return fds[0].get("command") == "sleep" and fds[1].get("command") == "cat"
        both = run.wait_for(execd, timeout=20)
        writer = both.worker("writer").program["fds"]
        reader = both.worker("reader").program["fds"]
        assert writer["alive"] is reader["alive"] is True
        inode = writer["1"].split()[0]
        assert inode.startswith("pipe:[")
        assert writer["1"] == f"{inode} write end of p"
        assert reader["0"] == f"{inode} read end of p"
        assert writer["0"] == "/dev/null"
        own = {writer["2"], reader["1"], reader["2"]}  # ipcviz's output pipes: one each
        assert len(own) == 3 and all(t.endswith("write end to ipcviz (events)") for t in own)
        line = fd_line(both.worker("reader").program, "cat")
        assert line is not None and line.plain == (
            f"  fds of cat after exec: 0 stdin ← {inode} read end of p · 1 stdout → "
            f"{reader['1']} · 2 stderr → {reader['2']}")


def test_std_fds_of_a_real_process_and_what_the_kernel_hides() -> None:
    """`cat` with a pipe on 0 and /dev/null on 1: the table names the pipe's inode and
    end; read by another user (nobody), the same process's table is said to be hidden."""
    from ipcviz.observe.std_fds import std_fds

    read_fd, write_fd = os.pipe()
    inode = os.fstat(read_fd).st_ino
    with open(os.devnull, "w") as null:
        cat = subprocess.Popen(["cat"], stdin=read_fd, stdout=null, stderr=null)
    os.close(read_fd)
    try:  # (Popen returns once the exec has begun; /proc names the program a moment on)
        wait_until(lambda: (std_fds(cat.pid, {}, set()) or {}).get("command") == "cat", 10)
        table = std_fds(cat.pid, {inode: "feed"}, set())
        assert table == {"command": "cat", "0": f"pipe:[{inode}] read end of feed",
                         "1": "/dev/null", "2": "/dev/null"}
        if os.geteuid() == 0:
            report_r, report_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    os.write(report_w, repr(std_fds(cat.pid, {}, set())).encode())
                finally:
                    os._exit(0)
            os.close(report_w)
            report = os.read(report_r, 4096).decode()
            os.close(report_r)
            os.waitpid(pid, 0)
            assert report == repr({"command": "cat",
                                   "hidden": "the kernel hides another user's descriptors"})
    finally:
        os.close(write_fd)
        cat.wait(timeout=10)
    assert std_fds(cat.pid, {}, set()) is None  # gone


def test_program_counts_are_keys_only_where_they_exist(tmp_path) -> None:
    """`output_lines` is a program's key, `bytes_written` a traced program's: asked of a
    scripted worker or an untraced program, each is an error with its line."""
    path = tmp_path / "bad.yaml"
    path.write_text("""\
version: 1
name: bad keys
channels:
  p: {kind: pipe}
workers:
  w:
    steps:
      - write: {to: p, data: "x"}
  cat:
    exec: [cat]
    stdin: {from: p}
expect:
  - {worker: w, output_lines: 0}
  - {worker: cat, bytes_read: {p: 1}}
""")
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    lines = [line.removeprefix(f"{path}:") for line in result.stderr.strip().splitlines()]
    assert lines == [
        "13:31: expect[0].output_lines: worker 'w' has no 'output_lines' in its summary "
        "entry (it has: blocked_on, bytes_read, bytes_written, duplicates, epipe_errors, "
        "exit, increments, messages_received, messages_sent, pid, restarts, self_reads, "
        "signals_received, signals_sent, signals_sent_to, state, zombies)",
        "14:31: expect[1].bytes_read: worker 'cat' has no 'bytes_read' in its summary "
        "entry (it has: blocked_on, exit, output_lines, pid, restarts, signals_sent_to, "
        "state, zombies)"]


def test_a_writer_keeping_the_read_end_gets_sigpipe_only_once_it_closes_it(
        tmp_path, nothing_left_behind) -> None:
    """The other half of the bug: a writer that keeps its copy of the read end goes on
    writing after the reader has gone (no EPIPE: a read end is still open, its own)
    until the pipe is full, and waits there; once `close` makes it close that end, its
    next write meets SIGPIPE."""
    path = tmp_path / "writer_keeps.yaml"
    path.write_text("""\
version: 1
name: writer keeps the read end
duration: 5
channels:
  p: {kind: pipe}
workers:
  writer:
    keeps: {p: read}
    loop: true
    steps:
      - write: {to: p, data: "tick\\n"}
  reader:
    steps:
      - read: {from: p, bytes: 5}
timeline:
  - {at: 1.5, close: writer}
""")
    summary = run_scenario(path)
    writer, reader = summary["workers"]["writer"], summary["workers"]["reader"]
    p = summary["channels"]["p"]
    assert (reader["exit"], reader["bytes_read"]) == (0, {"p": 5})
    assert writer["exit"] == "SIGPIPE"
    # it wrote on after the reader's exit, into the pipe its own read end kept alive,
    # until the buffer was full: what it wrote is the 5 bytes read and what the pipe
    # held when its last end closed, a full buffer (the kernel packs 5-byte writes
    # into whole pages: how many fit in the 16 pages depends on the first read's moment)
    assert writer["bytes_written"]["p"] == 5 + p["unread_at_close"]
    assert p["capacity"] - 4096 < p["unread_at_close"] <= p["capacity"]
    assert (p["write_ends_open"], p["read_ends_open"]) == (0, 0)
