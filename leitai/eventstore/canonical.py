"""The sha256 chain that makes stored records tamper-evident, over their canonical JSON."""

from __future__ import annotations

import hashlib

from leitai.canonical import canonical_json

__all__ = ["GENESIS", "canonical_json", "chain_hash"]

GENESIS = "0" * 64


def chain_hash(previous: str, record: bytes) -> str:
    """The hash that follows ``previous`` over ``record`` (canonical JSON bytes)."""
    return hashlib.sha256(previous.encode("ascii") + record).hexdigest()
