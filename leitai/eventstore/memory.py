"""The event store's records in memory: the twin of the MongoDB backend for fast tests.

It keeps the same unique rules as the MongoDB indexes and hands out copies, as a server
would, so that the same conformance suite passes against both. It keeps nothing across a
restart; it is for tests of the service layer, never for a running service.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from leitai.eventstore.records import PENDING, DuplicateCommit


class MemoryCommitLog:
    """:class:`~leitai.eventstore.records.CommitLog` in a dict, safe across threads."""

    def __init__(self) -> None:
        self.commits: dict[str, dict[str, Any]] = {}  # by _id, in insertion order; tests may tamper with them
        self._lock = threading.Lock()
        self._lease: dict[str, Any] = {"owner": None, "expires_at": None}
        self._head: dict[str, Any] | None = None
        self._seals: list[dict[str, Any]] = []
        self._checkpoints: dict[int, dict[str, Any]] = {}

    def insert_each(self, commits: Sequence[dict[str, Any]]) -> Sequence[Exception | None]:
        outcomes: list[Exception | None] = []
        for commit in commits:
            try:
                self._insert(commit)
                outcomes.append(None)
            except DuplicateCommit as exc:
                outcomes.append(exc)
        return outcomes

    def _insert(self, commit: dict[str, Any]) -> None:
        with self._lock:
            event_ids = {e["event_id"] for e in commit["events"]}
            for stored in self.commits.values():
                if (
                    stored["_id"] == commit["_id"]
                    or (stored["stream_id"], stored["prev_version"]) == (commit["stream_id"], commit["prev_version"])
                    or event_ids & _event_ids(stored)
                ):
                    raise DuplicateCommit(f"commit {commit['_id']} conflicts with {stored['_id']}")
            self.commits[commit["_id"]] = copy.deepcopy(commit)

    def exists(self, commit_id: str) -> bool:
        return commit_id in self.commits

    def find_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, Any] | None:
        wanted = set(event_ids)
        return self._first(lambda c: bool(wanted & _event_ids(c)))

    def stream_commits(self, stream_id: str, after_version: int = 0) -> list[dict[str, Any]]:
        return self._all(lambda c: c["stream_id"] == stream_id and c["version"] > after_version)

    def stream_version(self, stream_id: str) -> int:
        return max((c["version"] for c in self.stream_commits(stream_id)), default=0)

    def sequenced_between(self, after_position: int, up_to: int) -> list[dict[str, Any]]:
        return self._all(lambda c: "last_position" in c and after_position < c["last_position"] <= up_to)

    def pending(self, limit: int) -> list[dict[str, Any]]:
        return self._all(lambda c: PENDING in c)[:limit]

    def pending_heads(self, stream_ids: Sequence[str]) -> list[dict[str, Any]]:
        streams = set(stream_ids)
        return [
            {"stream_id": c["stream_id"], "prev_version": c["prev_version"]}
            for c in self._all(lambda c: PENDING in c and c["stream_id"] in streams)
        ]

    def count_pending(self) -> int:
        return len(self._all(lambda c: PENDING in c))

    def mark_sequenced(self, assigned: Sequence[tuple[str, dict[str, Any]]]) -> int:
        changed = 0
        with self._lock:
            for cid, fields in assigned:
                commit = self.commits.get(cid)
                if commit is None or PENDING not in commit:
                    continue
                if any(c.get("last_position") == fields["last_position"] for c in self.commits.values()):
                    raise DuplicateCommit(f"position {fields['last_position']} is taken")
                commit.update(copy.deepcopy(fields))
                del commit[PENDING]
                changed += 1
        return changed

    def take_lease(self, owner: str, now: datetime, until: datetime) -> bool:
        with self._lock:
            expires = self._lease["expires_at"]
            if self._lease["owner"] != owner and expires is not None and expires >= now:
                return False
            self._lease = {"owner": owner, "expires_at": until}
            return True

    def release_lease(self, owner: str) -> None:
        with self._lock:
            if self._lease["owner"] == owner:
                self._lease["expires_at"] = None

    def head_hint(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._head)

    def record_head(self, head: dict[str, Any]) -> None:
        self._head = copy.deepcopy(head)

    def add_seal(self, seal: dict[str, Any]) -> None:
        with self._lock:
            self._seals.append(copy.deepcopy(seal))

    def seals(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._seals)

    def add_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        with self._lock:
            if checkpoint["_id"] in self._checkpoints:
                raise DuplicateCommit(f"a checkpoint of size {checkpoint['_id']} is stored")
            self._checkpoints[checkpoint["_id"]] = copy.deepcopy(checkpoint)

    def checkpoints(self, after_size: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(self._checkpoints[k]) for k in sorted(self._checkpoints) if k > after_size][:limit]

    def checkpoint_at_least(self, size: int) -> dict[str, Any] | None:
        return next(iter(self.checkpoints(size - 1, 1)), None)

    def latest_checkpoint(self) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._checkpoints[max(self._checkpoints)]) if self._checkpoints else None

    def add_cosignatures(self, size: int, lines: list[str]) -> None:
        with self._lock:
            kept = self._checkpoints[size].setdefault("cosignatures", [])
            kept += [line for line in lines if line not in kept]

    def ping(self) -> bool:
        return True

    def _all(self, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(c) for c in self.commits.values() if keep(c)]

    def _first(self, keep: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        found = self._all(keep)
        return found[0] if found else None


def _event_ids(commit: dict[str, Any]) -> set[str]:
    return {e["event_id"] for e in commit["events"]}
