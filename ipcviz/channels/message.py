"""The 8-byte header ipcviz puts on every queue message: who sent it and its sequence
number, so that self-reads and duplicates are counted exactly. Byte counts exclude it.
"""

from __future__ import annotations

import struct

_HEADER = struct.Struct("<hHI")  # sender row, reserved, sequence number
HEADER_SIZE = _HEADER.size


def pack(row: int, seq: int, payload: bytes | memoryview) -> bytes:
    return _HEADER.pack(row, 0, seq & 0xFFFFFFFF) + bytes(payload)


def unpack(message: bytes) -> tuple[int, int, bytes]:
    row, _, seq = _HEADER.unpack_from(message)
    return row, seq, message[HEADER_SIZE:]
