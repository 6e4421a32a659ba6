"""Assigns the global order of the store, and extends its hash chain.

Appenders never touch a shared document: they insert unsequenced commits. One process at
a time (the holder of a lease, normally the relay) sequences them: gap-free positions in
an order that respects every stream's versions, each commit's hash chained to the one
before it, each event a leaf of the log's Merkle tree (merkle.py), which the sequencer
extends by its frontier, never rebuilding it. After every batch it records the head
(position, hash and tree), and every ``seal_interval`` a seal, so that
:func:`~leitai.eventstore.verify.verify` detects a deleted or lost tail of the log. With a
notary (checkpoints.py) it also signs a checkpoint at every seal, and at once after a batch
holding an event the notary marks urgent (a stage's published results).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from leitai.eventstore.hashchain import chain_hash
from leitai.eventstore.merkle import leaf_hash
from leitai.eventstore.records import PENDING, CommitLog, DuplicateCommit, Head, event_records, head_of_log

if TYPE_CHECKING:
    from leitai.eventstore.checkpoints import Notary

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another sequencer wrote while this one believed it held the lease."""


def event_hashes(records: list[bytes], previous: str) -> list[str]:
    """The chain runs event by event over every stored field and its position, so a
    verify can name the very event that was changed."""
    hashes = []
    for record in records:
        previous = chain_hash(previous, record)
        hashes.append(previous)
    return hashes


def sequence_fields(commit: dict[str, Any], first_position: int, previous: str) -> dict[str, Any]:
    """What sequencing sets on ``commit`` when its first event takes ``first_position``
    after the hash ``previous``; its own hash (``hash``) is the next commit's ``previous``."""
    records = event_records(commit, first_position)
    hashes = event_hashes(records, previous)
    return {
        "first_position": first_position,
        "last_position": first_position + len(commit["events"]) - 1,
        "prev_hash": previous,
        "hashes": hashes,
        "hash": hashes[-1],
        "leaves": [leaf_hash(record).hex() for record in records],
    }


class Sequencer:
    def __init__(
        self,
        records: CommitLog,
        owner: str,
        lease_seconds: float = 15.0,
        seal_interval: float = 5.0,
        notary: Notary | None = None,
    ) -> None:
        self._records = records
        self._owner = owner
        self._notary = notary
        self._lease = timedelta(seconds=lease_seconds)
        self._seal_interval = seal_interval
        # the interval counts from the start: monotonic() is the machine's uptime, and a zero
        # here sealed at once on a machine up longer than the interval, and never earlier
        self._last_seal = time.monotonic()
        self._sealed: tuple[int, str] | None = None  # the head this sequencer sealed last
        self._held_until: datetime | None = None
        self._head: Head | None = None  # known only while the lease is held

    def acquire(self) -> bool:
        """Take or renew the lease; renews only once half of it is spent, to spare writes."""
        now = datetime.now(UTC)
        if self._held_until is not None and now < self._held_until - self._lease / 2:
            return True
        held = self._records.take_lease(self._owner, now, now + self._lease)
        if not held or self._held_until is None:
            self._head = None  # another holder may have sequenced since we last held it
        self._held_until = now + self._lease if held else None
        return held

    @property
    def head_position(self) -> int | None:
        """The last position this sequencer assigned or read, while it holds the lease."""
        return self._head.position if self._head else None

    def release(self) -> None:
        self._lost()
        self._records.release_lease(self._owner)

    def sequence(self, limit: int = 500) -> int:
        """Sequence up to ``limit`` pending commits; returns how many were sequenced."""
        if not self.acquire():
            return 0
        pending = sorted(self._records.pending(limit), key=lambda c: c[PENDING])
        batch = self._in_stream_order(pending, complete=len(pending) < limit)
        if batch:
            self._assign(batch)
        if time.monotonic() - self._last_seal >= self._seal_interval:
            self.seal()
        return len(batch)

    def _in_stream_order(self, pending: list[dict[str, Any]], complete: bool) -> list[dict[str, Any]]:
        """Keep arrival order across streams, version order within each stream, and hold
        back a stream whose earlier commit is still pending outside this batch.

        ``complete``: ``pending`` holds every pending commit. A commit appended after that
        read can only follow those of its stream (its appender saw its predecessor stored).
        """
        if not pending:
            return []
        lowest_pending: dict[str, int] = {}
        others = [] if complete else self._records.pending_heads(sorted({c["stream_id"] for c in pending}))
        for doc in [*pending, *others]:
            sid = doc["stream_id"]
            lowest_pending[sid] = min(lowest_pending.get(sid, doc["prev_version"]), doc["prev_version"])
        by_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for commit in pending:
            by_stream[commit["stream_id"]].append(commit)
        ready = {}
        for sid, commits in by_stream.items():
            commits.sort(key=lambda c: c["prev_version"])
            run = []
            expected = lowest_pending[sid]
            for commit in commits:
                if commit["prev_version"] != expected:
                    break
                run.append(commit)
                expected = commit["version"]
            ready[sid] = run
        ordered: list[dict[str, Any]] = []
        taken: defaultdict[str, int] = defaultdict(int)
        for commit in pending:
            sid = commit["stream_id"]
            if taken[sid] < len(ready[sid]):
                ordered.append(ready[sid][taken[sid]])
                taken[sid] += 1
        return ordered

    def _assign(self, batch: list[dict[str, Any]]) -> None:
        head = (self._head or head_of_log(self._records)).copy()
        assigned = []
        for commit in batch:
            fields = sequence_fields(commit, head.position + 1, head.hash)
            assigned.append((commit["_id"], fields))
            head.advance(fields)
        try:
            modified = self._records.mark_sequenced(assigned)
        except DuplicateCommit as exc:
            self._lost()
            raise LeaseLost("a position was taken by another sequencer") from exc
        except Exception:
            self._head = None  # the batch may or may not be stored: read the head again next time
            raise
        if modified != len(assigned):
            self._lost()
            raise LeaseLost(f"sequenced {modified} of {len(assigned)} commits")
        self._head = head
        # The head after every batch, not only at seals: verify then notices a tail lost or
        # deleted after the last seal. Written after the batch, so it never runs ahead of it.
        self._records.record_head(head.to_doc())
        if self._notary and any(e["type"] in self._notary.urgent for c in batch for e in c["events"]):
            self._notary.issue(head, "publication")

    def _lost(self) -> None:
        self._held_until = None
        self._head = None

    def seal(self) -> None:
        """Seal the head, unless this sequencer sealed the very same head last (an idle log
        needs no seal a round: the one it has covers it)."""
        head = self._head or head_of_log(self._records)
        self._last_seal = time.monotonic()
        if self._sealed == (head.position, head.hash):
            return
        # The head lets head_of_log start near the end; it scans forward from it, so a head
        # that lags behind (a crash before it was written) costs a longer scan, no more.
        self._records.record_head(head.to_doc())
        if head.position:
            self._records.add_seal(
                {
                    "position": head.position,
                    "hash": head.hash,
                    "sealed_at": datetime.now(UTC),
                    "sealed_by": self._owner,
                }
            )
            log.info("store sealed", extra={"position": head.position, "hash": head.hash})
            if self._notary:
                self._notary.issue(head, "seal")
        self._sealed = (head.position, head.hash)
