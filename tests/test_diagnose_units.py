"""The graph and the diagnoses as pure functions of hand-made Observations: pairing
(pipes by inode, unix sockets by peer, loopback TCP by address), what keeps a process
from being called stuck (a holder outside the tree, a second thread, a running writer),
and the one-second rule with its "for N s"."""

from __future__ import annotations

from ipcviz.observe.diagnose import diagnose, inherited_candidates, stuck
from ipcviz.observe.graph import build_graph
from ipcviz.observe.model import (End, Mapping, Observation, Pipe, Process, SignalMasks,
                                  Socket, Wait)
from ipcviz.runtime.diagnosis import Diagnoses


def proc(pid: int, ppid: int = 1, state: str = "S", wait: Wait | None = None,
         threads: int = 1, zombies: int = 0, children: tuple[int, ...] = (),
         caught: tuple[str, ...] = (), cmdline: tuple[str, ...] = ("prog",)) -> Process:
    return Process(pid, ppid, f"p{pid}", state, "sleeping", 0, threads, cmdline, children,
                   zombies, wait, SignalMasks(caught=caught))


def reading(fd: int) -> Wait:
    return Wait("pipe read", "read", fd)


def writing(fd: int) -> Wait:
    return Wait("pipe write", "write", fd)


def seen(processes, pipes=(), sockets=(), mappings=(), at: float = 0.0) -> Observation:
    return Observation(processes[0].pid, at, tuple(processes), (), tuple(pipes),
                       tuple(sockets), (), tuple(mappings), ())


EOF_BUG = seen([proc(10, wait=Wait("wait", "wait4")), proc(11, 10, wait=reading(3))],
               [Pipe(7, "pipe", None, (End(11, 3, "r"), End(11, 4, "w")), 0, 65536)])


def test_a_reader_holding_the_only_write_end_is_eof_never() -> None:
    graph = build_graph(EOF_BUG)
    (found,) = diagnose(EOF_BUG, graph)
    assert (found.kind, found.pids, found.objects) == ("eof_never", (11,), ("pipe:[7]",))
    assert found.evidence == ("pid 11 (p11) waits reading pipe 7 (fd 3), and its write "
                              "ends are held only by readers: pid 11 (p11) fd 4 (the "
                              "reader itself)")


def test_a_holder_outside_the_tree_or_not_yet_looked_for_means_no_diagnosis() -> None:
    graph = build_graph(EOF_BUG)
    assert stuck(graph, {"pipe:[7]": ()}) == {11}
    assert stuck(graph, {"pipe:[7]": (99,)}) == set()   # another process may write
    assert stuck(graph, {}) == set()                    # not looked for yet
    assert diagnose(EOF_BUG, graph, {"pipe:[7]": (99,)}) == []


def test_a_second_thread_or_a_writer_not_blocked_means_no_diagnosis() -> None:
    threaded = seen([proc(10), proc(11, 10, wait=reading(3), threads=2)], EOF_BUG.pipes)
    assert diagnose(threaded, build_graph(threaded)) == []
    other = seen([proc(10, wait=Wait("sleep", "nanosleep")), proc(11, 10, wait=reading(3))],
                 [Pipe(7, "pipe", None, (End(11, 3, "r"), End(10, 5, "w")), 0, 65536)])
    assert diagnose(other, build_graph(other)) == []
    running = seen([proc(10, state="R"), proc(11, 10, wait=reading(3))], other.pipes)
    assert diagnose(running, build_graph(running)) == []


def test_a_reader_that_catches_sigchld_with_a_child_running_may_yet_be_woken() -> None:
    """Its child's end interrupts the read (EINTR): not stuck while the child runs."""
    base = EOF_BUG.processes
    waking = seen([base[0], proc(11, 10, wait=reading(3), caught=("SIGCHLD",)),
                   proc(12, 11, state="R")], EOF_BUG.pipes)
    assert diagnose(waking, build_graph(waking)) == []
    ended = seen([base[0], proc(11, 10, wait=reading(3), caught=("SIGCHLD",), zombies=1,
                                children=(12,)), proc(12, 11, state="Z")], EOF_BUG.pipes)
    assert sorted(f.kind for f in diagnose(ended, build_graph(ended))) == [
        "eof_never", "zombies"]


