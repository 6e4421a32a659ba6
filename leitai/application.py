"""Running a command against one event stream, with optimistic concurrency and idempotency.

Load the stream, fold it into state, let the domain decide, append after the version the
decision was based on. If another command got there first, the whole cycle runs again on
fresh state: the domain never decides on stale state, and nothing is written twice.

A command sent with an idempotency key (the client's ``Idempotency-Key``, which the gateway
scopes to the client) gets event ids derived from the key, and its answer is stored in the
same commit as its events. Sent again with the same key and the same request, it answers what
it answered the first time and writes nothing, whatever happened in between (a lost reply, a
timeout, a crash); the same key with a different request is a Conflict. One ``execute`` per
stream per request: a second one on the same stream would find the first's answer.

Either way the command notes the token of the commit it wrote (leitai/consistency.py), which
the answer carries, so that a dependent request can wait for other services to see it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from leitai import consistency
from leitai.contracts import Event, NewEvent
from leitai.domain import Decision, Folded
from leitai.errors import Conflict
from leitai.eventstore import ConcurrencyConflict, EventIdReused, EventStore
from leitai.messages import N_

S = TypeVar("S", bound=Folded)
R = TypeVar("R")


_KEYED = uuid.UUID("6f1d2c3a-7a5e-4c1b-9a0e-3e4f5a6b7c8d")  # the namespace of key-derived event ids
REUSED = N_("this Idempotency-Key was used for a different request; use a new key for a new request")


@dataclass(frozen=True)
class Idempotency:
    """A client's idempotency key (already scoped to the client) and the fingerprint of the
    request it was sent with."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, actor: dict[str, Any]) -> Idempotency | None:
        given = actor.get("idempotency")
        return cls(given["key"], given["fingerprint"]) if given else None

    def event_id(self, stream_id: str, index: int) -> uuid.UUID:
        return uuid.uuid5(_KEYED, f"{self.key}\n{stream_id}\n{index}")


def on_behalf(actor: dict[str, Any]) -> dict[str, Any]:
    """execute()'s keywords for a command an actor sent: who, the request, its key."""
    return {"actor": actor["id"], "correlation_id": actor.get("request_id"), "idempotency": Idempotency.of(actor)}


def new_events(
    decisions: Sequence[Decision],
    actor: str,
    correlation_id: str | None,
    keyed: Callable[[int], uuid.UUID] | None = None,
) -> list[NewEvent]:
    """The events for ``decisions``: an id the client chose, else one derived from the
    request's key (``keyed``), else a fresh one."""
    return [
        NewEvent(
            d.type,
            d.payload,
            actor=actor,
            correlation_id=correlation_id,
            event_id=uuid.UUID(d.event_id) if d.event_id else keyed(i) if keyed else uuid.uuid4(),
        )
        for i, d in enumerate(decisions)
    ]


def _plain(value: Any) -> Any:
    # what the answer looks like on the wire (kombu's JSON): decimals and ids as strings
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"cannot store a {type(value).__name__} in an answer")


def stored_answer(result: Any) -> str:
    """``result`` as it is stored for a retry with the same key: JSON, as the wire carries it."""
    return json.dumps(result, default=_plain, ensure_ascii=False)


def _earlier_answer(store: EventStore, stream_id: str, idempotency: Idempotency) -> tuple[bool, Any]:
    outcome = store.outcome_of(idempotency.event_id(stream_id, 0))
    if outcome is None:
        return False, None
    if outcome["fingerprint"] != idempotency.fingerprint:
        raise Conflict(REUSED)
    if outcome.get("written"):
        consistency.note(outcome["written"])
    return True, json.loads(outcome["answer"])


def execute(
    store: EventStore,
    stream_id: str,
    fold: Callable[[Sequence[Event]], S],
    decide: Callable[[S], tuple[R, Sequence[Decision]]],
    actor: str,
    correlation_id: str | None = None,
    attempts: int = 20,
    idempotency: Idempotency | None = None,
    reused: Conflict | None = None,
) -> R:
    """``reused``: what to answer when an id the client chose for an event (a Decision's
    ``event_id``) was already used for another append, in this stream or another; by default a
    Conflict naming the ids. Never the store's own error: that would be a 500."""

    def earlier() -> tuple[bool, Any]:
        # The answer stored the first time, in its wire (JSON) form. Looked up only where the
        # request did not write: a first request (nearly every one) costs the store no read
        # for it, and a retry ends at one of these exits whatever the state now, since the ids
        # its events take are stored already (the append finds them) or it writes nothing.
        return _earlier_answer(store, stream_id, idempotency) if idempotency else (False, None)

    for _ in range(attempts):
        state = fold(store.read_stream(stream_id))
        try:
            result, decisions = decide(state)
        except Exception:
            found, answer = earlier()  # a retry, refused now by what the first request did
            if found:
                return cast(R, answer)
            raise
        if not decisions:
            found, answer = earlier()
            return cast(R, answer) if found else result
        keyed = (lambda i: idempotency.event_id(stream_id, i)) if idempotency else None
        types = [d.type for d in decisions]
        outcome = (
            {
                "fingerprint": idempotency.fingerprint,
                "written": consistency.Written.of(stream_id, state.version + 1, types).encode(),
                "answer": stored_answer(result),
            }
            if idempotency
            else None
        )
        try:
            appended = store.append(
                stream_id, state.version, new_events(decisions, actor, correlation_id, keyed), outcome=outcome
            )
        except ConcurrencyConflict:
            continue
        except EventIdReused:
            found, answer = earlier()  # a retry that decided other events than the first time
            if found:
                return cast(R, answer)
            chosen = sorted({d.event_id for d in decisions if d.event_id})
            if reused:
                raise reused from None
            if chosen:
                raise Conflict(
                    "id {ids} was already used for another record; use a new one",
                    {"ids": chosen},
                    ids=", ".join(chosen),
                ) from None
            raise Conflict(
                "an id this request made was already used for another record; send it with a new key", {"ids": chosen}
            ) from None
        if appended.duplicate and idempotency:  # a retry, or the same request sent twice at once
            return cast(R, earlier()[1])
        # a resent append (event ids the client chose) names the commit stored the first time
        consistency.note(consistency.Written.of(stream_id, appended.first_version, types).encode())
        return result
    raise Conflict("stream {stream_id} is too busy; try again", stream_id=stream_id)
