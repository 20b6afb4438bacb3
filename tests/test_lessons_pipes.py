"""The pipe lessons of the course's "Pipes and FIFOs" chapter added last, run for real:
`pipe_eof_never` (a reader that keeps its own write end never sees end-of-file, until it
closes it), with the mechanisms behind it: `keeps:`, the `close` action and the count of
each pipe's ends from every process's descriptors in /proc."""

from __future__ import annotations

import os

from ipcviz.runtime.pipe_holders import holders_of, pipe_data
from ipcviz.tui.widgets.pipe_ends import ends_notes

from .conftest import SCENARIOS, run_cli, run_scenario
from .live import LiveRun

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
    assert "closed" not in p
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
        [line] = ends_notes(p, stuck)
        assert line.plain == (f"  p: 1 write end open (reader fd {fd}): the reader itself "
                              "still holds a write end: EOF cannot come")
        run.action("close", "reader")
        eof = "end of file on p: every writer has gone"
        ended = run.wait_for(lambda s: s.worker("reader").exit == 0 and any(
            e.text == eof for e in run.events), timeout=20)
        assert ends_notes(ended.channel("p"), ended) == []
        texts = [e.text for e in run.events if e.worker == "reader"]
        closed = f"closed its own write end of p (fd {fd}), kept since fork"
        assert closed in texts
        assert texts.index(closed) < texts.index(eof)


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
