"""Canonical JSON and the sha256 chain that makes stored records tamper-evident."""
from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(previous: str, record: bytes) -> str:
    """The hash that follows ``previous`` over ``record`` (canonical JSON bytes)."""
    return hashlib.sha256(previous.encode("ascii") + record).hexdigest()
