"""The run clock's history: its value at any wall time since the run's start.

The run clock stands still while the run is paused, stepped or scheduled and runs at f
in slow motion, so it is a different function of wall time in each stretch between two
starts, stops or changes of speed. Each such moment is kept (a handful per key a person
presses), and an event dated on the wall clock where it happened (a worker's ring, the
runtime's log) is given its run-clock time from them, even when it is read later.
"""

from __future__ import annotations

import bisect


class ClockHistory:
    """(wall time, run time, rate) at each start, stop and change of speed."""

    def __init__(self) -> None:
        self._walls: list[float] = []
        self._marks: list[tuple[float, float]] = []

    def clear(self) -> None:
        """The run starts again: no history."""
        self._walls, self._marks = [], []

    def mark(self, wall: float, run: float, rate: float) -> None:
        """From wall time `wall` on, the clock reads `run` and runs at `rate` (0: stands
        still). A second mark at the same wall time replaces the first."""
        if self._walls and self._walls[-1] == wall:
            self._walls.pop()
            self._marks.pop()
        self._walls.append(wall)
        self._marks.append((run, rate))

    def at(self, wall: float) -> float:
        """The clock at wall time `wall`: 0 before the first mark. The clock never goes
        back, so events in the order they happened are in the order of these times too."""
        i = bisect.bisect_right(self._walls, wall) - 1
        if i < 0:
            return 0.0
        run, rate = self._marks[i]
        return run + (wall - self._walls[i]) * rate
