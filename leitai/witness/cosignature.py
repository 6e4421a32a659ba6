"""Ed25519 cosignatures as C2SP tlog-cosignature defines them (``cosignature/v1``).

* The key id is SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]; a witness's public
  key is written as a C2SP vkey, ``<name>+<key id hex>+<base64(0x04 || public key)>``, and its
  private key in the same text form as a log's signing key, with 0x04.
* A cosignature is a note signature line, ``— <name> base64(key id || timestamp || signature)``:
  the timestamp an 8-byte big-endian POSIX time (at most 2^63 - 1), the signature Ed25519 over
  ``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint's whole note body.

Pure apart from the key's randomness: the time is given, never read here.
"""

from __future__ import annotations

import base64
from typing import ClassVar

from leitai.eventstore.notes import DASH, NoteError, PrivateKey, PublicKey, signature_line

COSIGNATURE_V1 = b"\x04"  # the signature type of an Ed25519 cosignature/v1 key
LARGEST_TIMESTAMP = 2**63 - 1
SIGNATURE_BYTES = 8 + 64  # timestamp, Ed25519 signature


def message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: two header lines, then the checkpoint's note body (its
    text with the final newline, no signature lines)."""
    if not body.endswith("\n"):
        raise NoteError("a checkpoint's body ends with a newline")
    if not 0 <= timestamp <= LARGEST_TIMESTAMP:
        raise NoteError(f"timestamp {timestamp} is out of range")
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


class Cosigner(PrivateKey):
    """A witness's key."""

    ALGORITHM: ClassVar[bytes] = COSIGNATURE_V1
    KIND: ClassVar[str] = "witness key"

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public)

    def cosign(self, body: str, timestamp: int) -> str:
        """The signature line (without its newline) cosigning ``body`` at ``timestamp``."""
        signature = self._sign(message(body, timestamp))
        blob = self.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{DASH} {self.name} {base64.b64encode(blob).decode()}"


class CosignatureVerifier(PublicKey):
    """A witness's vkey: checks its cosignatures."""

    ALGORITHM: ClassVar[bytes] = COSIGNATURE_V1
    KIND: ClassVar[str] = "witness verifier key"

    def verify(self, line: str, body: str) -> int:
        """The timestamp of ``line`` if it is this witness's valid cosignature of ``body``;
        NoteError saying why not otherwise."""
        signature = self.signature_of([signature_line(line)], SIGNATURE_BYTES)
        if signature is None:
            raise NoteError(f"not a cosignature of {self.name} ({self.key_id.hex()})")
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > LARGEST_TIMESTAMP or not self._verifies(signature[8:], message(body, timestamp)):
            raise NoteError(f"the cosignature of {self.name} does not verify")
        return timestamp
