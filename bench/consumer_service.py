"""The consumer half of the benchmark: one idempotent read-model write per event."""
from leitai.contracts import Event
from leitai.dependencies import ReadModelProvider
from leitai.messaging.consumer import reliable_handler
from tests.support.ledger import REGISTRY


class LedgerService:
    name = "ledger"
    balances = ReadModelProvider()

    @reliable_handler("bank", "DepositMade", registry=REGISTRY)
    def on_deposit(self, event: Event) -> None:
        self.balances.apply_once("balances", event.stream_id, event.event_id,
                                 {"$inc": {"deposits": 1, "total_cents": int(event.payload["amount"] * 100)}})
