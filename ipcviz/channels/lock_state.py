"""A semaphore's state in one frame, typed: its value, its holders and waiters, with the
relations every frame keeps (value = initial - held, nobody waits for a lock it holds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, NamedTuple

from ipcviz.channels.state import Broken, ChannelState
from ipcviz.channels.wire import Checked, Wire

__all__ = ["Holder", "LockState"]


class Holder(NamedTuple):
    """A worker holding a semaphore (acquired more than released); `alive` False once it
    has ended or is a zombie: a dead holder never gives the semaphore back."""

    name: str
    alive: bool = True

    @classmethod
    def parse(cls, value: Any) -> Holder:
        """From JSON: [name, alive], or the old text form ("b (dead)")."""
        if isinstance(value, str):
            dead = value.endswith(" (dead)")
            return cls(value.removesuffix(" (dead)"), not dead)
        return cls(str(value[0]), bool(value[1]))


@dataclass(frozen=True, kw_only=True)
class LockState(ChannelState):
    """A semaphore: the kernel's value against its initial value, who holds it (the
    workers' own acquired - released counts) and who waits for it (their states)."""

    value: Annotated[int | None, Checked()] = None
    """The kernel's value; None once the semaphore is gone."""
    initial: int | None = None
    """Its initial value: 1 for a mutex (one holder at most)."""
    max_held: Annotated[int | None, Checked()] = None
    """The most places taken at once."""
    held: Annotated[int | None, Checked()] = None
    """Acquired - released, summed over the workers."""
    holders: list[Holder] | None = None
    waiters: Annotated[list[str] | None, Checked()] = None
    handoff: Annotated[bool | None, Checked()] = None
    """Released by workers that did not take it: a turn passed between processes (a
    producer/consumer handshake), so nobody holds it."""
    busy: Annotated[bool | None, Checked()] = None
    """Taken and given back faster than it can be read: the holders shown may be a burst
    behind the value."""

    recorded_holder: Annotated[tuple[str | None] | None, Wire(str | None), Checked()] = None
    """Recordings made before `holders` was a list also have `holder` (the first holder's
    name or null): kept, so that they are written back as they were. (The summary says
    `holder` of every semaphore, from `holders`: a check may name it.)"""

    KEPT_WITH: ClassVar[dict[str, str]] = {"value": "initial"}

    @classmethod
    def arguments(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        known = super().arguments(data)
        if known.get("holders") is not None:
            known["holders"] = [Holder.parse(h) for h in known["holders"]]
        if "holder" in data:
            known["recorded_holder"] = (data["holder"],)
        return known

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.recorded_holder is not None:
            out["holder"] = self.recorded_holder[0]
        return out

    def relations(self, before: ChannelState | None) -> list[Broken]:
        """Held by at most `initial` workers (a mutex by one), its value what is left of
        the initial value (value = initial - held, so value + holders <= initial, value >=
        0), and nobody waits for it while holding it. A turn handed between processes
        (`handoff`) has no holders to check."""
        out = super().relations(before)
        if self.handoff:
            return out
        initial, value, held = self.initial, self.value, self.held
        holders = [h.name for h in self.holders or ()]
        if value is not None and value < 0:
            out.append(Broken("value >= 0", {"value": value}))
        if initial is not None and initial > 0 and len(holders) > initial:
            out.append(Broken("held by at most its initial value", {
                "holders": holders, "initial": initial}))
        if initial is not None and value is not None and value + len(holders) > initial:
            out.append(Broken("value + holders <= initial", {
                "value": value, "holders": holders, "initial": initial}))
        if initial is not None and value is not None and held is not None and (
                value != initial - held):
            out.append(Broken("value = initial - held", {
                "value": value, "initial": initial, "held": held}))
        both = sorted(set(holders) & set(self.waiters or ()))
        if both:
            out.append(Broken("nobody waits for a lock it holds", {"workers": both}))
        return out

    def live_holders(self) -> list[str]:
        """The names of its holders that are alive."""
        return [h.name for h in self.holders or () if h.alive]
