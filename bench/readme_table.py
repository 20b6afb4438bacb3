"""Rewrite one marked block of bench/README.md (a results table a script keeps)."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def replace_block(name: str, lines: list[str]) -> None:
    """Put `lines` between `<!-- name -->` and `<!-- /name -->` in bench/README.md, the
    markers added at its end the first time."""
    text = README.read_text() if README.exists() else ""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n" + "\n".join(lines) + f"\n{end}"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text += "\n" + block + "\n"
    README.write_text(text)
