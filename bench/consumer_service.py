"""The consumer half of the benchmark: a batch of deliveries applied exactly once in one write."""

from leitai.contracts import Event
from leitai.dependencies import ReadModelProvider
from leitai.messaging.consumer import batch_handler
from testkit.ledger import REGISTRY


class LedgerService:
    name = "ledger"
    balances = ReadModelProvider()

    @batch_handler("bank", "DepositMade", registry=REGISTRY)
    def on_deposit(self, events: list[Event]) -> None:
        self.balances.apply_each_once(
            "balances",
            [
                (e.stream_id, e.event_id, {"$inc": {"deposits": 1, "total_cents": int(e.payload["amount"] * 100)}})
                for e in events
            ],
        )
