"""The ledger: a nameko service that projects deposits into balances, exactly once, a
batch of deliveries at a time (leitai.messaging.consumer.batch_handler).

Fault switches (documents in its own ``faults`` collection, set by the tests) make it
fail an event (and so the batch holding it) a number of times, or hold still after applying
one (so a test can kill it mid-handler). Every attempt at an event is recorded in
``attempts``, with its time and the size of the batch it came in.
"""

from __future__ import annotations

from datetime import UTC, datetime

import eventlet

from leitai.contracts import Event
from leitai.dependencies import MongoProvider, ReadModelProvider
from leitai.messaging.consumer import batch_handler
from testkit.ledger import REGISTRY


class FaultSwitches(MongoProvider):
    def get_dependency(self, worker_ctx):
        return self.db


class LedgerService:
    name = "ledger"
    balances = ReadModelProvider()
    faults = FaultSwitches()

    @batch_handler("bank", "DepositMade", registry=REGISTRY)
    def on_deposit(self, events: list[Event]) -> None:
        ids = [str(e.event_id) for e in events]
        now = datetime.now(UTC)
        self.faults.attempts.insert_many([{"event_id": i, "at": now, "batch": len(events)} for i in ids])
        for fault in self.faults.faults.find({"_id": {"$in": ids}, "fail_times": {"$gt": 0}}):
            failed_so_far = self.faults.attempts.count_documents({"event_id": fault["_id"]}) - 1
            if failed_so_far < fault["fail_times"]:
                raise RuntimeError(f"injected fault {failed_so_far + 1} of {fault['fail_times']}")
        self.balances.apply_each_once(
            "balances",
            [
                (
                    e.payload["account"],
                    e.event_id,
                    {"$inc": {"total_cents": int(e.payload["amount"] * 100), "deposits": 1}},
                )
                for e in events
            ],
        )
        while self.faults.faults.find_one({"_id": {"$in": ids}, "hold_after_apply": True}):
            eventlet.sleep(0.02)
