"""What every scenario model shares: the strict base model, names, signals and limits.

Kept apart so that the table of kinds (`kinds.py`) and the file's top level
(`schema.py`) can both build on it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ipcviz.signals import parse_signal

#: Documented limits; see docs/limits.md.
MAX_WORKERS = 512
MAX_BYTES_PER_OP = 16 * 1024 * 1024
MAX_ARRAY_ELEMENTS = 1 << 22
MAX_MMAP_BYTES = 64 * 1024 * 1024
MAX_DURATION = 24 * 3600
MAX_SIGNAL_COUNT = 100_000
MAX_SCHEDULE = 100_000
#: descriptors the runtime may hold for channels (each kind's `descriptors` in the table
#: of kinds: 2 per pipe or FIFO, 1 per socket or POSIX queue): it waits with select(),
#: which takes descriptors below 1,024 only, and 1,000 pipes ended in "filedescriptor
#: out of range in select()"
MAX_CHANNEL_DESCRIPTORS = 768
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,31}$"

SignalNum = Annotated[int, BeforeValidator(parse_signal)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


#: a problem an entry finds in itself: the field path under the entry, and one line
Problem = tuple[tuple[str | int, ...], str]


def dtype_problem(dtype: str, value: float) -> str | None:
    """Why `value` cannot be stored in an array of `dtype` exactly, or None if it can."""
    import numpy as np

    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)  # say 300, not 300.0
    if dtype.startswith(("int", "uint")):
        if isinstance(value, float) and not value.is_integer():
            return f"{value!r} has a fraction; {dtype} holds whole numbers"
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            return f"{value!r} does not fit in {dtype} ({info.min}..{info.max})"
        return None
    limit = float(np.finfo(dtype).max)
    if not -limit <= value <= limit:
        return f"{value!r} does not fit in {dtype} (largest {limit:.6g})"
    return None


class Model(BaseModel):
    """Base: frozen, and an unknown field is an error that lists the allowed ones."""

    # strict: a YAML `true` is not the number 1 and "3" is not 3; no NaN or infinity
    model_config = ConfigDict(frozen=True, populate_by_name=False, strict=True,
                              allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = [f.alias or name for name, f in cls.model_fields.items()]
            for key in data:
                if key not in allowed:
                    raise PydanticCustomError(
                        "unknown_field",
                        "unknown field '{field}' (allowed: {allowed})",
                        {"field": str(key), "allowed": ", ".join(allowed)},
                    )
        return data

    def problems(self) -> Iterator[Problem]:
        """What is wrong with the entry as a whole, beyond each field's own type and
        range (fields that contradict each other, values that do not fit together),
        reported at the field that says it; checked with the rest of the scenario, so
        every problem of a file is listed at once."""
        return iter(())


def _exactly_one(model: BaseModel, names: list[str], what: str) -> str:
    present = [n for n in names if getattr(model, n) is not None]
    if len(present) != 1:
        shown = ", ".join(names)
        if not present:
            raise PydanticCustomError("one_of", f"needs one {what} ({shown})")
        raise PydanticCustomError("one_of", f"has {len(present)} {what}s; give exactly one")
    return present[0]
