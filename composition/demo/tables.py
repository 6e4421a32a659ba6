"""Terminal tables that line up with Chinese text (wide characters take two columns)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, size: int, right: bool) -> str:
    gap = " " * (size - width(text))
    return gap + text if right else text + gap


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """``right``: indexes of the columns aligned right (numbers)."""
    cells = [[str(c) for c in row] for row in rows]
    sizes = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join("─" * s for s in sizes)
    out = ["  ".join(_pad(h, sizes[i], i in right) for i, h in enumerate(headers)), line]
    out += ["  ".join(_pad(c, sizes[i], i in right) for i, c in enumerate(row)) for row in cells]
    return "\n".join(out)
