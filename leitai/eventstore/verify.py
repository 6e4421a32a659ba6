"""Re-derive the hash chain and the Merkle tree of a store, and name the first record that
breaks them: an event that does not match its hash or leaf, a gap, a seal or a checkpoint
that the log no longer gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from leitai.contracts import ContractError, ContractRegistry, Event
from leitai.eventstore.hashchain import GENESIS
from leitai.eventstore.merkle import Frontier, leaf_hash
from leitai.eventstore.notes import Checkpoint, NoteError, Verifier
from leitai.eventstore.records import CommitLog, all_checkpoints, commits_in_order, event_records
from leitai.eventstore.sequencer import event_hashes


@dataclass(frozen=True)
class BadRecord:
    position: int | None
    commit_id: str
    stream_id: str
    reason: str
    event_id: str | None = None

    def __str__(self) -> str:
        where = f"position {self.position}" if self.position is not None else "unsequenced"
        event = f" event {self.event_id}" if self.event_id else ""
        return f"{where}, stream {self.stream_id!r}, commit {self.commit_id}{event}: {self.reason}"


@dataclass
class VerifyReport:
    checked_commits: int = 0
    head_position: int = 0
    pending_commits: int = 0
    seals_checked: int = 0
    checkpoints_checked: int = 0
    first_bad: BadRecord | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify(records: CommitLog, registry: ContractRegistry, verifiers: Sequence[Verifier] = ()) -> VerifyReport:
    """With ``verifiers`` (the log's public keys: the current one and any it replaced), every
    checkpoint must be signed by one of them: without them, someone able to write to the
    store could rewrite the checkpoints with the log."""
    report = VerifyReport()
    expected_position, previous = 1, GENESIS
    stream_heads: dict[str, int] = {}
    hash_at: dict[int, str] = {}
    seal_positions = {s["position"]: s["hash"] for s in records.seals()}
    # the head the sequencer recorded after its last batch: a seal of the very end of the log
    head = records.head_hint()
    if head and head["position"]:
        seal_positions.setdefault(head["position"], head["hash"])

    checkpoints = {c["size"]: c for c in all_checkpoints(records)}
    tree, root_at = Frontier(), {}
    for commit in (c for batch in commits_in_order(records) for c in batch):
        bad = _check_commit(commit, expected_position, previous, stream_heads, registry, tree)
        if bad:
            report.first_bad = bad
            return report
        previous = commit["hash"]
        expected_position = commit["last_position"] + 1
        stream_heads[commit["stream_id"]] = commit["version"]
        if commit["last_position"] in seal_positions:
            hash_at[commit["last_position"]] = previous
        if commit["last_position"] in checkpoints:
            root_at[commit["last_position"]] = tree.root().hex()
        report.checked_commits += 1
    report.head_position = expected_position - 1
    report.pending_commits = records.count_pending()

    for size, checkpoint in sorted(checkpoints.items()):
        report.checkpoints_checked += 1
        root = checkpoint["root"]
        if verifiers:
            problem = _signature_problem(checkpoint, verifiers)
            if problem:
                report.first_bad = BadRecord(size, "-", "-", f"checkpoint {size}: {problem}")
                return report
        if size > report.head_position:
            report.first_bad = BadRecord(
                report.head_position + 1,
                "-",
                "-",
                f"log ends at {report.head_position} but a checkpoint was signed at {size}: tail deleted or lost",
            )
            return report
        if root_at.get(size) != root:
            report.first_bad = BadRecord(
                size, "-", "-", "the Merkle root differs from the checkpoint signed at this size"
            )
            return report

    for position, sealed_hash in sorted(seal_positions.items()):
        report.seals_checked += 1
        if position > report.head_position:
            report.first_bad = BadRecord(
                report.head_position + 1,
                "-",
                "-",
                f"log ends at {report.head_position} but was sealed at {position}: tail deleted or lost",
            )
            return report
        if hash_at.get(position) != sealed_hash:
            report.first_bad = BadRecord(position, "-", "-", "hash differs from the seal recorded at this position")
            return report
    return report


def _signature_problem(checkpoint: dict[str, Any], verifiers: Sequence[Verifier]) -> str | None:
    problems = []
    for verifier in verifiers:
        try:
            signed = Checkpoint.parse(verifier.open(checkpoint["note"]))
        except NoteError as exc:
            problems.append(str(exc))
            continue
        if (signed.size, signed.root.hex()) != (checkpoint["size"], checkpoint["root"]):
            return "the signed note states another size or root than the record"
        return None
    return "; ".join(problems)


def _check_commit(
    commit: dict[str, Any],
    expected_position: int,
    previous: str,
    stream_heads: dict[str, int],
    registry: ContractRegistry,
    tree: Frontier,
) -> BadRecord | None:
    def bad(reason: str, event_id: str | None = None) -> BadRecord:
        return BadRecord(
            commit.get("first_position"), str(commit["_id"]), commit.get("stream_id", "?"), reason, event_id
        )

    if commit.get("first_position") != expected_position:
        return bad(f"expected position {expected_position}: records missing or reordered")
    if commit.get("prev_hash") != previous:
        return bad("link to the previous record is broken")
    if commit.get("prev_version") != stream_heads.get(commit["stream_id"], 0):
        return bad(f"stream version gap: follows version {stream_heads.get(commit['stream_id'], 0)}")
    stored = commit.get("hashes") or []
    if len(stored) != len(commit["events"]) or commit.get("hash") != (stored or [None])[-1]:
        return bad("the commit's hashes were altered")
    records = event_records(commit, expected_position)
    recomputed = event_hashes(records, previous)
    leaves = commit.get("leaves")
    for index, document in enumerate(commit["events"]):
        if index >= len(stored) or stored[index] != recomputed[index]:
            return BadRecord(
                expected_position + index,
                str(commit["_id"]),
                commit["stream_id"],
                "content does not match its hash",
                document.get("event_id"),
            )
        leaf = leaf_hash(records[index])
        if leaves is not None and (len(leaves) != len(records) or leaves[index] != leaf.hex()):
            return BadRecord(
                expected_position + index,
                str(commit["_id"]),
                commit["stream_id"],
                "its Merkle leaf does not match its content",
                document.get("event_id"),
            )
        tree.append(leaf)
        try:
            Event.from_wire(dict(document, position=expected_position + index), registry)
        except ContractError as exc:
            return BadRecord(
                expected_position + index,
                str(commit["_id"]),
                commit["stream_id"],
                f"violates its contract: {exc}",
                document.get("event_id"),
            )
    return None
