"""The relay's side of the witnesses: after each checkpoint is stored, have every configured
witness cosign it, and keep what they answer on the checkpoint's record (``cosignatures``, a
list of signature lines, each checked against the witness's vkey first).

It runs in a thread of its own, woken by each new checkpoint: a witness that is slow, down or
refusing delays neither sealing nor relaying. A failure is one WARNING naming the witness and
why; the witness is asked again with the next checkpoint (or after ``RETRY_S`` on a log gone
quiet), and that checkpoint then carries its cosignature.

What a witness last cosigned (the old size of C2SP tlog-witness) is remembered per witness;
until it is known it is asked from 0, and a 409 answers it. The consistency proof from that
size is made from the stored checkpoint of that size and the commits after it, as the notary
proves its own checkpoints.
"""

from __future__ import annotations

import http.client
import logging
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from leitai.eventstore.notes import NoteError, signature_line
from leitai.eventstore.records import CommitLog
from leitai.witness.cosignature import CosignatureVerifier
from leitai.witness.request import encode

log = logging.getLogger(__name__)
RETRY_S = 60.0  # a quiet log's latest checkpoint is offered again this often to a witness missing from it
MAX_REPLY = 64 * 1024
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness as a relay is configured with it: its submission prefix and its vkey."""

    url: str
    key: CosignatureVerifier

    @classmethod
    def parse(cls, entry: str) -> WitnessEndpoint:
        """``URL VKEY``; ValueError saying what is wrong."""
        parts = entry.split()
        if len(parts) != 2:
            raise ValueError("a witness reads 'URL VKEY' (its submission prefix, its verifier key)")
        url = urllib.parse.urlsplit(parts[0])
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise ValueError(f"{parts[0][:80]}: not an http:// or https:// URL without query")
        try:
            return cls(parts[0].rstrip("/"), CosignatureVerifier.decode(parts[1]))
        except NoteError as exc:
            raise ValueError(str(exc)) from None

    @property
    def name(self) -> str:
        return self.key.name


class WitnessRefused(Exception):
    """The witness did not cosign; the message says why (it goes into the WARNING)."""


class _Connection:
    """One kept-alive HTTP connection to a witness (tlog-witness asks clients to keep them)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self._kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port = parts.hostname or "", parts.port
        self._path = f"{parts.path}/add-checkpoint"
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, str, str]:
        """(status, content type, body) of one add-checkpoint; OSError or HTTPException on a
        connection or a reply that failed (the connection is dropped then).

        A kept connection the witness has closed meanwhile (it drops idle ones) fails only when
        it is used: that one is tried once more on a new connection. Sent twice, an
        add-checkpoint is harmless: the witness answers the second with a 409 naming the size
        the first made it cosign."""
        if self._connection is not None:
            try:
                return self._send(body)
            except (OSError, http.client.HTTPException):
                pass  # closed under us; a new connection decides
        return self._send(body)

    def _send(self, body: bytes) -> tuple[int, str, str]:
        if self._connection is None:
            self._connection = self._kind(self._host, self._port, timeout=self._timeout)
        try:
            self._connection.request("POST", self._path, body=body, headers={"Content-Type": "text/plain"})
            response = self._connection.getresponse()
            data = response.read(MAX_REPLY + 1)
            if len(data) > MAX_REPLY or response.will_close:
                self.close()
            return response.status, response.getheader("Content-Type", ""), data.decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# (stored checkpoint, old size) -> its consistency proof from old; LookupError when none can be made
Prove = Callable[[dict[str, Any], int], list[bytes]]


