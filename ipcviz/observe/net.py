"""Sockets: /proc/PID/net/{unix,tcp,tcp6,udp,udp6} by inode, Unix peers and queues by sock_diag.

/proc/net/unix names no peer, so Unix sockets are also asked of the kernel's sock_diag
netlink interface (UNIX_DIAG_PEER, UNIX_DIAG_RQLEN): one dump per observation, on a
netlink socket of our own that is closed before returning.
"""

from __future__ import annotations

import socket
import struct

from .model import Descriptor, End, Socket

_TCP_STATES = {1: "established", 2: "syn-sent", 3: "syn-recv", 4: "fin-wait1", 5: "fin-wait2",
               6: "time-wait", 7: "close", 8: "close-wait", 9: "last-ack", 10: "listen",
               11: "closing"}
_UNIX_TYPES = {1: "stream", 2: "dgram", 5: "seqpacket"}
_UNIX_STATES = {1: "unconnected", 2: "connecting", 3: "connected", 4: "disconnecting"}
_ACCEPTCON = 0x10000

NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
NLM_F_REQUEST, NLM_F_DUMP, NLMSG_DONE, NLMSG_ERROR = 1, 0x300, 3, 2
UDIAG_SHOW_PEER, UDIAG_SHOW_RQLEN = 4, 16
UNIX_DIAG_PEER, UNIX_DIAG_RQLEN = 2, 4


def _address(text: str, v6: bool) -> str:
    """'0100007F:1F90' -> '127.0.0.1:8080' (the kernel prints each 32-bit word host-endian)."""
    host, _, port = text.partition(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, words)
    return f"[{ip}]:{int(port, 16)}" if v6 else f"{ip}:{int(port, 16)}"


def inet_table(pid: int, name: str) -> dict[int, dict]:
    """Rows of /proc/PID/net/NAME (tcp, tcp6, udp, udp6) by inode."""
    v6 = name.endswith("6")
    rows: dict[int, dict] = {}
    try:
        with open(f"/proc/{pid}/net/{name}") as f:
            next(f)
            for line in f:
                c = line.split()
                tx, _, rx = c[4].partition(":")
                state = int(c[3], 16)
                rows[int(c[9])] = {
                    "family": name, "type": "stream" if name.startswith("tcp") else "dgram",
                    "state": _TCP_STATES.get(state, str(state)) if name.startswith("tcp")
                    else ("connected" if state == 1 else "unconnected"),
                    "local": _address(c[1], v6), "remote": _address(c[2], v6),
                    "tx_queue": int(tx, 16), "rx_queue": int(rx, 16),
                    "drops": int(c[12]) if name.startswith("udp") and len(c) > 12 else None}
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return rows


def unix_table(pid: int) -> dict[int, dict]:
    """Rows of /proc/PID/net/unix by inode."""
    rows: dict[int, dict] = {}
    try:
        with open(f"/proc/{pid}/net/unix") as f:
            next(f)
            for line in f:
                c = line.split()
                flags, kind, state = int(c[3], 16), int(c[4], 16), int(c[5], 16)
                rows[int(c[6])] = {
                    "family": "unix", "type": _UNIX_TYPES.get(kind, str(kind)),
                    "state": "listen" if flags & _ACCEPTCON else _UNIX_STATES.get(state, "?"),
                    "local": c[7] if len(c) > 7 else "", "remote": ""}
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return rows


def unix_diag() -> dict[int, tuple[int | None, int | None, int | None]]:
    """inode -> (peer inode, receive queue, send queue) for every Unix socket, by sock_diag."""
    out: dict[int, tuple[int | None, int | None, int | None]] = {}
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    except OSError:
        return out
    try:
        sock.settimeout(1.0)   # the kernel answers at once; never hang a frame on it
        request = struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0,
                              UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN, 0xFFFFFFFF, 0xFFFFFFFF)
        header = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY,
                             NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
        sock.sendto(header + request, (0, 0))
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind in (NLMSG_DONE, NLMSG_ERROR) or length < 16:
                    return out
                _parse_unix_msg(data[offset + 16:offset + length], out)
                offset += (length + 3) & ~3
    except OSError:
        return out
    finally:
        sock.close()


def _parse_unix_msg(msg: bytes, out: dict) -> None:
    inode = struct.unpack_from("=I", msg, 4)[0]
    peer = rq = wq = None
    pos = 16
    while pos + 4 <= len(msg):
        length, kind = struct.unpack_from("=HH", msg, pos)
        if length < 4:
            break
        if kind == UNIX_DIAG_PEER:
            peer = struct.unpack_from("=I", msg, pos + 4)[0]
        elif kind == UNIX_DIAG_RQLEN:
            rq, wq = struct.unpack_from("=II", msg, pos + 4)
        pos += (length + 3) & ~3
    out[inode] = (peer, rq, wq)


def sockets(root: int, descriptors: list[Descriptor]) -> list[Socket]:
    """The sockets held in the tree, with peers and queued bytes where known."""
    held: dict[int, list[Descriptor]] = {}
    for d in descriptors:
        if d.kind == "socket":
            held.setdefault(d.inode, []).append(d)
    if not held:
        return []
    rows = unix_table(root)
    for name in ("tcp", "tcp6", "udp", "udp6"):
        rows.update(inet_table(root, name))
    diag = unix_diag() if any(rows.get(i, {}).get("family") == "unix" for i in held) else {}
    by_local = {(r["family"], r["local"]): i for i, r in rows.items() if r["family"] != "unix"}
    out = []
    for inode, fds in sorted(held.items()):
        row = rows.get(inode)
        holders = tuple(End(d.pid, d.fd) for d in fds)
        if row is None:  # netlink, packet, or another namespace
            out.append(Socket(inode, "other", "", "", "", "", holders))
            continue
        peer = rx = tx = None
        if row["family"] == "unix":
            peer, rx, tx = diag.get(inode, (None, None, None))
            peer = peer or None
            remote = rows.get(peer, {}).get("local", "") if peer else ""
        else:
            rx, tx, remote = row["rx_queue"], row["tx_queue"], row["remote"]
            peer = by_local.get((row["family"], remote))
        out.append(Socket(inode, row["family"], row["type"], row["state"], row["local"],
                          remote, holders, peer, rx, tx, row.get("drops")))
    return out
