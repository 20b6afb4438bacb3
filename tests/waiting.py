"""Waiting for a condition, the one way tests synchronize with processes and the app.

A fixed sleep is either too short on a loaded machine (a flaky failure) or too long
everywhere else (a slow suite). Tests instead poll a condition until it holds, and a
timeout, generous because only a broken run ever reaches it, turns into a failure that
says what was waited for and the last value the condition returned, so the failure
explains itself without a rerun.

`wait_until` is for plain code (threads, subprocesses, the kernel); `until` is for
Textual Pilot tests, and pauses the pilot between checks so the app keeps processing
messages and drawing while the test waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
#: what was waited for: a text, or a function that makes it at the timeout (to show the
#: state the condition was looking at, when its own value is a plain False)
Message = str | Callable[[], str] | None

#: generous: only a broken run waits this long, a working one returns at once
TIMEOUT = 15.0
#: short enough to add little to each wait, long enough not to spin on the CPU
INTERVAL = 0.05


class _Check:
    """One condition and what it returned last, for the message of a timeout."""

    def __init__(self, condition: Callable[[], Any], message: Message) -> None:
        self.condition = condition
        name = getattr(condition, "__name__", "<lambda>")
        self.message = message or (name if name != "<lambda>" else "a condition")
        self.last: Any = None

    def holds(self) -> Any:
        """The condition's value; an AssertionError it raises counts as not yet (so a
        function of plain asserts can be waited for) and is kept as the last value."""
        try:
            self.last = self.condition()
        except AssertionError as failed:
            self.last = failed
            return False
        return self.last

    def failure(self, timeout: float) -> AssertionError:
        what = self.message() if callable(self.message) else self.message
        return AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                              f"last value: {self.last!r}")


def wait_until(condition: Callable[[], T], timeout: float = TIMEOUT,
               interval: float = INTERVAL, message: Message = None) -> T:
    """Call `condition` until it returns a true value, and return that value.

    A condition may also be a function of asserts that returns True at its end: it is
    called until its asserts pass, and a timeout shows the assert that failed last.

    Raises AssertionError naming `message` (or the condition's name) and the last value
    seen when `timeout` seconds pass first; the condition is checked once more at the
    deadline, so a slow machine that got there just in time passes.
    """
    check = _Check(condition, message)
    deadline = time.monotonic() + timeout
    while not check.holds():
        if time.monotonic() >= deadline:
            raise check.failure(timeout)
        time.sleep(interval)
    return check.last


async def until(pilot: Any, condition: Callable[[], T], timeout: float = TIMEOUT,
                interval: float = INTERVAL, message: Message = None) -> T:
    """`wait_until` for a Pilot test: pauses the pilot between checks, so the app handles
    its messages (frames, keys, timers) and redraws while the test waits."""
    check = _Check(condition, message)
    deadline = time.monotonic() + timeout
    while not check.holds():
        if time.monotonic() >= deadline:
            raise check.failure(timeout)
        await pilot.pause(interval)
    return check.last