class Cosigning:
    """The witnesses of one log; ``prove`` makes a consistency proof from a stored size."""

    def __init__(self, records: CommitLog, witnesses: Sequence[WitnessEndpoint], timeout: float, prove: Prove) -> None:
        self._records = records
        self._witnesses = list(witnesses)
        self._connections = {w: _Connection(w.url, timeout) for w in witnesses}
        self._cosigned: dict[WitnessEndpoint, int | None] = dict.fromkeys(witnesses)  # what each last cosigned
        self._prove = prove
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- in the background ------------------------------------------------------------
    def submit(self) -> None:
        """A new checkpoint is stored: have it cosigned, in the background."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cosigning", daemon=True)
            self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        for connection in self._connections.values():
            connection.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(RETRY_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.cosign_latest()
            except Exception as exc:  # noqa: BLE001 - the store failed: the relay notices it; try at the next one
                log.warning("could not have the latest checkpoint cosigned", extra={"error": f"{exc}"[:300]})

    # -- one round --------------------------------------------------------------------
    def cosign_latest(self) -> list[str]:
        """Ask every witness missing from the latest stored checkpoint to cosign it, store
        what verifies; returns the lines added."""
        checkpoint = self._records.latest_checkpoint()
        if checkpoint is None:
            return []
        have = checkpoint.get("cosignatures", [])
        added = []
        for witness in self._witnesses:
            if any(_by(witness, line) for line in have):
                continue
            try:
                line = self._cosign(witness, checkpoint)
            except WitnessRefused as exc:
                log.warning(
                    "witness did not cosign",
                    extra={
                        "witness": witness.name,
                        "origin": checkpoint["origin"],
                        "size": checkpoint["size"],
                        "reason": str(exc)[:300],
                    },
                )
                continue
            self._records.add_cosignatures(checkpoint["size"], [line])
            added.append(line)
            log.info(
                "checkpoint cosigned",
                extra={"witness": witness.name, "origin": checkpoint["origin"], "size": checkpoint["size"]},
            )
        return added

    def _cosign(self, witness: WitnessEndpoint, checkpoint: dict[str, Any]) -> str:
        size = checkpoint["size"]
        old = self._cosigned[witness] or 0
        for _ in range(2):  # at most once more, from the size a 409 tells
            status, kind, reply = self._post(witness, old, checkpoint)
            if status == 200:
                line = self._verified(witness, checkpoint, reply)
                self._cosigned[witness] = size
                return line
            if status != 409 or not kind.startswith(SIZE_TYPE):
                raise WitnessRefused(f"answered {status}: {reply.strip()[:200]}")
            old = _size(reply)
            self._cosigned[witness] = old
            if old > size:
                raise WitnessRefused(f"it cosigned size {old} of this log, beyond this checkpoint of {size}")
        raise WitnessRefused(f"answered 409 again: it cosigned size {old}, and this checkpoint is {size}")

    def _post(self, witness: WitnessEndpoint, old: int, checkpoint: dict[str, Any]) -> tuple[int, str, str]:
        try:
            proof = [] if old in (0, checkpoint["size"]) else self._prove(checkpoint, old)
        except LookupError as exc:  # a witness at a size this log never checkpointed: someone must look
            raise WitnessRefused(f"it cosigned size {old}, and no proof from there can be made: {exc}") from None
        try:
            return self._connections[witness].post(encode(old, proof, checkpoint["note"]))
        except (OSError, http.client.HTTPException) as exc:
            raise WitnessRefused(f"unreachable: {type(exc).__name__}: {exc}") from None

    def _verified(self, witness: WitnessEndpoint, checkpoint: dict[str, Any], reply: str) -> str:
        body = checkpoint["note"].rpartition("\n\n")[0] + "\n"
        for line in reply.splitlines():
            try:
                witness.key.verify(line, body)
            except NoteError:
                continue  # another key's line, which a client must ignore
            return line
        raise WitnessRefused("answered 200 without a valid cosignature of its key")


def _size(reply: str) -> int:
    text = reply.removesuffix("\n")
    if not (text.isascii() and text.isdigit()):
        raise WitnessRefused(f"answered 409 with a body that is no tree size: {reply[:80]!r}")
    return int(text)


def _by(witness: WitnessEndpoint, line: str) -> bool:
    """Whether ``line`` is a signature line of ``witness``'s key (its name and key id)."""
    try:
        name, blob = signature_line(line)
    except NoteError:
        return False
    return name == witness.name and blob[:4] == witness.key.key_id
