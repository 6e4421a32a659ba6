"""The sha256 hash chain that makes stored records tamper-evident, over their canonical JSON
(leitai.canonical). Pure: the standard library only."""

from __future__ import annotations

import hashlib

__all__ = ["GENESIS", "chain_hash"]

GENESIS = "0" * 64


def chain_hash(previous: str, record: bytes) -> str:
    """The hash that follows ``previous`` over ``record`` (canonical JSON bytes)."""
    return hashlib.sha256(previous.encode("ascii") + record).hexdigest()