def test_two_readers_each_writing_only_the_others_pipe_are_a_deadlock() -> None:
    obs = seen([proc(10, wait=reading(3)), proc(11, 10, wait=reading(3))],
               [Pipe(7, "pipe", None, (End(10, 3, "r"), End(11, 4, "w")), 0, 65536),
                Pipe(8, "pipe", None, (End(11, 3, "r"), End(10, 4, "w")), 0, 65536)])
    (found,) = diagnose(obs, build_graph(obs))
    assert (found.kind, found.pids, found.objects) == ("deadlock", (10, 11),
                                                       ("pipe:[7]", "pipe:[8]"))
    assert found.evidence == ("pid 10 (p10) blocked reading pipe 7 that only pid 11 (p11) "
                              "writes → pid 11 (p11) blocked reading pipe 8 that only "
                              "pid 10 (p10) writes → back to the first")


def test_a_cycle_through_a_fifo_is_no_deadlock_since_anyone_may_open_it() -> None:
    obs = seen([proc(10, wait=reading(3)), proc(11, 10, wait=reading(3))],
               [Pipe(7, "fifo", "/tmp/f", (End(10, 3, "r"), End(11, 4, "w")), 0, 65536),
                Pipe(8, "pipe", None, (End(11, 3, "r"), End(10, 4, "w")), 0, 65536)])
    assert stuck(build_graph(obs), None) == {10, 11}
    assert diagnose(obs, build_graph(obs)) == []


def test_unix_sockets_pair_by_peer_and_loopback_tcp_by_address() -> None:
    obs = seen([proc(10), proc(11, 10)], sockets=[
        Socket(100, "unix", "stream", "connected", "", "", (End(10, 3),), peer_inode=101),
        Socket(101, "unix", "stream", "connected", "", "", (End(11, 3),), peer_inode=100),
        Socket(200, "tcp", "stream", "established", "127.0.0.1:5000", "127.0.0.1:41000",
               (End(10, 4),), peer_inode=201),
        Socket(201, "tcp", "stream", "established", "127.0.0.1:41000", "127.0.0.1:5000",
               (End(11, 4),), peer_inode=300),  # the listener shares the address
        Socket(300, "tcp", "stream", "listen", "127.0.0.1:5000", "0.0.0.0:0", (End(10, 5),))])
    objects = {o.id: o for o in build_graph(obs).objects}
    assert sorted(objects) == ["listen:[300]", "tcp:[200]-[201]", "unix:[100]-[101]"]
    assert [(e.pid, e.fd, e.inode) for e in objects["tcp:[200]-[201]"].ends] == [
        (10, 4, 200), (11, 4, 201)]


def test_a_socket_pair_whose_both_sides_read_is_a_deadlock() -> None:
    recv = Wait("socket read", "recvfrom", 3)
    obs = seen([proc(10, wait=recv), proc(11, 10, wait=recv)], sockets=[
        Socket(100, "unix", "stream", "connected", "", "", (End(10, 3),), peer_inode=101),
        Socket(101, "unix", "stream", "connected", "", "", (End(11, 3),), peer_inode=100)])
    assert [f.kind for f in diagnose(obs, build_graph(obs))] == ["deadlock"]


def test_plumbing_pipes_and_system_files_are_left_out_of_the_graph() -> None:
    obs = seen([proc(10)], [Pipe(7, "pipe", None, (End(10, 1, "w"),), 0, 65536)],
               mappings=[Mapping("file", "/usr/lib/locale/x", 5, 10, (10,)),
                         Mapping("posix_shm", "/dev/shm/seg", 6, 4096, (10,))])
    assert [o.id for o in build_graph(obs, {7}).objects] == ["posix_shm:/dev/shm/seg"]


def test_zombies_say_whether_sigchld_is_caught() -> None:
    obs = seen([proc(10, wait=Wait("sleep", "nanosleep"), zombies=2, children=(11, 12),
                     caught=("SIGCHLD",)), proc(11, 10, state="Z"), proc(12, 10, state="Z")])
    (found,) = diagnose(obs, build_graph(obs))
    assert found.pids == (10, 11, 12)
    assert found.evidence == ("2 zombie children (11, 12) under pid 10 (p10), which has "
                              "not waited for them: it catches SIGCHLD (a handler that "
                              "does not reap them all) and waits in sleep")


