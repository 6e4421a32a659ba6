"""Drawing lots so that anyone can re-draw them: the order of appearance and the last
tie-break both sort by sha256("<seed>:<entry id>"), with the seed recorded in the log.
Pure: the standard library only."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def lot_key(seed: str, entry_id: str) -> str:
    """An entry's lot under ``seed``: the lower, the earlier."""
    return hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


def draw_order(seed: str, entry_ids: Iterable[str]) -> list[str]:
    """The order of appearance: entries sorted by their lot (the id breaks a hash tie).

    Anyone holding the recorded seed and the entry ids can re-draw it, in any language.
    """
    return sorted(entry_ids, key=lambda e: (lot_key(seed, e), e))
