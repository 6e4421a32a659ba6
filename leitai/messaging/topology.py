"""RabbitMQ topology: event exchanges, subscriber queues, retry delay queues, dead letters.

Queue and exchange names follow nameko's conventions, so a consumer written with plain
``@event_handler`` and one written with :func:`leitai.messaging.consumer.reliable_handler`
both see what the relay publishes. Every subscription is declared before anything is
published (by the relay at start-up), because RabbitMQ drops a message routed to an
exchange with no queue bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kombu import Exchange, Queue

from leitai.contracts.catalogue import Catalogue, Subscription

PERSISTENT = 2


QUEUE_TYPES = ("classic", "quorum")


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` handler runs in all; the n-th retry waits base_delay * factor**(n-1).
    ``queue_type``: that of every durable queue a reliable consumer needs (its own, its retries',
    its dead letters'): quorum on a broker cluster, said by each queue itself, so that the
    broker's default can stay classic for the transient queues nameko makes (RPC replies)."""

    attempts: int = 8
    base_delay: Decimal = Decimal("1")
    factor: int = 2
    queue_type: str = "classic"

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay <= 0 or self.factor < 1:
            raise ValueError("retry policy needs attempts >= 1, base_delay > 0, factor >= 1")
        if self.queue_type not in QUEUE_TYPES:
            raise ValueError(f"queue type must be one of {', '.join(QUEUE_TYPES)}")

    @property
    def queue_arguments(self) -> dict[str, Any]:
        """What every durable queue of a consumer is declared with: nothing for classic, as queues
        declared before the setting existed were; a declaration must match them exactly."""
        return {} if self.queue_type == "classic" else {"x-queue-type": self.queue_type}

    def delay_ms(self, retry: int) -> int:
        return int(self.base_delay * 1000 * self.factor ** (retry - 1))


def event_exchange(source: str) -> Exchange:
    return Exchange(f"{source}.events", type="topic", durable=True, delivery_mode=PERSISTENT)


def subscriber_queue(subscription: Subscription, policy: RetryPolicy) -> Queue:
    return Queue(
        subscription.queue_name,
        exchange=event_exchange(subscription.source),
        routing_key=subscription.event_type,
        durable=True,
        auto_delete=False,
        exclusive=False,
        queue_arguments=policy.queue_arguments,
    )


def retry_queue_name(queue_name: str, retry: int) -> str:
    return f"{queue_name}.retry{retry}"


def dead_letter_queue_name(queue_name: str) -> str:
    return f"{queue_name}.dlq"


def retry_queues(queue_name: str, policy: RetryPolicy) -> list[Queue]:
    # A queue per delay (not per-message TTL) so a long delay never holds up a short one.
    return [
        Queue(
            retry_queue_name(queue_name, n),
            durable=True,
            auto_delete=False,
            queue_arguments={
                **policy.queue_arguments,
                "x-message-ttl": policy.delay_ms(n),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue_name,
            },
        )
        for n in range(1, policy.attempts)
    ]


def dead_letter_queue(queue_name: str, policy: RetryPolicy) -> Queue:
    return Queue(
        dead_letter_queue_name(queue_name), durable=True, auto_delete=False, queue_arguments=policy.queue_arguments
    )


def consumer_queues(queue_name: str, policy: RetryPolicy) -> list[Queue]:
    """The queues one reliable consumer needs besides its own."""
    return [*retry_queues(queue_name, policy), dead_letter_queue(queue_name, policy)]


def declare(channel: Any, catalogue: Catalogue, policy: RetryPolicy) -> None:
    for source in sorted(catalogue.registry.sources()):
        event_exchange(source)(channel).declare()
    for subscription in catalogue.subscriptions:
        subscriber_queue(subscription, policy)(channel).declare()
        for queue in consumer_queues(subscription.queue_name, policy):
            queue(channel).declare()
