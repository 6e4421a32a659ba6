"""The one place a MongoDB client is made, with the durability contract every process keeps
(docs/architecture.md, "Durability"), and the one test of whether a store error is an outage.

* ``journaled`` (the default, and the only choice in production): writes are acknowledged
  once a majority of the replica set has them in its journal (``w: "majority", j: true``; on
  a standalone server, once its journal has them), and reads see only majority-committed
  data, so that nothing acknowledged or read can be rolled back.
* ``unjournaled`` (``w: 1, j: false``, local reads): what MongoDB does by default. A crash of
  the store loses recently acknowledged writes. Only a test or a benchmark asks for it, by
  name (LEITAI_DURABILITY with LEITAI_ENVIRONMENT=test or bench).
"""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, WriteConcernError

DURABILITY: dict[str, dict[str, Any]] = {
    "journaled": {"w": "majority", "journal": True, "readConcernLevel": "majority"},
    "unjournaled": {"w": 1, "journal": False, "readConcernLevel": "local"},
}
# What a URL may not set: the durability contract sets them (LEITAI_DURABILITY names the choice).
CONTRACT_OPTIONS = ("w", "journal", "j", "fsync", "readconcernlevel")

DUPLICATE_KEY = 11000  # a unique index refused a write

# Server errors that mean "not now", not "no": shutting down, stepping down, no primary, the
# write concern could not be met (the write itself may have been applied).
_TRANSIENT_CODES = frozenset({6, 7, 64, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436})


def connect(url: str, durability: str = "journaled") -> MongoClient[dict[str, Any]]:
    # tz_aware: every datetime read back is UTC-aware, as every datetime written is.
    return MongoClient(url, tz_aware=True, serverSelectionTimeoutMS=10_000, **DURABILITY[durability])


def taken_keys(exc: BulkWriteError) -> list[dict[str, Any]]:
    """The write errors of a bulk write that a unique index refused and nothing else did;
    raises ``exc`` again when any of them is something else."""
    errors: list[dict[str, Any]] = exc.details.get("writeErrors", [])
    if any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return errors


def is_outage(exc: BaseException) -> bool:
    """The store did not answer, or could not promise a write: the outcome of a write is
    unknown and the same request, sent again with the same key, may succeed."""
    if isinstance(exc, (ConnectionFailure, WriteConcernError)):
        return True
    if isinstance(exc, BulkWriteError):  # a bulk whose writes all went in, short of its write concern
        return not exc.details.get("writeErrors") and bool(exc.details.get("writeConcernErrors"))
    return isinstance(exc, OperationFailure) and (
        exc.code in _TRANSIENT_CODES or exc.has_error_label("RetryableWriteError")
    )
