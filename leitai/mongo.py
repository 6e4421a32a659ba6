"""The one place a MongoDB client is made."""
from __future__ import annotations

from pymongo import MongoClient


def connect(url: str) -> MongoClient:
    # tz_aware: every datetime read back is UTC-aware, as every datetime written is.
    return MongoClient(url, tz_aware=True, serverSelectionTimeoutMS=10_000)
