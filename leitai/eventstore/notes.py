"""Signed checkpoints: the C2SP ``tlog-checkpoint`` body, signed as a C2SP ``signed-note``
with Ed25519.

* A checkpoint body is three lines: the log's origin, the tree size in decimal, the root
  hash in base64 (standard alphabet, padded).
* A signed note is the body, an empty line, and one line a signature:
  ``— <key name> <base64(key id || signature)>``. The key id is the first four bytes of
  SHA-256(key name || 0x0A || 0x01 || public key); 0x01 names Ed25519.
* Keys are written as the Go ``note`` package writes them, so its tools read ours:
  ``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`` for the signer and
  ``<name>+<key id hex>+<base64(0x01 || public key)>`` for the verifier.

The private key is read from a file (in Kubernetes a mounted Secret) and never logged: no
object here has a ``repr`` that shows it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
DASH = "\u2014"  # the em dash that opens a signature line


class NoteError(ValueError):
    """A key, note or checkpoint that is malformed or does not verify; the message says why."""


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "+ \n\t") or not name.isprintable():
        raise NoteError(f"key name {name!r}: must be printable, without spaces or '+'")


class Signer:
    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = _key_id(name, self.public)

    def __repr__(self) -> str:
        return f"Signer({self.name!r}, key id {self.key_id.hex()})"

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public)

    def sign(self, text: str) -> str:
        """``text`` as a signed note."""
        if not text.endswith("\n"):
            raise NoteError("a note's text ends with a newline")
        signature = self._key.sign(text.encode())
        return f"{text}\n{DASH} {self.name} {base64.b64encode(self.key_id + signature).decode()}\n"

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    def encoded(self) -> str:
        seed = self._key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{base64.b64encode(ED25519 + seed).decode()}"

    @classmethod
    def decode(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)  # the key's base64 may itself hold '+'
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signing key reads PRIVATE+KEY+<name>+<key id>+<key>")
        key = _b64(parts[4], "the signing key")
        if len(key) != 33 or key[:1] != ED25519:
            raise NoteError("the signing key is not an Ed25519 key")
        signer = cls(parts[2], key[1:])
        if signer.key_id.hex() != parts[3].lower():
            raise NoteError("the signing key's id does not match its name and key")
        return signer

    def write(self, path: str | Path) -> None:
        """Write the key to a new file only its owner can read (never over an existing one)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(self.encoded() + "\n")

    @classmethod
    def from_file(cls, path: str | Path) -> Signer:
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeError) as exc:
            raise NoteError(
                f"signing key file {path}: cannot be read: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        return cls.decode(text)


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.public)

    def encoded(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(ED25519 + self.public).decode()}"

    @classmethod
    def decode(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # the key's base64 may itself hold '+'
        if len(parts) != 3:
            raise NoteError("a verifier key reads <name>+<key id>+<key>")
        _check_name(parts[0])
        key = _b64(parts[2], "the verifier key")
        if len(key) != 33 or key[:1] != ED25519:
            raise NoteError("the verifier key is not an Ed25519 key")
        verifier = cls(parts[0], key[1:])
        if verifier.key_id.hex() != parts[1].lower():
            raise NoteError("the verifier key's id does not match its name and key")
        return verifier

    def open(self, note: str) -> str:
        """The text of ``note`` if this key signed it; NoteError saying why not otherwise."""
        text, separator, signatures = note.rpartition("\n\n")
        if not separator or not note.endswith("\n"):
            raise NoteError("not a signed note: no empty line before the signatures")
        text += "\n"
        public = Ed25519PublicKey.from_public_bytes(self.public)
        for line in signatures.splitlines():
            fields = line.split(" ")
            if len(fields) != 3 or fields[0] != DASH:
                raise NoteError(f"malformed signature line {line[:80]!r}")
            if fields[1] != self.name:
                continue
            blob = _b64(fields[2], "a signature")
            if len(blob) != 68 or blob[:4] != self.key_id:
                continue
            try:
                public.verify(blob[4:], text.encode())
            except InvalidSignature:
                raise NoteError(f"the signature of {self.name} does not verify") from None
            return text
        raise NoteError(f"the note carries no signature of {self.name} ({self.key_id.hex()})")


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise NoteError(f"{what} is not base64") from None


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The checkpoint a note's text holds (extension lines after the third are allowed)."""
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is at least three lines: origin, tree size, root hash")
        origin, size, root = lines[:3]
        if not origin:
            raise NoteError("the checkpoint's origin line is empty")
        if not (size.isascii() and size.isdigit()) or (size.startswith("0") and size != "0"):
            raise NoteError(f"the checkpoint's tree size {size!r} is not a decimal number")
        digest = _b64(root, "the checkpoint's root hash")
        if len(digest) != 32:
            raise NoteError("the checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size), digest)