def test_an_inherited_write_end_needs_no_cloexec_and_an_exec() -> None:
    obs = seen([proc(10, wait=Wait("wait", "wait4"), cmdline=("python3", "x.py")),
                proc(11, 10, wait=reading(3), cmdline=("python3", "x.py")),
                proc(12, 10, wait=Wait("sleep", "nanosleep"), cmdline=("sleep", "60"))],
               [Pipe(7, "pipe", None, (End(11, 3, "r"), End(12, 4, "w")), 0, 65536)])
    graph = build_graph(obs)
    assert inherited_candidates(graph) == [(12, 4)]
    assert diagnose(obs, graph) == []   # close-on-exec not known to be off
    (found,) = diagnose(obs, graph, no_cloexec={(12, 4)})
    assert (found.kind, found.pids) == ("inherited_end", (12, 11))
    forked = seen([obs.processes[0], obs.processes[1],
                   proc(12, 10, wait=Wait("sleep", "nanosleep"), cmdline=("python3", "x.py"))],
                  obs.pipes)
    assert diagnose(forked, build_graph(forked), no_cloexec={(12, 4)}) == []
    # the same program on both ends (multiprocessing's spawn passes its pipes on purpose)
    same = seen([obs.processes[0], obs.processes[1],
                 Process(12, 10, "p11", "S", "sleeping", 0, 1, ("python3", "-c", "spawn"),
                         (), 0, Wait("sleep", "nanosleep"), SignalMasks())], obs.pipes)
    assert diagnose(same, build_graph(same), no_cloexec={(12, 4)}) == []


def test_a_diagnosis_is_shown_after_a_full_second_and_says_for_how_long() -> None:
    found = Diagnoses()
    zombie = [proc(10, wait=Wait("sleep", "nanosleep"), zombies=1, children=(11,)),
              proc(11, 10, state="Z")]
    clean = [proc(10, wait=Wait("sleep", "nanosleep"))]
    for at, procs, shown in [(0.0, zombie, []), (0.9, zombie, []), (1.0, zombie, [1.0]),
                             (1.5, clean, []), (2.0, zombie, []), (3.5, zombie, [1.5])]:
        obs = seen(procs, at=at)
        now = found.read("w", obs, build_graph(obs))
        assert [d["held_s"] for d in now] == shown, at
    assert now[0]["text"].startswith("zombies not reaped (for 1.5 s): ")
    (everything,) = found.all_shown("w", now)
    assert everything["now"] is True and everything["held_s"] == 1.5
    assert found.all_shown("w", [])[0]["now"] is False


def test_a_holder_outside_the_tree_is_found_a_slice_at_a_time(nothing_left_behind) -> None:
    """A real pipe whose write end a process outside the (made-up) tree holds: the look
    through /proc finds it, one process per step with no time budget."""
    import os
    import subprocess

    from ipcviz.runtime.diagnosis import OutsideLook

    r, w = os.pipe()
    holder = subprocess.Popen(["sleep", "30"], pass_fds=(w,))
    try:
        inode = os.fstat(r).st_ino
        obs = seen([proc(10, wait=reading(3))],
                   [Pipe(inode, "pipe", None, (End(10, 3, "r"), End(10, 4, "w")), 0, 65536)])
        look = OutsideLook.start(build_graph(obs), {f"pipe:[{inode}]"})
        listed = len(look.pids)
        steps = 1
        while not look.step({10}, 0.0):
            steps += 1
        assert steps == listed > 1
        # this process holds both ends too, but it is the observer, never counted
        assert look.result() == {f"pipe:[{inode}]": (holder.pid,)}
    finally:
        holder.kill()
        holder.wait()
        os.close(r)
        os.close(w)


def test_a_diagnosis_keeps_its_time_while_the_look_outside_is_renewed(
        monkeypatch, nothing_left_behind) -> None:
    """A real process holding both ends of a real pipe, described as blocked reading it.
    One process looked at per reading (no time budget): each look through /proc takes
    many readings; once shown, the diagnosis's time only grows, through every renewal.
    A second program watched at the same time has a look of its own (in its look, the
    first program's process would be a holder outside its tree)."""
    import os
    import subprocess

    import ipcviz.runtime.diagnosis as diagnosis

    monkeypatch.setattr(diagnosis, "LOOK_BUDGET", 0.0)
    r, w = os.pipe()
    holder = subprocess.Popen(["sleep", "60"], pass_fds=(r, w))
    try:
        pid, inode = holder.pid, os.fstat(r).st_ino
        os.close(r)
        os.close(w)
        found = Diagnoses()
        pipe = Pipe(inode, "pipe", None, (End(pid, r, "r"), End(pid, w, "w")), 0, 65536)
        held: list[float] = []
        for step in range(1200):
            at = step * 0.01
            obs = seen([proc(pid, wait=reading(r))], [pipe], at=at)
            held += [d["held_s"] for d in found.read("a", obs, build_graph(obs))]
            for _ in range(2):  # the other program is read as often, twice as often
                other = seen([proc(holder.pid + 100_000)], at=at)
                found.read("b", other, build_graph(other))
    finally:
        holder.kill()
        holder.wait()
    assert held and held == sorted(held) and held[-1] - held[0] >= 3.0, held[:3]
    assert len(held) >= 400   # shown at every reading since it first was
