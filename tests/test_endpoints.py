"""A worker's channel ends, by shape (worker/ends.py, channels/endpoints.py): every bundled
kind's real end, attached from its kernel object, is found under the shape its step
handlers use; an end is checked once and then held; a name of another shape, or of a
channel the worker holds no end of, is one line naming what is wrong.
"""

from __future__ import annotations

import os

import pytest

from ipcviz.channels.pipe import StreamEndpoint
from ipcviz.host.registry import Registry
from ipcviz.scenario.kinds import CHANNELS, channel_class
from ipcviz.worker.ends import Ends, NotThatEnd

#: per bundled kind: its options, and per role set a worker may attach with, the shapes
#: (`Ends` attributes) its steps take that end as
KINDS: dict[str, tuple[dict, dict[frozenset[str], tuple[str, ...]]]] = {
    "pipe": ({}, {frozenset({"read", "write"}): ("stream", "pipe")}),
    "fifo": ({}, {frozenset({"read", "write"}): ("stream", "pipe")}),
    "socket": ({"server": "s"}, {frozenset({"server"}): ("stream",),
                                 frozenset({"write"}): ("stream",)}),
    "mqueue": ({}, {frozenset({"send", "receive"}): ("queue", "kernel_queue")}),
    "queue": ({}, {frozenset({"send", "receive"}): ("queue",)}),
    "sysv_queue": ({}, {frozenset({"send", "receive"}): ("queue", "typed_queue")}),
    "semaphore": ({}, {frozenset({"acquire"}): ("lock",)}),
    "shared_array": ({}, {frozenset({"increment"}): ("array",)}),
    "mmap": ({"size": 4096}, {frozenset({"write"}): ("mapped",)}),
    "page": ({}, {frozenset({"write"}): ("page",)}),
    "window": ({"file_size": 1 << 20, "length": 8192}, {frozenset({"read"}): ("window",)}),
    "shm": ({"size": 4096}, {frozenset({"write"}): ("shm",)}),
    "file": ({}, {frozenset({"write"}): ("file",)}),
    "rpc": ({"server": "s"}, {frozenset({"server"}): ("rpc_server",),
                              frozenset({"call"}): ("rpc_client",)}),
}


def test_every_bundled_kind_is_listed() -> None:
    assert set(KINDS) == set(CHANNELS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kinds_end_is_found_by_its_shape(nothing_left_behind, kind: str) -> None:
    """Create the kind's kernel object, attach ends as its workers would, and find each
    end under every shape its steps use: the very object `attach` made."""
    options, uses = KINDS[kind]
    registry = Registry.create()
    channel = channel_class(kind)("c", 0, CHANNELS[kind].options(kind=kind, **options),
                                  registry)
    try:
        channel.create()
        for roles, shapes in uses.items():
            end = channel.attach(set(roles))
            ends = Ends({"c": end}, {"c": kind})
            for shape in shapes:
                assert getattr(ends, shape)["c"] is end, (roles, shape)
    finally:
        channel.close()
        registry.remove_all()


def test_an_end_is_checked_once_then_held(nothing_left_behind) -> None:
    """The first lookup of a name checks its end and keeps it in the shape's mapping:
    every later lookup is a plain dict hit. The end does what StreamEnd promises on a
    real pipe: a write says what it wrote, an empty pipe reads None, and with no
    writer left b''."""
    read_fd, write_fd = os.pipe()
    for fd in (read_fd, write_fd):
        os.set_blocking(fd, False)
    end = StreamEndpoint(read_fd, write_fd)
    ends = Ends({"p": end}, {"p": "pipe"})
    try:
        assert "p" not in ends.stream
        stream = ends.stream["p"]
        assert stream is end and dict(ends.stream) == {"p": end}
        assert stream.write_some(memoryview(b"hello")) == 5
        assert stream.read_some(16) == b"hello"
        assert stream.read_some(16) is None
        os.close(write_fd)
        end.write_fd = None
        assert ends.pipe["p"].read_some(16) == b""
    finally:
        os.close(read_fd)
        if end.write_fd is not None:
            os.close(write_fd)


def test_a_channel_of_another_shape_is_one_line() -> None:
    """A step asking a pipe's end for a queue's (the loader refuses such a scenario), or
    for a channel the worker holds no end of: one line each, nothing kept."""
    end = StreamEndpoint(None, None)
    ends = Ends({"p": end}, {"p": "pipe"})
    with pytest.raises(NotThatEnd) as wrong:
        ends.queue["p"]
    assert str(wrong.value) == ("channel 'p' is a pipe: its end is not a message queue "
                                "(StreamEndpoint is no MessageEnd)")
    with pytest.raises(NotThatEnd) as missing:
        ends.stream["q"]
    assert str(missing.value) == "channel 'q': this worker holds no end of it"
    assert dict(ends.queue) == {} and dict(ends.stream) == {}
