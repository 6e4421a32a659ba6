"""Anything shaped like a phone number or an e-mail address (issue 31, docs/privacy.md): what no
audit bundle, export or public answer may hold. Shapes (leitai.privacy.CONTACT_SHAPED, which
also keeps them out of an erasure's recorded reason), not the demo's own values, so that a
contact that leaks from anywhere is found."""

from __future__ import annotations

from pathlib import Path

from leitai.privacy import CONTACT_SHAPED


def contact_shaped(text: str) -> list[str]:
    """Each phone number or e-mail address in ``text``, once, in order."""
    return list(dict.fromkeys(CONTACT_SHAPED.findall(text)))


def contact_shaped_in_files(folder: Path, pattern: str = "*.json") -> dict[str, list[str]]:
    """The files under ``folder`` matching ``pattern`` that hold any, with what they hold."""
    found = {}
    for path in sorted(folder.rglob(pattern)):
        shaped = contact_shaped(path.read_text(encoding="utf-8"))
        if shaped:
            found[str(path.relative_to(folder))] = shaped[:5]
    return found
