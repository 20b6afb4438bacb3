"""Who talks to whom: a graph computed from one Observation, as plain data.

Processes are nodes; every IPC object the tree shares (a pipe or FIFO, a connected pair
of sockets, a listening socket, a POSIX or System V message queue, a shared-memory
segment, a System V semaphore set) is a node of its own, with each process's end: which
descriptor it holds it by and whether it reads, writes or maps it. Pure functions over
the frozen Observation (no /proc reading), so they are tested with hand-made ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .model import Observation


@dataclass(frozen=True)
class GraphEnd:
    """One process's end of a shared object."""

    pid: int
    fd: int | None     # the descriptor (None: a mapping or a System V object)
    end: str           # "read", "write", "both", "map", "use"
    inode: int = 0     # for a socket pair: which of the two sockets this end is


@dataclass(frozen=True)
class GraphObject:
    """A shared object: a pipe, FIFO, socket pair, queue, segment or semaphore set."""

    id: str            # "pipe:[123]", "unix:[45]-[46]", "mqueue:/q", "shm:/seg", ...
    kind: str          # pipe, fifo, unix, tcp, udp, listen, mqueue, sysv_msg, posix_shm,
                       # sysv_shm, shared_file, anonymous, sysv_sem
    label: str         # what the user calls it: the FIFO's path, the queue's name, ...
    ends: tuple[GraphEnd, ...]
    inodes: tuple[int, ...] = ()   # the kernel objects it is made of
    buffered: int | None = None    # bytes waiting (pipes, FIFOs; a socket pair's sum)
    capacity: int | None = None

    def pids(self, *ends: str) -> tuple[int, ...]:
        """Pids holding an end of one of these kinds (all ends when none named)."""
        return tuple(sorted({e.pid for e in self.ends if not ends or e.end in ends}))


@dataclass(frozen=True)
class GraphNode:
    """A process: its name, state, and what it waits in (the descriptor, when one)."""

    pid: int
    ppid: int
    name: str
    state: str
    waits: str
    wait_call: str | None
    wait_fd: int | None
    threads: int
    sigchld_caught: bool = False   # a child's end interrupts its wait (EINTR)


@dataclass(frozen=True)
class Graph:
    """Processes and the objects they share, with a lookup of (pid, fd) -> object id."""

    nodes: tuple[GraphNode, ...]
    objects: tuple[GraphObject, ...]

    def node(self, pid: int) -> GraphNode | None:
        return next((n for n in self.nodes if n.pid == pid), None)

    def object(self, ident: str) -> GraphObject | None:
        return next((o for o in self.objects if o.id == ident), None)

    def held(self, pid: int, fd: int) -> tuple[GraphObject, GraphEnd] | None:
        """The object a process holds by this descriptor, and its end."""
        for obj in self.objects:
            for end in obj.ends:
                if end.pid == pid and end.fd == fd:
                    return obj, end
        return None

    def to_dict(self) -> dict:
        """Plain data for JSON and the Snapshot."""
        return {"processes": [asdict(n) for n in self.nodes],
                "objects": [{**asdict(o), "ends": [asdict(e) for e in o.ends],
                             "inodes": list(o.inodes)} for o in self.objects]}


#: shared file mappings that are the system's (locale and library caches), not IPC
SYSTEM_FILES = ("/usr/", "/lib", "/etc/", "/var/cache/")

_ENDS = {"r": "read", "w": "write", "rw": "both"}


