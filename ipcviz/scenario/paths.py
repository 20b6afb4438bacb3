"""Where scenarios are: a path as given, or a bundled one by name.

Kept apart from the loader (which needs pydantic) so that `ipcviz launch` can start the
runtime process before importing anything heavy.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = ["bundled_dir", "bundled_scenarios", "resolve_path"]


def bundled_dir() -> Path:
    """Where the bundled scenarios are: inside the installed package, or the source tree."""
    packaged = resources.files("ipcviz") / "bundled_scenarios"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "scenarios"


def bundled_scenarios() -> list[Path]:
    """Every bundled scenario file, sorted by name."""
    directory = bundled_dir()
    return sorted(directory.glob("*.yaml")) if directory.is_dir() else []


def resolve_path(name: str) -> str:
    """A path as given if it exists, else a bundled scenario of that name (with or without .yaml)."""
    if os.path.exists(name):
        return name
    stem = Path(name).name
    if stem.endswith(".yaml"):
        stem = stem[:-5]
    candidate = bundled_dir() / f"{stem}.yaml"
    if candidate.exists():
        return str(candidate)
    return name
