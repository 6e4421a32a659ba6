"""Anything shaped like a phone number or an e-mail address (issue 31, docs/privacy.md): what no
audit bundle, export or public answer may hold. Shapes, not the demo's own values, so that a
contact that leaks from anywhere is found: a mainland mobile number (eleven digits from 13 to
19, with or without +86), a landline with its area code (0391-8181234), an e-mail address.
A run of digits inside a longer one or a hex hash is no phone number: the shapes stand alone."""

from __future__ import annotations

import re
from pathlib import Path

SHAPES = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"|(?<![0-9A-Za-z])(?:\+?86[- ]?)?(?:1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8})(?![0-9A-Za-z])"
)


def contact_shaped(text: str) -> list[str]:
    """Each phone number or e-mail address in ``text``, once, in order."""
    return list(dict.fromkeys(SHAPES.findall(text)))


def contact_shaped_in_files(folder: Path, pattern: str = "*.json") -> dict[str, list[str]]:
    """The files under ``folder`` matching ``pattern`` that hold any, with what they hold."""
    found = {}
    for path in sorted(folder.rglob(pattern)):
        shaped = contact_shaped(path.read_text(encoding="utf-8"))
        if shaped:
            found[str(path.relative_to(folder))] = shaped[:5]
    return found