def build_graph(seen: Observation, leave_out: set[int] | frozenset[int] = frozenset()
                ) -> Graph:
    """The graph of one Observation; `leave_out`: pipe inodes that are not the program's
    (ipcviz's own plumbing: the pipes that carry its output to the viewer)."""
    nodes = tuple(GraphNode(p.pid, p.ppid, p.name, p.state,
                            p.wait.words if p.wait else "", p.wait.syscall if p.wait else None,
                            p.wait.fd if p.wait else None, p.threads,
                            "SIGCHLD" in p.signals.caught)
                  for p in seen.processes)
    objects: list[GraphObject] = []
    for pipe in seen.pipes:
        if pipe.inode in leave_out:
            continue
        objects.append(GraphObject(
            id=f"{pipe.kind}:[{pipe.inode}]", kind=pipe.kind,
            label=pipe.path or f"pipe {pipe.inode}",
            ends=tuple(GraphEnd(e.pid, e.fd, _ENDS.get(e.mode, "use")) for e in pipe.ends),
            inodes=(pipe.inode,), buffered=pipe.buffered, capacity=pipe.capacity))
    objects += _socket_objects(seen)
    for q in seen.queues:
        objects.append(GraphObject(
            id=f"mqueue:{q.name}", kind="mqueue", label=q.name,
            ends=tuple(GraphEnd(e.pid, e.fd, _ENDS.get(e.mode, "use")) for e in q.holders),
            inodes=(q.inode,), buffered=q.depth, capacity=q.capacity))
    for m in seen.mappings:
        kind = "shared_file" if m.kind == "file" else m.kind
        if kind == "shared_file" and m.path.startswith(SYSTEM_FILES):
            continue  # a system cache every process maps read-only: nobody talks there
        objects.append(GraphObject(
            id=f"{kind}:{m.path}", kind=kind, label=m.name,
            ends=tuple(GraphEnd(pid, None, "map") for pid in m.mappers), inodes=(m.inode,)))
    for s in seen.sysv:
        if s.kind == "shm":
            continue  # a System V segment is mapped: it is among the mappings
        kind = "sysv_msg" if s.kind == "msg" else "sysv_sem"
        objects.append(GraphObject(
            id=f"{kind}:{s.id}", kind=kind, label=f"System V {s.kind} key 0x{s.key:08x} id {s.id}",
            ends=tuple(GraphEnd(pid, None, "use") for pid in s.pids),
            buffered=s.messages if s.kind == "msg" else None))
    return Graph(nodes, tuple(objects))


def _socket_objects(seen: Observation) -> list[GraphObject]:
    """Sockets as objects: a connected pair (Unix by the kernel's peer inode, loopback
    TCP by local and remote address) is one object with the ends of both sockets; a
    listener, or a socket whose peer is outside the tree, is an object of its own."""
    by_inode = {s.inode: s for s in seen.sockets}
    # a TCP connection's two sockets, each one's local address the other's remote (a
    # listener shares its local address with every connection it accepted: left out)
    by_address = {(s.family, s.local, s.remote): s for s in seen.sockets
                  if s.family != "unix" and s.state != "listen"}
    done: set[int] = set()
    out = []
    for s in seen.sockets:
        if s.inode in done:
            continue
        done.add(s.inode)
        if s.family == "unix":
            peer = by_inode.get(s.peer_inode) if s.peer_inode else None
        else:
            peer = by_address.get((s.family, s.remote, s.local)) \
                if s.state != "listen" else None
        if peer is not None and peer.inode not in done and (
                s.family != "unix" or peer.peer_inode in (s.inode, None)):
            done.add(peer.inode)
            pair = sorted((s, peer), key=lambda x: x.inode)
            ends = tuple(GraphEnd(e.pid, e.fd, "both", x.inode) for x in pair for e in x.holders)
            queued = [x.rx_queue for x in pair if x.rx_queue is not None]
            out.append(GraphObject(
                id=f"{s.family}:[{pair[0].inode}]-[{pair[1].inode}]", kind=s.family,
                label=f"{s.family} {s.type} pair {pair[0].local or '(unnamed)'} ↔ "
                      f"{pair[1].local or '(unnamed)'}",
                ends=ends, inodes=(pair[0].inode, pair[1].inode),
                buffered=sum(queued) if queued else None))
            continue
        kind = "listen" if s.state == "listen" else s.family
        out.append(GraphObject(
            id=f"{kind}:[{s.inode}]", kind=kind,
            label=f"{s.family} {s.type} {s.state} {s.local or '(unnamed)'}"
                  + (f" → {s.remote}" if s.remote else ""),
            ends=tuple(GraphEnd(e.pid, e.fd, "both", s.inode) for e in s.holders),
            inodes=(s.inode,), buffered=s.rx_queue))
    return out
