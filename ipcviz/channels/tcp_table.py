"""A listening TCP socket's accept queue, read from the kernel's table (/proc/net/tcp).

For a socket in the LISTEN state the kernel shows in the `rx_queue` column the
connections that have finished the handshake and wait for `accept()`: what `ss -lt`
shows as Recv-Q. (Its Send-Q, the listen backlog, comes only through netlink: the
table's `tx_queue` of a listener is 0.) Kept apart from the socket channel, which only
asks for the figure.
"""

from __future__ import annotations

#: the LISTEN state in /proc/net/tcp's `st` column
LISTEN = "0A"


def accept_queue(port: int, table: str = "/proc/net/tcp") -> int | None:
    """Connections waiting for accept() on the socket listening on 127.0.0.1:`port`
    (None when there is none, or the table cannot be read)."""
    local = f"0100007F:{port:04X}"
    try:
        with open(table) as fh:
            lines = fh.readlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or fields[1] != local or fields[3] != LISTEN:
            continue
        try:
            return int(fields[4].partition(":")[2], 16)
        except ValueError:
            return None
    return None
