"""Diagnoses of IPC bugs from one Observation and its Graph: what was observed, in a line.

Pure functions: no /proc reading. What they cannot see in the tree (a process outside
it holding an end of the same pipe; a descriptor's close-on-exec flag) is handed in by
the caller, who reads it only for the candidates these functions name. Each Finding has a
`key` that stays the same while the same condition holds, so the caller can say how long
it has held, and shows it only once it has held long enough: a process blocked for a
moment is not a bug, and a diagnosis is never a guess stated as fact.

What is diagnosed:
- EOF can never come: a reader blocked on a pipe or FIFO whose write ends are all held by
  itself or by processes blocked reading the same pipe;
- deadlock: processes each blocked reading or writing a pipe (or a socket pair) whose
  other ends are held only by processes blocked in the same set, named as a cycle;
- pipe full: a writer blocked on a pipe whose readers are all waiting in something else;
- zombies not reaped: a parent with zombie children, and what it does with SIGCHLD;
- inherited write end: a process holding a pipe's write end without close-on-exec at a
  descriptor other than 0, 1, 2 while it waits elsewhere and a reader waits on that pipe.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import Graph, GraphEnd, GraphNode, GraphObject
from .model import Observation

_READS = {"read", "readv", "recvfrom", "recvmsg"}
_WRITES = {"write", "writev", "sendto", "sendmsg"}
_PAIRED = ("pipe", "fifo", "unix", "tcp", "tcp6")


@dataclass(frozen=True)
class Finding:
    """One diagnosis: its kind, a key stable while it holds, and the line that says it."""

    kind: str                   # eof_never, deadlock, pipe_full, zombies, inherited_end
    key: str
    head: str                   # "EOF can never come", "deadlock", ...
    evidence: str               # what was observed, with pids, names and descriptors
    pids: tuple[int, ...]
    objects: tuple[str, ...]

    def line(self, held: float) -> str:
        """The line shown: what, for how long, and the evidence."""
        return f"{self.head} (for {held:.1f} s): {self.evidence}"


def who(graph: Graph, pid: int) -> str:
    node = graph.node(pid)
    return f"pid {pid} ({node.name})" if node else f"pid {pid}"


def _label(obj: GraphObject) -> str:
    return f"FIFO {obj.label}" if obj.kind == "fifo" else obj.label


def blocked_on(graph: Graph) -> dict[int, tuple[GraphObject, GraphEnd, str]]:
    """Processes blocked reading or writing a pipe, FIFO or socket pair of the graph:
    pid -> (object, its end, "read" or "write"). A process with more than one thread is
    left out: another of its threads may be the one that writes or closes."""
    out = {}
    for n in graph.nodes:
        if n.state not in ("S", "D") or n.wait_fd is None or n.threads != 1:
            continue
        direction = "read" if n.wait_call in _READS else "write" if n.wait_call in _WRITES \
            else None
        found = graph.held(n.pid, n.wait_fd)
        if direction is None or found is None or found[0].kind not in _PAIRED:
            continue
        out[n.pid] = (found[0], found[1], direction)
    return out


def helpers(obj: GraphObject, end: GraphEnd, direction: str) -> set[int]:
    """The processes in view that could unblock this end: a pipe's writers for a reader
    (data or, once they all close, EOF), its readers for a writer; the other socket's
    holders for either end of a socket pair."""
    if obj.kind in ("pipe", "fifo"):
        wanted = ("write", "both") if direction == "read" else ("read", "both")
        return set(obj.pids(*wanted))
    return {e.pid for e in obj.ends if e.inode != end.inode}


def inherited_candidates(graph: Graph) -> list[tuple[int, int]]:
    """(pid, fd) of ends whose close-on-exec flag the caller should read: a pipe's write
    end, or the other socket of a pair, that a reader is blocked reading, held at a
    descriptor above 2 by a process that waits in something else."""
    out = []
    for pid, (obj, mine, direction) in blocked_on(graph).items():
        if direction != "read":
            continue
        for e in obj.ends:
            node = graph.node(e.pid)
            other = e.end in ("write", "both") if obj.kind in ("pipe", "fifo") else \
                e.inode != mine.inode
            if other and e.pid != pid and e.fd is not None and e.fd > 2 \
                    and node is not None and node.state in ("S", "D") and node.wait_fd != e.fd:
                out.append((e.pid, e.fd))
    return sorted(set(out))


def _wakers(graph: Graph, pid: int) -> set[int]:
    """A process that catches SIGCHLD is woken from its wait (EINTR) when a child ends:
    its children still alive can release it too (as an old make's jobserver read is)."""
    node = graph.node(pid)
    if node is None or not node.sigchld_caught:
        return set()
    return {n.pid for n in graph.nodes if n.ppid == pid and n.state != "Z"}


def stuck(graph: Graph, outside: dict[str, tuple[int, ...]] | None) -> set[int]:
    """The largest set of blocked processes none of which any process outside the set can
    release: each one's helpers are all in the set. `outside`: holders beyond the tree
    of each candidate object (an object missing from it may have some: nobody stuck on
    it); None: the tree is everything."""
    blocked = blocked_on(graph)
    need: dict[int, set[int]] = {}
    for pid, (obj, end, direction) in blocked.items():
        found = helpers(obj, end, direction)
        if outside is not None:
            if obj.id not in outside:
                continue
            found |= {-1} if outside[obj.id] else set()
        if found:   # nobody at the other end: the call would not block (EOF, EPIPE)
            need[pid] = found | _wakers(graph, pid)
    members = set(need)
    changed = True
    while changed:
        changed = False
        for pid in list(members):
            if not need[pid] <= members:
                members.discard(pid)
                changed = True
    return members


def diagnose(seen: Observation, graph: Graph,
             outside: dict[str, tuple[int, ...]] | None = None,
             no_cloexec: set[tuple[int, int]] | frozenset = frozenset()) -> list[Finding]:
    """Every diagnosis that holds in this one reading (see the module's docstring)."""
    blocked = blocked_on(graph)
    members = stuck(graph, outside)
    found: list[Finding] = []
    explained: set[int] = set()
    for obj in graph.objects:
        if obj.kind not in ("pipe", "fifo"):
            continue
        readers = sorted(p for p in members if blocked[p][0].id == obj.id
                         and blocked[p][2] == "read")
        writers = [e for e in obj.ends if e.end in ("write", "both")]
        if not readers or not all(e.pid in readers for e in writers):
            continue
        explained |= set(readers)
        reader = readers[0]
        held = ", ".join(f"{who(graph, e.pid)} fd {e.fd}"
                         + (" (the reader itself)" if e.pid == reader else
                            " (itself blocked reading it)") for e in writers)
        also = "" if len(readers) == 1 else \
            f" (with {', '.join(who(graph, p) for p in readers[1:])})"
        found.append(Finding(
            "eof_never", f"eof_never:{obj.id}", "EOF can never come",
            f"{who(graph, reader)}{also} waits reading {_label(obj)} (fd "
            f"{blocked[reader][1].fd}), and its write ends are held only by readers: {held}",
            tuple(readers), (obj.id,)))
    rest = members - explained
    while rest:
        cycle = _cycle(min(rest), blocked, rest)
        component = _component(min(rest), blocked, members)
        rest -= component
        waited = [blocked[p][0].id for p in cycle]
        waited += sorted({blocked[p][0].id for p in component} - set(waited))
        if any(blocked[p][0].kind == "fifo" for p in component):
            continue  # a FIFO has a name: another process may open it and end the wait
        steps = []
        for pid in cycle:
            obj, end, direction = blocked[pid]
            others = sorted(helpers(obj, end, direction) - {pid})
            full = " (full)" if direction == "write" and obj.kind in ("pipe", "fifo") else ""
            doing = "writing" if direction == "write" else "reading"
            steps.append(f"{who(graph, pid)} blocked {doing} {_label(obj)}{full} "
                         f"that only {', '.join(who(graph, p) for p in others) or 'itself'} "
                         f"{'writes' if direction == 'read' else 'reads'}")
        found.append(Finding("deadlock", "deadlock:" + ",".join(map(str, sorted(cycle))),
                             "deadlock", " → ".join(steps) + " → back to the first",
                             tuple(cycle), tuple(waited)))
    found += _full_pipes(graph, blocked, members, outside)
    found += _zombies(seen, graph)
    found += _inherited(seen, graph, blocked, no_cloexec)
    return found


def _component(start: int, blocked: dict, members: set[int]) -> set[int]:
    """The stuck processes connected to `start` through the objects they wait on."""
    todo, seen = [start], {start}
    while todo:
        obj, end, direction = blocked[todo.pop()]
        for p in helpers(obj, end, direction) & members:
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def _cycle(start: int, blocked: dict, members: set[int]) -> list[int]:
    """A wait-for cycle through `start`'s component: follow each process to the smallest
    other process it waits for until one repeats."""
    path: list[int] = []
    pid = start
    while pid not in path:
        path.append(pid)
        obj, end, direction = blocked[pid]
        nxt = sorted((helpers(obj, end, direction) & members) - {pid})
        if not nxt:
            return [pid]
        pid = nxt[0]
    return path[path.index(pid):]


def _full_pipes(graph: Graph, blocked: dict, members: set[int],
                outside: dict[str, tuple[int, ...]] | None) -> list[Finding]:
    """Writers blocked on a pipe whose readers (none outside the tree) all wait in
    something other than reading it."""
    out = []
    for pid, (obj, end, direction) in sorted(blocked.items()):
        if direction != "write" or pid in members or obj.kind not in ("pipe", "fifo"):
            continue
        if outside is not None and outside.get(obj.id, (-1,)):
            continue
        readers = [graph.node(p) for p in helpers(obj, end, direction)]
        if not readers or any(r is None or r.state not in ("S", "D") or
                              (r.pid in blocked and blocked[r.pid][0].id == obj.id)
                              for r in readers):
            continue
        level = (f"; {obj.buffered:,} of {obj.capacity:,} bytes in it"
                 if obj.buffered is not None and obj.capacity else "")
        doing = ", ".join(_waits(r, pid) for r in readers if r is not None)
        out.append(Finding(
            "pipe_full", f"pipe_full:{pid}:{obj.id}", "pipe full, reader not reading",
            f"{who(graph, pid)} blocked writing {_label(obj)} (fd {end.fd}{level}) while "
            f"{doing}", (pid,) + tuple(r.pid for r in readers if r is not None), (obj.id,)))
    return out


def _waits(node: GraphNode, writer: int) -> str:
    what = node.waits or "sleeping"
    fd = f" on fd {node.wait_fd}" if node.wait_fd is not None else ""
    own = " (its own read end)" if node.pid == writer else ""
    return f"its reader pid {node.pid} ({node.name}){own} waits in {what}{fd}, not reading it"


def _zombies(seen: Observation, graph: Graph) -> list[Finding]:
    """Parents with zombie children they have not waited for, and their SIGCHLD."""
    out = []
    for p in seen.processes:
        if not p.zombies or p.state == "Z":
            continue
        if "SIGCHLD" in p.signals.ignored:
            sigchld = "it ignores SIGCHLD"
        elif "SIGCHLD" in p.signals.caught:
            sigchld = "it catches SIGCHLD (a handler that does not reap them all)"
        else:
            sigchld = "it leaves SIGCHLD at its default (which reaps nothing)"
        doing = f" and waits in {p.wait.words}" if p.wait else f" and is {p.state_words}"
        kids = [c for c in p.children if (q := seen.process(c)) is not None and q.state == "Z"]
        shown = ", ".join(map(str, kids[:5])) + (" …" if len(kids) > 5 else "")
        out.append(Finding(
            "zombies", f"zombies:{p.pid}", "zombies not reaped",
            f"{p.zombies} zombie child{'ren' if p.zombies > 1 else ''} ({shown}) under "
            f"{who(graph, p.pid)}, which has not waited for {'them' if p.zombies > 1 else 'it'}: "
            f"{sigchld}{doing}",
            (p.pid,) + tuple(kids), ()))
    return out


def _inherited(seen: Observation, graph: Graph, blocked: dict,
               no_cloexec: set[tuple[int, int]] | frozenset) -> list[Finding]:
    """Ends held without close-on-exec by a process waiting elsewhere while a reader waits
    on the other end (inherited_candidates, filtered by the flags read), in a process
    that has run exec since its fork (its command line is not its parent's) into another
    program than the reader's (its name is not the reader's)."""
    out = []
    for pid, fd in inherited_candidates(graph):
        me = seen.process(pid)
        parent = seen.process(me.ppid) if me is not None else None
        if (pid, fd) not in no_cloexec or me is None or (
                parent is not None and parent.cmdline == me.cmdline):
            continue
        found = graph.held(pid, fd)
        node = graph.node(pid)
        if found is None or node is None:
            continue
        obj, held = found
        piped = obj.kind in ("pipe", "fifo")
        readers = sorted(p for p, (o, e, d) in blocked.items() if o.id == obj.id
                         and d == "read" and (piped or e.inode != held.inode))
        if all((reader := seen.process(r)) is not None and reader.name == me.name
               for r in readers):
            continue  # a program passing its own pipe to another copy of itself (as
            # multiprocessing's spawn does): on purpose, and its use cannot be seen
        what = (f"the write end of {_label(obj)}" if piped else
                f"one socket of the {_label(obj)}")
        out.append(Finding(
            "inherited_end", f"inherited_end:{pid}:{fd}:{obj.id}", "unused inherited end",
            f"{who(graph, pid)} holds {what} as fd {fd} without close-on-exec (kept "
            f"across its exec) and waits in {node.waits or 'something else'}, not on it, "
            f"while {', '.join(who(graph, r) for r in readers)} waits reading the other "
            "end: EOF comes only when it closes", (pid,) + tuple(readers), (obj.id,)))
    return out
