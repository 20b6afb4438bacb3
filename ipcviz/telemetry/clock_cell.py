"""The run clock as a worker reads it: one cell of its row (T.CTRL_CLOCK).

A worker's `sleep: 3` is three seconds of the run clock, the clock the header shows and
the timeline's `at:` counts in: it stands still while the run is paused or stepped and
runs at f in slow motion. The runtime (runtime/scheduler.py) writes this cell in every
row whenever that clock starts, stops or changes speed, and at no other time; a worker
works out the clock's value from it and its own CLOCK_MONOTONIC, so a sleep at full
speed stays one system call and nobody has to wake sleepers when the run pauses (a
sleeper that wakes to find the clock stopped waits for it to run again).

One cell, written and read whole (an aligned 8-byte store and load), so a reader never
sees half of a change. Its low STATE_BITS bits are the state: UNSET (nothing written:
sleeps go by the wall clock, as a worker outside a run would), a divisor d from 1 to
64 (running at 1/d of the wall clock) or STOPPED. The other bits are microseconds: the
clock's value while it is stopped; while it runs, its origin, the wall time (µs of
CLOCK_MONOTONIC) at which it would have read 0 at this speed.
"""

from __future__ import annotations

STATE_BITS = 7
STATE_MASK = (1 << STATE_BITS) - 1
UNSET = 0
STOPPED = STATE_MASK
#: the largest divisor a running clock may have (slow motion goes down to 1/64)
MAX_DIVISOR = STOPPED - 1


def running(now_us: int, clock_us: int, divisor: int) -> int:
    """The cell of a clock that reads `clock_us` at wall time `now_us` and from then on
    runs at 1/`divisor` of the wall clock."""
    if not 1 <= divisor <= MAX_DIVISOR:
        raise ValueError(f"divisor {divisor} is not in 1..{MAX_DIVISOR}")
    return (now_us - clock_us * divisor) << STATE_BITS | divisor


def stopped(clock_us: int) -> int:
    """The cell of a clock that stands at `clock_us`."""
    return clock_us << STATE_BITS | STOPPED


def read(cell: int, now_us: int) -> int | None:
    """The clock's value in µs at wall time `now_us`; None when no clock was written."""
    state = cell & STATE_MASK
    if state == UNSET:
        return None
    value = cell >> STATE_BITS
    if state == STOPPED:
        return value
    return (now_us - value) // state


def divisor(cell: int) -> int | None:
    """How many wall seconds one second of the clock takes now; None while it stands still
    (or was never written)."""
    state = cell & STATE_MASK
    return None if state in (UNSET, STOPPED) else state
