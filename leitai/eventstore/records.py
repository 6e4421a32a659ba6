"""What the event store keeps, and the narrow interface every storage backend offers.

The store, the sequencer and verify are written once, against :class:`CommitLog`; a backend
(MongoDB in production, memory in fast tests) only keeps records. Both backends pass the same
conformance suite (tests/integration/eventstore_conformance.py), so what holds for one holds
for the other.

A *commit* is one append: a dict with ``_id`` (see :func:`commit_id`), ``stream_id``,
``prev_version``, ``version``, ``pending_since`` (until sequenced) and ``events``; the
sequencer adds ``first_position``, ``last_position``, ``prev_hash``, ``hashes``, ``hash`` and
``leaves`` (each event's Merkle leaf hash, see merkle.py).

A *checkpoint* is a signed statement of the log's Merkle root at a tree size (checkpoints.py):
a dict with ``_id`` and ``size`` (the tree size), ``origin``, ``root``, ``note`` (the signed
note), ``tree`` (the frontier at that size), ``reason``, ``issued_at`` and, after the first,
``consistency`` (the proof from the checkpoint before it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from leitai.canonical import canonical_json
from leitai.eventstore.hashchain import GENESIS
from leitai.eventstore.merkle import Frontier, leaf_hash

MAX_EVENTS_PER_APPEND = 500
PENDING = "pending_since"


class DuplicateCommit(Exception):
    """A unique rule refused a write: a commit id, a (stream, prev_version), an event id or a
    position is stored already. Nothing was written."""


def commit_id(stream_id: str, version: int) -> str:
    """A commit's _id names the stream version it ends at, so that lookup needs no index."""
    return f"{stream_id}@{version:012d}"


class CommitLog(Protocol):
    """The records of one service's event store. Every method is one round trip at most."""

    # -- commits ---------------------------------------------------------------------
    def insert_each(self, commits: Sequence[dict[str, Any]]) -> Sequence[Exception | None]:
        """Store new commits in one write, each on its own: for each, None when it was stored,
        the DuplicateCommit that refused it (its id, its (stream_id, prev_version) or one of
        its event ids is stored already, or taken by one before it in ``commits``), or the
        store's error that leaves its own outcome unknown. The others are stored whatever one
        of them met. A failure of the whole write is raised: whether each was stored is unknown."""

    def exists(self, commit_id: str) -> bool: ...

    def find_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, Any] | None:
        """A stored commit holding any of these event ids (at least its stream, versions,
        event ids, ``outcome`` and positions)."""

    def stream_commits(self, stream_id: str, after_version: int = 0) -> list[dict[str, Any]]:
        """The stream's commits ending after ``after_version``, in any order."""

    def stream_version(self, stream_id: str) -> int: ...

    def sequenced_between(self, after_position: int, up_to: int) -> list[dict[str, Any]]:
        """Sequenced commits whose last position is in (after_position, up_to], in any order."""

    # -- sequencing ------------------------------------------------------------------
    def pending(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` commits not yet sequenced, in any order."""

    def pending_heads(self, stream_ids: Sequence[str]) -> list[dict[str, Any]]:
        """``stream_id`` and ``prev_version`` of every pending commit of these streams."""

    def count_pending(self) -> int: ...

    def mark_sequenced(self, assigned: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Give each (commit id, fields) its position fields, and end its pending state, in
        order; only commits still pending change. Returns how many changed; DuplicateCommit
        if a position is taken (the rest are left as they were)."""

    def take_lease(self, owner: str, now: datetime, until: datetime) -> bool:
        """Hold the sequencer's lease until ``until`` if ``owner`` holds it or it expired."""

    def release_lease(self, owner: str) -> None: ...

    def head_hint(self) -> dict[str, Any] | None:
        """The head (``position``, ``hash``, ``tree``) the sequencer last recorded."""

    def record_head(self, head: dict[str, Any]) -> None: ...

    def add_seal(self, seal: dict[str, Any]) -> None: ...

    def seals(self) -> list[dict[str, Any]]: ...

    # -- checkpoints -----------------------------------------------------------------
    def add_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store a checkpoint; DuplicateCommit if one of its size is stored already."""

    def checkpoints(self, after_size: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Checkpoints of sizes above ``after_size``, smallest first."""

    def checkpoint_at_least(self, size: int) -> dict[str, Any] | None:
        """The smallest checkpoint whose tree has at least ``size`` leaves."""

    def latest_checkpoint(self) -> dict[str, Any] | None: ...

    def add_cosignatures(self, size: int, lines: list[str]) -> None:
        """Add witnesses' cosignature lines to the checkpoint of ``size`` (a line it holds
        already is not added twice)."""

    def ping(self) -> bool: ...


def all_checkpoints(log: CommitLog, page: int = 1000) -> list[dict[str, Any]]:
    """Every checkpoint of the log, smallest first, read a page at a time."""
    found: list[dict[str, Any]] = []
    while batch := log.checkpoints(found[-1]["size"] if found else 0, page):
        found += batch
    return found


def commits_in_order(log: CommitLog, after_position: int = 0, span: int = 500) -> Iterator[list[dict[str, Any]]]:
    """Sequenced commits after ``after_position`` in log order, as bounded range reads.

    Each read asks for last positions in (p, p + span]: with ``span`` at least the largest
    append, the commit holding p + 1 always falls in the range, and no read asks the
    backend to sort more than one range.
    """
    span = max(span, MAX_EVENTS_PER_APPEND)
    while True:
        batch = sorted(log.sequenced_between(after_position, after_position + span), key=lambda c: c["last_position"])
        if not batch:
            return
        yield batch
        after_position = batch[-1]["last_position"]


def event_records(commit: dict[str, Any], first_position: int) -> list[bytes]:
    """Each event of a commit as the bytes its chain hash and its Merkle leaf cover: its
    stored fields and its position, as canonical JSON."""
    return [
        canonical_json(dict(event, position=first_position + index)) for index, event in enumerate(commit["events"])
    ]


def commit_leaves(commit: dict[str, Any]) -> list[bytes]:
    """The Merkle leaf hashes of a sequenced commit's events (computed for a commit
    sequenced before leaves were recorded)."""
    if "leaves" in commit:
        return [bytes.fromhex(leaf) for leaf in commit["leaves"]]
    return [leaf_hash(record) for record in event_records(commit, commit["first_position"])]


@dataclass
class Head:
    """The end of the sequenced log: the last position, its chain hash, and the Merkle tree
    over every event up to it (by its frontier)."""

    position: int = 0
    hash: str = GENESIS
    tree: Frontier = field(default_factory=Frontier)

    def advance(self, commit: dict[str, Any]) -> None:
        for leaf in commit_leaves(commit):
            self.tree.append(leaf)
        self.position, self.hash = commit["last_position"], commit["hash"]

    def to_doc(self) -> dict[str, Any]:
        return {"position": self.position, "hash": self.hash, "tree": self.tree.to_doc()}

    def copy(self) -> Head:
        return Head(self.position, self.hash, self.tree.copy())


def head_of_log(log: CommitLog) -> Head:
    """The head of the log; position 0 and the empty tree for an empty log.

    Starts from the head the sequencer last recorded and scans forward, so a hint left
    behind by a crash between sequencing and recording it is corrected here. A hint without
    a tree (recorded before the log had one) is read from the start, once.
    """
    hint = log.head_hint()
    head = Head(hint["position"], hint["hash"], Frontier.from_doc(hint["tree"])) if hint and "tree" in hint else Head()
    for batch in commits_in_order(log, head.position):
        for commit in batch:
            head.advance(commit)
    return head
