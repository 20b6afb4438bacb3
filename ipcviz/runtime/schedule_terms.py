"""The words of run-wide time control: the speeds, a schedule as written, what a held
worker does next, and why a schedule stopped. Plain values, read by the scheduler, the
command line and the sampler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ipcviz.telemetry import table as T

#: speed factors, fastest first (`-` and `+` in the app walk this list)
SPEEDS = tuple(1 / 2 ** k for k in range(7))

Mode = Literal["run", "pause", "step", "schedule"]


def parse_schedule(text: str | list[str]) -> list[str]:
    """A schedule as its list of worker names ("a b a b", "a,b" or a list)."""
    if isinstance(text, list):
        return list(text)
    return text.replace(",", " ").split()


def speed_problem(speed: float) -> str | None:
    """Why `speed` is not one of SPEEDS, or None."""
    if speed in SPEEDS:
        return None
    return f"{speed} is not a speed (use 1, 0.5, 0.25, 0.125, 0.0625, 0.03125 or 0.015625)"


@dataclass(frozen=True)
class NextOp:
    """What a held worker does next, for a "next:" column: `kind` is an operation's name
    (an increment is a `load` then a `store`), `detail` the words ("load counter[0]")."""

    kind: str
    channel: str | None
    detail: str


@dataclass(frozen=True)
class ScheduleError:
    """The schedule could not go on: entry `index` names `worker`, which cannot move."""

    index: int
    worker: str
    reason: str

    @property
    def text(self) -> str:
        return f"schedule[{self.index}]: worker '{self.worker}' cannot move: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "worker": self.worker, "reason": self.reason}


def describe_next(kind: int, channel: str | None, arg: int, shape: tuple[int, ...]) -> NextOp:
    """The words for a worker's next operation (an OP code: the table of kinds gives each
    operation its words)."""
    op = T.OP_OF.get(kind)
    if op is None:
        return NextOp("?", channel, "wait")
    return NextOp(op.name, channel, op.words(channel or "", arg, shape))
