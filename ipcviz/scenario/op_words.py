"""The words the `next` column says of a worker held before an operation (`Op.words` in
the table of kinds): each takes the channel's name, the detail its describer gave and
the channel's array shape."""

from __future__ import annotations

from collections.abc import Callable

from ipcviz.scenario import models as m
from ipcviz.signals import signal_name

Words = Callable[[str, int, tuple[int, ...]], str]


def at(name: str) -> Words:
    """Words for an operation on an array element: "load counter[0, 3]"."""
    def words(on: str, arg: int, shape: tuple[int, ...]) -> str:
        if arg < 0:
            return f"{name} {on}"
        where = f"[{arg // shape[1]}, {arg % shape[1]}]" if len(shape) == 2 else f"[{arg}]"
        return f"{name} {on}{where}"
    return words


def write(on: str, arg: int, shape: tuple[int, ...]) -> str:
    if arg < 0:  # `from_read`: the bytes of its last read, size known only when it runs
        return f"write what it last read to {on}"
    return f"write {arg} B to {on}"


def call(on: str, arg: int, shape: tuple[int, ...]) -> str:
    method = m.RPC_METHODS[arg] if 0 <= arg < len(m.RPC_METHODS) else "?"
    return f"call {method}() on {on}"


def disposition(on: str, arg: int, shape: tuple[int, ...]) -> str:
    """`arg` is the signal times 4 plus the action's index in DISPOSITIONS."""
    return f"set {signal_name(arg >> 2)} to {DISPOSITIONS[arg & 3]}"


#: a `disposition` step's actions, in the order its OP_ARG numbers them
DISPOSITIONS = ("SIG_IGN", "SIG_DFL", "its handler")


def masks(name: str) -> Words:
    return lambda on, arg, shape: f"{name} {signal_name(arg)}" if arg else name
