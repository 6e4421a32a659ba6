"""What a witness remembers: for each log (by its origin), the last checkpoint it cosigned.

One small JSON file, replaced whole on every change (written to a temporary file beside it,
fsync'd, renamed over it, the folder fsync'd): a crash leaves the old state or the new one,
never half of either. Checking a submission against the state and recording the new
checkpoint happen under one lock (a thread lock, and ``flock`` on a lock file beside the
state for another process on the same file), as tlog-witness demands: otherwise two requests
checked against the same old size could both be cosigned and the later write roll the state
back.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "leitai-witness-state/1"


class StateError(Exception):
    """The state file cannot be read, or is not a witness's state; the message names it."""


@dataclass(frozen=True)
class Cosigned:
    """The last checkpoint cosigned of a log: its size and root, and the whole signed note
    as it was submitted (kept as evidence of what the log's key signed)."""

    size: int
    root: bytes
    note: str

    def to_doc(self) -> dict[str, Any]:
        return {"size": self.size, "root": base64.b64encode(self.root).decode(), "note": self.note}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Cosigned:
        return cls(int(doc["size"]), base64.b64decode(doc["root"], validate=True), str(doc["note"]))


class State:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self.read()  # a file that is no witness's state stops the witness at start-up, not at a request

    def read(self) -> dict[str, Cosigned]:
        """Every log's last cosigned checkpoint (none yet: an empty mapping)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeError) as exc:
            raise StateError(f"{self.path}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT:
                raise ValueError(f"format is not {FORMAT}")
            return {origin: Cosigned.from_doc(kept) for origin, kept in doc["logs"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"{self.path}: not a witness's state ({exc})") from None

    def latest(self, origin: str) -> Cosigned | None:
        return self.read().get(origin)

    def advance(self, origin: str, decide: Callable[[Cosigned | None], Cosigned]) -> Cosigned:
        """Under the lock: ``decide`` is given the log's last cosigned checkpoint and returns
        the new one, which is written before this returns (or raises, and nothing changes)."""
        with self._locked():
            logs = self.read()
            logs[origin] = decide(logs.get(origin))
            self._write(logs)
            return logs[origin]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self._lock_path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                yield
            finally:
                os.close(descriptor)  # closing releases the flock

    def _write(self, logs: dict[str, Cosigned]) -> None:
        doc = {"format": FORMAT, "logs": {origin: kept.to_doc() for origin, kept in sorted(logs.items())}}
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=1, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a crash
        finally:
            os.close(folder)
