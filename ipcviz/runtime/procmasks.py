"""Signal masks of a process, read from /proc/PID/status and decoded to names (cached:
masks rarely change)."""

from __future__ import annotations

from ipcviz.host.process import read_proc
from ipcviz.signals import mask_names

_MASK_FIELDS = {b"SigPnd": "pending", b"ShdPnd": "shared_pending", b"SigBlk": "blocked",
                b"SigIgn": "ignored", b"SigCgt": "caught"}
_MASK_NAMES: dict[int, list[str]] = {}  # masks rarely change: decode each value once


def _names(mask: int) -> list[str]:
    names = _MASK_NAMES.get(mask)
    if names is None:
        if len(_MASK_NAMES) > 4096:
            _MASK_NAMES.clear()
        names = _MASK_NAMES[mask] = mask_names(mask)
    return list(names)


def read_masks(pid: int) -> dict[str, list[str]] | None:
    """Signal masks of a process from /proc/PID/status, decoded to names."""
    blob = read_proc(pid, "status", 8192)
    if blob is None:
        return None
    out = {}
    start = blob.find(b"\nSigPnd:")  # the five mask lines come one after the other
    lines = blob[start + 1:].split(b"\n", 5)[:5] if start >= 0 else blob.split(b"\n")
    for line in lines:
        key, _, value = line.partition(b":")
        name = _MASK_FIELDS.get(key)
        if name is not None:
            out[name] = _names(int(value.strip(), 16))
    return out


def without_hidden(masks: dict[str, list[str]], hidden: int) -> dict[str, list[str]]:
    """The masks with ipcviz's own momentary blocks (T.HIDDEN_BLOCK) left out."""
    names = set(mask_names(hidden))
    return {**masks, "blocked": [n for n in masks.get("blocked", []) if n not in names]}
