"""Signed checkpoints: the C2SP ``tlog-checkpoint`` body, signed as a C2SP ``signed-note``
with Ed25519.

* A checkpoint body is three lines: the log's origin, the tree size in decimal, the root
  hash in base64 (standard alphabet, padded).
* A signed note is the body, an empty line, and one line a signature:
  ``— <key name> <base64(key id || signature)>``. The key id is the first four bytes of
  SHA-256(key name || 0x0A || 0x01 || public key); 0x01 names Ed25519. (A witness's
  cosignature is another line of the same form, with 0x04: leitai/witness/cosignature.py.)
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
from typing import ClassVar, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
DASH = "\u2014"  # the em dash that opens a signature line


class NoteError(ValueError):
    """A key, note or checkpoint that is malformed or does not verify; the message says why."""


def key_id(name: str, algorithm: bytes, public: bytes) -> bytes:
    """The four bytes a signature line names its key by: SHA-256(name || 0x0A || algorithm ||
    public key)[:4]. The algorithm byte keeps a note key (0x01) and a cosignature key (0x04,
    leitai/witness) of the same bytes apart."""
    return hashlib.sha256(name.encode() + b"\n" + algorithm + public).digest()[:4]


def check_name(name: str) -> None:
    if not name or any(c in name for c in "+ \n\t") or not name.isprintable():
        raise NoteError(f"key name {name!r}: must be printable, without spaces or '+'")


class PrivateKey:
    """A named Ed25519 private key in the Go ``note`` package's text form,
    ``PRIVATE+KEY+<name>+<key id hex>+<base64(algorithm || seed)>``. What it signs is its
    subclass's business: ``ALGORITHM`` is the byte its key id and text form carry, ``KIND``
    what an error calls it."""

    ALGORITHM: ClassVar[bytes] = ED25519
    KIND: ClassVar[str] = "signing key"

    def __init__(self, name: str, seed: bytes) -> None:
        check_name(name)
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, self.ALGORITHM, self.public)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, key id {self.key_id.hex()})"

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    def encoded(self) -> str:
        seed = self._key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{base64.b64encode(self.ALGORITHM + seed).decode()}"

    @classmethod
    def decode(cls, text: str) -> Self:
        parts = text.strip().split("+", 4)  # the key's base64 may itself hold '+'
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError(f"a {cls.KIND} reads PRIVATE+KEY+<name>+<key id>+<key>")
        key = b64(parts[4], f"the {cls.KIND}")
        if len(key) != 33 or key[:1] != cls.ALGORITHM:
            raise NoteError(f"the {cls.KIND} is not an Ed25519 {cls.KIND} (type 0x{cls.ALGORITHM.hex()})")
        private = cls(parts[2], key[1:])
        if private.key_id.hex() != parts[3].lower():
            raise NoteError(f"the {cls.KIND}'s id does not match its name and key")
        return private

    def write(self, path: str | Path) -> None:
        """Write the key to a new file only its owner can read (never over an existing one)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(self.encoded() + "\n")

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeError) as exc:
            raise NoteError(
                f"{cls.KIND} file {path}: cannot be read: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        return cls.decode(text)

    def _sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


class Signer(PrivateKey):
    """A log's key: signs checkpoints as signed notes."""

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public)

    def sign(self, text: str) -> str:
        """``text`` as a signed note."""
        if not text.endswith("\n"):
            raise NoteError("a note's text ends with a newline")
        signature = self._sign(text.encode())
        return f"{text}\n{DASH} {self.name} {base64.b64encode(self.key_id + signature).decode()}\n"


@dataclass(frozen=True)
class PublicKey:
    """A named Ed25519 public key as a C2SP vkey, ``<name>+<key id hex>+<base64(algorithm ||
    public key)>``; ``ALGORITHM`` and ``KIND`` as for :class:`PrivateKey`."""

    ALGORITHM: ClassVar[bytes] = ED25519
    KIND: ClassVar[str] = "verifier key"

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.ALGORITHM, self.public)

    def encoded(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(self.ALGORITHM + self.public).decode()}"

    @classmethod
    def decode(cls, text: str) -> Self:
        parts = text.strip().split("+", 2)  # the key's base64 may itself hold '+'
        if len(parts) != 3:
            raise NoteError(f"a {cls.KIND} reads <name>+<key id>+<key>")
        check_name(parts[0])
        key = b64(parts[2], f"the {cls.KIND}")
        if len(key) != 33 or key[:1] != cls.ALGORITHM:
            raise NoteError(f"the {cls.KIND} is not an Ed25519 {cls.KIND} (type 0x{cls.ALGORITHM.hex()})")
        public = cls(parts[0], key[1:])
        if public.key_id.hex() != parts[1].lower():
            raise NoteError(f"the {cls.KIND}'s id does not match its name and key")
        return public

    def signature_of(self, signatures: list[tuple[str, bytes]], length: int) -> bytes | None:
        """The first signature in ``signatures`` (name, key id || signature, as
        :func:`split_note` gives them) that names this key and is ``length`` bytes long after
        the key id; the others are some other key's and are ignored."""
        for name, blob in signatures:
            if name == self.name and blob[:4] == self.key_id and len(blob) == 4 + length:
                return blob[4:]
        return None

    def _verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Verifier(PublicKey):
    """A log's verifier key: opens the notes its signer signed."""

    def open(self, note: str) -> str:
        """The text of ``note`` if this key signed it; NoteError saying why not otherwise."""
        text, signatures = split_note(note)
        signature = self.signature_of(signatures, 64)
        if signature is None:
            raise NoteError(f"the note carries no signature of {self.name} ({self.key_id.hex()})")
        if not self._verifies(signature, text.encode()):
            raise NoteError(f"the signature of {self.name} does not verify")
        return text


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's text (with its final newline) and its signatures, each (key name, key
    id || signature); NoteError when the note is not of the signed-note form."""
    text, separator, lines = note.rpartition("\n\n")
    if not separator or not note.endswith("\n"):
        raise NoteError("not a signed note: no empty line before the signatures")
    signatures = [signature_line(line) for line in lines.splitlines()]
    if not signatures:
        raise NoteError("not a signed note: no signature lines")
    return text + "\n", signatures


def signature_line(line: str) -> tuple[str, bytes]:
    """``— <key name> <base64>`` as (key name, key id || signature); NoteError otherwise."""
    fields = line.split(" ")
    if len(fields) != 3 or fields[0] != DASH or not fields[1]:
        raise NoteError(f"malformed signature line {line[:80]!r}")
    return fields[1], b64(fields[2], "a signature")


def b64(text: str, what: str) -> bytes:
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
        digest = b64(root, "the checkpoint's root hash")
        if len(digest) != 32:
            raise NoteError("the checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size), digest)
