"""A witness's decisions on ``add-checkpoint``, in the order C2SP tlog-witness gives them:

* 400: the body is malformed, or its old size is beyond the checkpoint's size;
* 404: the checkpoint's origin is no log this witness watches;
* 403: no signature on it verifies with a key this witness trusts for that origin (other
  keys' signatures are ignored);
* 409 (body: the size last cosigned, ``text/x.tlog.size``): the old size is not the size it
  last cosigned of that log, or it is the same size with another root (a fork);
* 422: the consistency proof from the last cosigned checkpoint does not verify;
* 200: the cosignature, after the checkpoint was recorded as the last cosigned.

A checkpoint with a trusted signature that fails the 409 root check or the 422 proof is the
log's key signing two views: it is logged at ERROR with the whole note, as evidence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from leitai.eventstore.merkle import verify_consistency
from leitai.eventstore.notes import NoteError, Verifier
from leitai.witness.cosignature import Cosigner
from leitai.witness.request import AddCheckpoint, Malformed, parse
from leitai.witness.state import Cosigned, State

log = logging.getLogger(__name__)
SIZE_TYPE = "text/x.tlog.size"
TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = TEXT_TYPE


class _Refusal(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


class Witness:
    """``logs``: each origin it watches and the verifier keys its checkpoints may be signed by."""

    def __init__(
        self,
        cosigner: Cosigner,
        logs: Mapping[str, Sequence[Verifier]],
        state: State,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self.logs = {origin: list(keys) for origin, keys in logs.items()}
        self.state = state
        self._clock = clock

    def add_checkpoint(self, data: bytes) -> Answer:
        try:
            request = parse(data)
        except Malformed as exc:
            return self._refuse(400, f"malformed: {exc}", None)
        origin = request.checkpoint.origin
        if origin not in self.logs:
            return self._refuse(404, "unknown log origin", request)
        if not self._trusted(request):
            return self._refuse(403, "no signature by a key trusted for this log", request, logging.WARNING)
        if request.old > request.checkpoint.size:
            return self._refuse(400, f"old size {request.old} is beyond the checkpoint's size", request)
        try:
            self.state.advance(origin, lambda latest: self._check(request, latest))
        except _Refusal as refusal:
            return refusal.answer
        line = self.cosigner.cosign(request.body, int(self._clock()))
        log.info(
            "checkpoint cosigned",
            extra={"origin": origin, "size": request.checkpoint.size, "old": request.old, "status": 200},
        )
        return Answer(200, line + "\n")

    def _trusted(self, request: AddCheckpoint) -> bool:
        for key in self.logs[request.checkpoint.origin]:
            try:
                key.open(request.note)
                return True
            except NoteError:
                continue
        return False

    def _check(self, request: AddCheckpoint, latest: Cosigned | None) -> Cosigned:
        """Under the state's lock: the checkpoint to record, or a refusal."""
        new = request.checkpoint
        size = latest.size if latest else 0
        if request.old != size:
            raise _Refusal(
                self._refuse(409, f"old size {request.old}; last cosigned {size}", request, answer=f"{size}\n")
            )
        if latest and new.size == latest.size and new.root != latest.root:
            raise _Refusal(
                self._refuse(
                    409, "same size as the last cosigned, another root: a fork", request, logging.ERROR, f"{size}\n"
                )
            )
        if latest is None or size == 0 or new.size == size:
            proved = not request.proof  # from the empty tree, or to the same tree: the proof is empty
        else:
            proved = verify_consistency(size, new.size, latest.root, new.root, request.proof)
        if not proved:
            raise _Refusal(
                self._refuse(422, f"not proved consistent with the last cosigned ({size})", request, logging.ERROR)
            )
        return Cosigned(new.size, new.root, request.note)

    def _refuse(
        self,
        status: int,
        reason: str,
        request: AddCheckpoint | None,
        level: int = logging.INFO,
        answer: str | None = None,
    ) -> Answer:
        extra: dict[str, object] = {"status": status, "reason": reason}
        if request is not None:
            extra.update(origin=request.checkpoint.origin, size=request.checkpoint.size, old=request.old)
            if level >= logging.ERROR:
                extra["note"] = request.note  # the log's key signed it: evidence of a forked log
        log.log(level, "checkpoint refused", extra=extra)
        if answer is not None:
            return Answer(status, answer, SIZE_TYPE)
        return Answer(status, reason + "\n")
