"""Signed checkpoints of a log, issued by its sequencer, each proved consistent with the one
before it before it is signed.

A checkpoint commits the operator to the log's Merkle root at a tree size, under the log's
signing key: once an auditor holds one, any later checkpoint must extend it (a consistency
proof), and any event the operator shows must be in it (an inclusion proof). Rewriting the
store, chain and seals together no longer goes unnoticed by anyone who kept a checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leitai.eventstore.merkle import Frontier, consistency_from, verify_consistency
from leitai.eventstore.notes import Checkpoint, NoteError, Signer, Verifier
from leitai.eventstore.records import CommitLog, DuplicateCommit, Head, commit_leaves, commits_in_order
from leitai.witness.client import Cosigning, WitnessEndpoint

log = logging.getLogger(__name__)
URGENT = frozenset({"StageResultsPublished"})  # a checkpoint at once, so a certificate can cite it


class InconsistentCheckpoint(Exception):
    """The log's tree does not extend the last checkpoint's: nothing is signed, and someone
    must look (the store was changed under the sequencer, or its tree is wrong)."""


class Notary:
    """``trusted``: the verifier keys of earlier signing keys (after a rotation, the last
    checkpoint was signed by one of them); ``witnesses``: whom each new checkpoint is sent to
    for cosigning, in the background (leitai/witness/client.py), each call bounded by
    ``witness_timeout`` seconds."""

    def __init__(
        self,
        records: CommitLog,
        signer: Signer,
        origin: str,
        urgent: Iterable[str] = URGENT,
        trusted: Iterable[Verifier] = (),
        witnesses: Sequence[WitnessEndpoint] = (),
        witness_timeout: float = 5.0,
    ) -> None:
        self._records = records
        self._signer = signer
        self._trusted = [signer.verifier, *trusted]
        self.origin = origin
        self.urgent = frozenset(urgent)
        self._latest: dict[str, Any] | None = None
        self._cosigning = Cosigning(records, witnesses, witness_timeout, self.proof_from) if witnesses else None

    def issue(self, head: Head, reason: str) -> dict[str, Any] | None:
        """Sign a checkpoint of ``head``, if it is beyond the latest; returns it (None when
        there was nothing new to sign)."""
        previous = self._latest or self._records.latest_checkpoint()
        if head.position == 0 or (previous and previous["size"] >= head.position):
            self._latest = previous
            if previous and self._cosigning:  # a relay's first seal on a quiet log: a witness may still lack it
                self._cosigning.submit()
            return None
        root = head.tree.root()
        checkpoint = {
            "_id": head.position,
            "size": head.position,
            "origin": self.origin,
            "root": root.hex(),
            "note": self._signer.sign(Checkpoint(self.origin, head.position, root).body()),
            "tree": head.tree.to_doc(),
            "reason": reason,
            "issued_at": datetime.now(UTC),
            "cosignatures": [],  # witnesses' cosignature lines, added as they answer
        }
        if previous:
            checkpoint["consistency"] = self._prove(previous, head)
        try:
            self._records.add_checkpoint(checkpoint)
        except DuplicateCommit:  # another sequencer signed this size a moment ago
            self._latest = None
            return None
        self._latest = checkpoint
        log.info(
            "checkpoint signed",
            extra={"origin": self.origin, "size": head.position, "root": root.hex(), "reason": reason},
        )
        if self._cosigning:
            self._cosigning.submit()
        return checkpoint

    def close(self) -> None:
        """Stop asking witnesses (the relay is closing)."""
        if self._cosigning:
            self._cosigning.stop()

    def _prove(self, previous: dict[str, Any], head: Head) -> dict[str, Any]:
        old = Frontier.from_doc(previous["tree"])
        signed = self._signed(previous)
        if (signed.size, signed.root.hex()) != (old.size, old.root().hex()):
            raise InconsistentCheckpoint(f"checkpoint {previous['size']}: its tree does not give the root it signed")
        proof = consistency_from(old, self._leaves(old.size, head.position))
        if not verify_consistency(old.size, head.position, signed.root, head.tree.root(), proof):
            log.error("checkpoint refused", extra={"origin": self.origin, "from": old.size, "to": head.position})
            raise InconsistentCheckpoint(f"the tree of {head.position} does not extend checkpoint {old.size}")
        return {"from": old.size, "proof": [node.hex() for node in proof]}

    def _leaves(self, old: int, new: int) -> list[bytes]:
        """The leaf hashes of positions old + 1 .. new, from the sequenced commits."""
        leaves = [
            leaf
            for batch in commits_in_order(self._records, old)
            for commit in batch
            if commit["last_position"] <= new
            for leaf in commit_leaves(commit)
        ]
        if old + len(leaves) != new:
            raise InconsistentCheckpoint(f"the log from {old} to {new} holds {len(leaves)} events")
        return leaves

    def proof_from(self, checkpoint: dict[str, Any], old: int) -> list[bytes]:
        """The consistency proof of stored ``checkpoint`` from the stored checkpoint of size
        ``old`` (what a witness that cosigned that one needs); LookupError when there is none."""
        stored = self._records.checkpoint_at_least(old)
        if stored is None or stored["size"] != old:
            raise LookupError(f"no checkpoint of size {old} is stored")
        try:
            return consistency_from(Frontier.from_doc(stored["tree"]), self._leaves(old, checkpoint["size"]))
        except InconsistentCheckpoint as exc:
            raise LookupError(str(exc)) from None

    def _signed(self, checkpoint: dict[str, Any]) -> Checkpoint:
        problems = []
        for verifier in self._trusted:
            try:
                return Checkpoint.parse(verifier.open(checkpoint["note"]))
            except NoteError as exc:
                problems.append(str(exc))
        raise InconsistentCheckpoint(f"checkpoint {checkpoint['size']}: {'; '.join(problems)}")


@dataclass(frozen=True)
class Signing:
    """How a relay signs its log's checkpoints."""

    signer: Signer
    origin: str
    trusted: tuple[Verifier, ...] = ()
    witnesses: tuple[WitnessEndpoint, ...] = ()
    witness_timeout: float = 5.0

    def notary(self, records: CommitLog) -> Notary:
        return Notary(
            records,
            self.signer,
            self.origin,
            trusted=self.trusted,
            witnesses=self.witnesses,
            witness_timeout=self.witness_timeout,
        )


def public(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What is served of a stored checkpoint."""
    return {
        "origin": checkpoint["origin"],
        "size": checkpoint["size"],
        "root": checkpoint["root"],
        "note": checkpoint["note"],
        "reason": checkpoint["reason"],
        "issued_at": checkpoint["issued_at"],
        "cosignatures": list(checkpoint.get("cosignatures", [])),
        **({"consistency": checkpoint["consistency"]} if "consistency" in checkpoint else {}),
    }
