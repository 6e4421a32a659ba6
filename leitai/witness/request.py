"""The body of a tlog-witness ``add-checkpoint`` request, read strictly:

    old <size>\\n
    <base64 hash>\\n            (zero to 63 consistency proof lines)
    \\n
    <the signed checkpoint note>

Anything else is :class:`Malformed` (the witness answers 400). Pure.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from leitai.eventstore.notes import Checkpoint, NoteError, split_note

MAX_PROOF_LINES = 63  # tlog-witness: a client MUST NOT send more
HASH_BYTES = 32


class Malformed(ValueError):
    """The request's body is not an add-checkpoint body; the message says where."""


@dataclass(frozen=True)
class AddCheckpoint:
    old: int
    proof: list[bytes]
    note: str  # the checkpoint as submitted, signatures and all
    body: str  # the note's text: what the log signed and the witness cosigns
    checkpoint: Checkpoint


def parse(data: bytes) -> AddCheckpoint:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    lines = text.split("\n")
    old = _old_size(lines[0])
    try:
        blank = lines.index("", 1)
    except ValueError:
        raise Malformed("no empty line before the checkpoint") from None
    if blank - 1 > MAX_PROOF_LINES:
        raise Malformed(f"{blank - 1} consistency proof lines; at most {MAX_PROOF_LINES}")
    proof = [_hash(line, number) for number, line in enumerate(lines[1:blank], start=2)]
    note = "\n".join(lines[blank + 1 :])
    try:
        body, _ = split_note(note)
        checkpoint = Checkpoint.parse(body)
    except NoteError as exc:
        raise Malformed(f"the checkpoint: {exc}") from None
    return AddCheckpoint(old, proof, note, body, checkpoint)


def _old_size(line: str) -> int:
    word, _, size = line.partition(" ")
    if word != "old" or not (size.isascii() and size.isdigit()) or (size.startswith("0") and size != "0"):
        raise Malformed("the first line is not `old <size>` (a decimal, no leading zeroes)")
    return int(size)


def _hash(line: str, number: int) -> bytes:
    try:
        digest = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != HASH_BYTES:
        raise Malformed(f"line {number}: a consistency proof line is one 32-byte hash in base64")
    return digest


def encode(old: int, proof: list[bytes], note: str) -> bytes:
    """The body a client sends (the relay's side of :func:`parse`)."""
    lines = [f"old {old}", *(base64.b64encode(node).decode() for node in proof), ""]
    return ("\n".join(lines) + "\n" + note).encode()
