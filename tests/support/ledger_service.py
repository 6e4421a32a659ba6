"""The ledger: a nameko service that projects deposits into balances, exactly once.

Fault switches (documents in its own ``faults`` collection, set by the tests) make it
fail an event a number of times, or hold still after applying one (so a test can kill it
mid-handler). Every attempt is recorded with its time in ``attempts``.
"""
from __future__ import annotations

from datetime import datetime, timezone

import eventlet

from leitai.contracts import Event
from leitai.dependencies import MongoProvider, ReadModelProvider
from leitai.messaging.consumer import reliable_handler
from tests.support.ledger import REGISTRY


class FaultSwitches(MongoProvider):
    def get_dependency(self, worker_ctx):
        return self.db


class LedgerService:
    name = "ledger"
    balances = ReadModelProvider()
    faults = FaultSwitches()

    @reliable_handler("bank", "DepositMade", registry=REGISTRY)
    def on_deposit(self, event: Event) -> None:
        event_id = str(event.event_id)
        self.faults.attempts.insert_one({"event_id": event_id, "at": datetime.now(timezone.utc)})
        fault = self.faults.faults.find_one({"_id": event_id}) or {}
        failed_so_far = self.faults.attempts.count_documents({"event_id": event_id}) - 1
        if failed_so_far < fault.get("fail_times", 0):
            raise RuntimeError(f"injected fault {failed_so_far + 1} of {fault['fail_times']}")
        self.balances.apply_once("balances", event.payload["account"], event.event_id, {
            "$inc": {"total_cents": int(event.payload["amount"] * 100), "deposits": 1},
        })
        while (self.faults.faults.find_one({"_id": event_id}) or {}).get("hold_after_apply"):
            eventlet.sleep(0.02)
