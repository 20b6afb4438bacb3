"""Kernel observation of a real process tree and its IPC, read from /proc.

`observe(pid)` returns an immutable `Observation`: the tree under `pid` (children, state,
what each process waits in, zombies per parent, signal masks and queued signals), its
descriptors classified (pipes and FIFOs paired by inode with who holds which end, bytes
buffered against capacity; Unix/TCP/UDP sockets with peers and queued bytes; POSIX message
queues with depth and capacity), its shared mappings (POSIX shm with contents, mapped
files, System V shm) and the System V objects it uses. Reading keeps no descriptor open
past the call and never signals anything. No Textual, no runtime: this is a plain library.
"""

from __future__ import annotations

from .model import (Descriptor, End, Mapping, MessageQueue, Observation, Pipe, Process,
                    SignalMasks, Socket, SysV, Wait)
from .reading import observe

__all__ = ["Descriptor", "End", "Mapping", "MessageQueue", "Observation", "Pipe", "Process",
           "SignalMasks", "Socket", "SysV", "Wait", "observe"]
