"""leitai.application.execute with an idempotency key: a first request reads no idempotency
record, and a retry answers as the first time from whichever exit it takes."""

from __future__ import annotations

import pytest

from leitai.application import Idempotency, execute
from leitai.domain import Decision, folding
from leitai.errors import Conflict, RuleViolated
from leitai.eventstore import EventStore
from leitai.eventstore.memory import MemoryCommitLog
from testkit.ledger import REGISTRY


class Account:
    def __init__(self) -> None:
        self.version = 0
        self.deposits = 0

    def apply(self, event) -> None:
        self.version = event.stream_version
        self.deposits += 1


class Counting(MemoryCommitLog):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def find_by_event_ids(self, event_ids):
        self.lookups += 1
        return super().find_by_event_ids(event_ids)


def deposit(amounts: list[str], closed_after: int | None = None):
    """A command that deposits ``amounts`` and answers with the deposits it saw before;
    refused once the account holds ``closed_after`` deposits."""

    def decide(account: Account):
        if closed_after is not None and account.deposits >= closed_after:
            raise RuleViolated("the account is closed")
        return {"before": account.deposits}, [Decision("DepositMade", {"account": "A", "amount": a}) for a in amounts]

    return decide


def run(store: EventStore, decide, key: str = "k", fingerprint: str = "f"):
    return execute(store, "acct", folding(Account), decide, actor="teller", idempotency=Idempotency(key, fingerprint))


def test_a_first_request_reads_no_idempotency_record():
    log = Counting()
    store = EventStore(log, REGISTRY)
    assert run(store, deposit(["1.00"])) == {"before": 0}
    assert log.lookups == 0


def test_a_retry_after_the_stream_moved_on_answers_as_the_first_time_and_writes_nothing():
    store = EventStore(MemoryCommitLog(), REGISTRY)
    first = run(store, deposit(["1.00"]))
    run(store, deposit(["2.00"]), key="other")
    assert run(store, deposit(["1.00"])) == first  # the same events again: the append finds them
    assert run(store, deposit(["1.00", "3.00"])) == first  # other events decided now: the ids are taken
    assert run(store, deposit(["1.00"], closed_after=1)) == first  # refused now: the first answer still
    assert [e.payload["account"] for e in store.read_stream("acct")] == ["A", "A"]


def test_the_same_key_for_another_request_is_a_conflict_at_every_exit():
    store = EventStore(MemoryCommitLog(), REGISTRY)
    run(store, deposit(["1.00"]))
    for decide in (deposit(["1.00"]), deposit(["1.00", "3.00"]), deposit(["1.00"], closed_after=1)):
        with pytest.raises(Conflict, match="different request"):
            run(store, decide, fingerprint="another")
    assert len(store.read_stream("acct")) == 1


def test_a_refusal_of_a_request_never_made_before_is_raised():
    store = EventStore(MemoryCommitLog(), REGISTRY)
    with pytest.raises(RuleViolated):
        run(store, deposit(["1.00"], closed_after=0))
