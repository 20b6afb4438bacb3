"""`ipcviz watch` as an IPC debugger, on real programs run as they are: each program of
tests/ipc_bugs/ that has a bug gets exactly its diagnosis, with the evidence (pids,
descriptors) read back from the same run's graph; bug-free programs (a shell pipeline, a
multiprocessing Pool, a unix-socket server with clients, make -j3) get none."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from .conftest import ROOT, run_cli

PY = sys.executable
BUGS = ROOT / "tests" / "ipc_bugs"
needs_cc = pytest.mark.skipif(shutil.which("cc") is None,
                              reason="no C compiler (cc) on this machine")


def _watch(*argv: str, duration: str = "2.5", cwd_args: tuple[str, ...] = ()) -> dict:
    """The one program's entry of a headless watch summary (JSON only on stdout)."""
    result = run_cli("watch", "--headless", "--json", "--duration", duration, *cwd_args,
                     "--", *argv, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    (entry,) = summary["workers"].values()
    return entry


def _argv(program: str) -> tuple[str, ...]:
    """Python runs under this interpreter; a C file is compiled by watch itself."""
    return (PY, str(BUGS / program)) if program.endswith(".py") else (str(BUGS / program),)


def _diagnosis(entry: dict, kind: str) -> dict:
    found = entry["program"]["diagnoses"]
    assert [d["kind"] for d in found] == [kind], found
    (one,) = found
    assert one["held_s"] >= 1.0 and one["now"] is True
    assert f"(for {one['held_s']:.1f} s)" in one["text"]
    return one


def _children(entry: dict) -> list[dict]:
    return [p for p in entry["program"]["graph"]["processes"] if p["pid"] != entry["pid"]]


def _pipe(entry: dict, ident: str) -> dict:
    (obj,) = [o for o in entry["program"]["graph"]["objects"] if o["id"] == ident]
    return obj


@pytest.mark.parametrize("program", ["eof_never.py", pytest.param("eof_never.c",
                                                                  marks=needs_cc)])
def test_eof_that_can_never_come_names_the_readers_own_write_end(program,
                                                                  nothing_left_behind):
    entry = _watch(*_argv(program))
    one = _diagnosis(entry, "eof_never")
    (child,) = _children(entry)
    assert child["waits"] == "pipe read" and one["pids"] == [child["pid"]]
    pipe = _pipe(entry, one["objects"][0])
    assert sorted((e["pid"], e["fd"], e["end"]) for e in pipe["ends"]) == [
        (child["pid"], child["wait_fd"], "read"), (child["pid"], child["wait_fd"] + 1, "write")]
    assert one["text"].startswith("EOF can never come")
    assert (f"pid {child['pid']} ({child['name']}) fd {child['wait_fd'] + 1} "
            "(the reader itself)") in one["text"]


@pytest.mark.parametrize("program", ["full_pipe.py", pytest.param("full_pipe.c",
                                                                  marks=needs_cc)])
def test_a_writer_blocked_on_a_full_pipe_names_what_the_reader_waits_in(
        program, nothing_left_behind):
    entry = _watch(*_argv(program))
    one = _diagnosis(entry, "pipe_full")
    (child,) = _children(entry)
    assert one["pids"] == [entry["pid"], child["pid"]]
    pipe = _pipe(entry, one["objects"][0])
    assert pipe["buffered"] == pipe["capacity"] == 65536
    assert f"its reader pid {child['pid']} ({child['name']}) waits in sleep, not reading it" \
        in one["text"]


@pytest.mark.parametrize("program,sigchld", [
    ("zombies.py", "it leaves SIGCHLD at its default"),
    pytest.param("zombies_caught.c", "it catches SIGCHLD", marks=needs_cc)])
def test_zombies_not_reaped_say_what_the_parent_does_with_sigchld(program, sigchld,
                                                                   nothing_left_behind):
    entry = _watch(*_argv(program))
    one = _diagnosis(entry, "zombies")
    zombies = sorted(p["pid"] for p in _children(entry) if p["state"] == "Z")
    assert len(zombies) == 3 and one["pids"] == [entry["pid"], *zombies]
    assert one["text"].startswith("zombies not reaped") and sigchld in one["text"]
    assert f"3 zombie children ({', '.join(map(str, zombies))}) under pid {entry['pid']}" \
        in one["text"]


@pytest.mark.parametrize("program", ["deadlock.py", pytest.param("deadlock.c",
                                                                 marks=needs_cc)])
def test_two_processes_writing_to_each_other_are_a_deadlock_cycle(program,
                                                                  nothing_left_behind):
    entry = _watch(*_argv(program))
    one = _diagnosis(entry, "deadlock")
    (child,) = _children(entry)
    assert sorted(one["pids"]) == sorted([entry["pid"], child["pid"]])
    for pid, ident in zip(one["pids"], one["objects"]):
        pipe = _pipe(entry, ident)
        assert pipe["buffered"] == pipe["capacity"]
        assert [e["pid"] for e in pipe["ends"] if e["end"] == "write"] == [pid]
    assert one["text"].count("blocked writing") == 2 and one["text"].endswith(
        "back to the first")


@pytest.mark.parametrize("program", ["inherited.py", pytest.param("inherited.c",
                                                                  marks=needs_cc)])
def test_a_write_end_kept_across_exec_is_named_with_its_descriptor(program,
                                                                   nothing_left_behind):
    entry = _watch(*_argv(program))
    one = _diagnosis(entry, "inherited_end")
    children = {p["name"]: p for p in _children(entry)}
    sleep = children.pop("sleep")
    (reader,) = children.values()
    assert one["pids"] == [sleep["pid"], reader["pid"]]
    pipe = _pipe(entry, one["objects"][0])
    (end,) = [e for e in pipe["ends"] if e["pid"] == sleep["pid"]]
    assert end["end"] == "write" and end["fd"] > 2
    assert (f"pid {sleep['pid']} (sleep) holds the write end of pipe "
            f"{pipe['inodes'][0]} as fd {end['fd']} without close-on-exec") in one["text"]


def test_a_socket_kept_across_exec_is_named_with_its_descriptor(nothing_left_behind):
    entry = _watch(PY, str(BUGS / "inherited_socket.py"))
    one = _diagnosis(entry, "inherited_end")
    children = {p["name"]: p for p in _children(entry)}
    sleep = children.pop("sleep")
    (reader,) = children.values()
    assert one["pids"] == [sleep["pid"], reader["pid"]]
    pair = _pipe(entry, one["objects"][0])
    assert pair["kind"] == "unix"
    (end,) = [e for e in pair["ends"] if e["pid"] == sleep["pid"]]
    (other,) = [e for e in pair["ends"] if e["pid"] == reader["pid"]]
    assert end["fd"] > 2 and end["inode"] != other["inode"]
    assert (f"pid {sleep['pid']} (sleep) holds one socket of the unix stream pair "
            f"(unnamed) ↔ (unnamed) as fd {end['fd']} without close-on-exec") in one["text"]


def _clean(entry: dict) -> None:
    assert entry["program"]["diagnoses"] == []
    assert entry["program"]["graph"]["processes"], "the tree was never seen"


def test_a_shell_pipeline_gets_no_diagnosis(nothing_left_behind):
    small = _watch("sh", "-c", "yes | head -c 1000000 | wc -c")
    assert small["program"]["last_output"] == ["1000000"]
    assert small["program"]["diagnoses"] == []
    entry = _watch("sh", "-c", "yes | head -c 600000000 | wc -c", duration="10")
    assert entry["program"]["last_output"] == ["600000000"]
    _clean(entry)


def test_a_multiprocessing_pool_gets_no_diagnosis(nothing_left_behind):
    """Started by fork (spawn and forkserver leave their named semaphores behind when
    the run ends the resource tracker with the rest of the tree)."""
    entry = _watch(PY, str(BUGS / "pool.py"), duration="3")
    assert entry["program"]["last_output"] == [str(sum(n * n for n in range(10000)))]
    _clean(entry)
    peak = entry["program"]["peak"]   # the graph is the last reading: the pool may be
    assert peak["processes"] == 4     # closing by then; these are over the whole run
    # the task pipe: written by the parent alone, read by it and its three workers
    assert any(p["writers"] == [entry["pid"]] and len(p["readers"]) == 4
               and entry["pid"] in p["readers"] for p in peak["pipes"].values())


def test_a_unix_socket_server_and_its_clients_get_no_diagnosis(nothing_left_behind):
    entry = _watch(PY, str(BUGS / "unix_server.py"))
    assert entry["program"]["last_output"] == ["served 3"]
    _clean(entry)
    pairs = [o for o in entry["program"]["graph"]["objects"] if o["kind"] == "unix"]
    assert len(pairs) == 3
    clients = {p["pid"] for p in _children(entry)}
    for pair in pairs:  # one end with the server, the other with one client
        holders = sorted({e["pid"] for e in pair["ends"]})
        assert len(holders) == 2 and entry["pid"] in holders and set(holders) - {
            entry["pid"]} <= clients
    assert [o["kind"] for o in entry["program"]["graph"]["objects"]].count("listen") == 1


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_j3_gets_no_diagnosis(nothing_left_behind):
    entry = _watch("make", "-s", "-C", str(BUGS), "-j3", duration="3")
    assert sorted(entry["program"]["last_output"]) == ["a", "b", "c"]
    _clean(entry)


def test_a_loopback_tcp_pair_where_both_wait_to_be_spoken_to_is_a_deadlock(
        nothing_left_behind):
    entry = _watch(PY, str(BUGS / "tcp_both_wait.py"))
    one = _diagnosis(entry, "deadlock")
    (child,) = _children(entry)
    assert sorted(one["pids"]) == sorted([entry["pid"], child["pid"]])
    objects = {o["id"]: o for o in entry["program"]["graph"]["objects"]}
    (pair,) = [o for o in objects.values() if o["kind"] == "tcp"]
    assert set(one["objects"]) == {pair["id"]}
    assert sorted((e["pid"], e["fd"]) for e in pair["ends"]) == sorted(
        [(entry["pid"], 4), (child["pid"], 3)])
    assert len({e["inode"] for e in pair["ends"]}) == 2  # the two sockets of one connection
    assert [o["kind"] for o in objects.values()].count("listen") == 1
    assert one["text"].count("blocked reading tcp stream pair 127.0.0.1:") == 2
