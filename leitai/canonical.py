"""Canonical JSON: one byte spelling of a JSON value, for hashes anyone can recompute.

Keys sorted, no whitespace, UTF-8 with non-ASCII text as itself (not escaped). Pure: the
standard library only.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
