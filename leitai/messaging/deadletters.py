"""Forwarding messages to retry and dead-letter queues, and inspecting and re-driving them.

A forwarded message keeps its original body, content type and headers byte for byte (a
malformed message must be kept as it came), plus ``x-leitai-*`` headers saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kombu import Connection, Queue
from kombu.message import Message
from kombu.pools import producers

from leitai.messaging.topology import dead_letter_queue_name

FAILURES = "x-leitai-failures"
OUTAGES = "x-leitai-outages"  # retries because the store did not answer: they use up no attempt
REASON = "x-leitai-reason"
QUEUE = "x-leitai-queue"
DEAD_AT = "x-leitai-dead-lettered-at"


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    reason: str
    failures: int
    dead_lettered_at: str | None
    message_id: str | None
    routing_key: str | None
    body: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def forward(connection: Connection, message: Message, queue_name: str, headers: dict[str, Any]) -> None:
    """Publish a copy of an AMQP ``message`` with ``headers`` to ``queue_name``; the
    connection must have publisher confirms on, so this returns once the broker has it.

    Publishes through kombu's producer pool: handlers run concurrently, and each publish
    needs a connection of its own (frames of two publishes must never interleave)."""
    properties = message.properties or {}
    with producers[connection].acquire(block=True) as producer:
        producer.publish(
            message.body,
            exchange="",
            routing_key=queue_name,
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            headers=headers,
            delivery_mode=2,
            message_id=properties.get("message_id"),
            correlation_id=properties.get("correlation_id"),
            retry=True,
            retry_policy={"max_retries": 3},
        )


def dead_letter_headers(queue_name: str, reason: str, failures: int) -> dict[str, Any]:
    return {
        REASON: reason[:2000],
        FAILURES: failures,
        QUEUE: queue_name,
        DEAD_AT: datetime.now(UTC).isoformat(),
    }


def _take(channel: Any, queue_name: str) -> Message | None:
    message: Message | None = Queue(dead_letter_queue_name(queue_name), no_declare=True)(channel).get(no_ack=False)
    return message


def _describe(queue_name: str, message: Message) -> DeadLetter:
    headers = message.headers or {}
    body = message.body  # py-amqp hands over str when the message names a content encoding
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body)
    return DeadLetter(
        queue=queue_name,
        reason=str(headers.get(REASON, "")),
        failures=int(headers.get(FAILURES, 0) or 0),
        dead_lettered_at=headers.get(DEAD_AT),
        message_id=(message.properties or {}).get("message_id"),
        routing_key=headers.get("x-leitai-routing-key"),
        body=text,
    )


def list_dead_letters(amqp_uri: str, queue_name: str, limit: int = 100) -> list[DeadLetter]:
    """Read without removing: every message taken is returned to the queue when the channel closes."""
    found: list[DeadLetter] = []
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        try:
            while len(found) < limit:
                message = _take(channel, queue_name)
                if message is None:
                    break
                found.append(_describe(queue_name, message))
        finally:
            channel.close()
    return found


def redrive(amqp_uri: str, queue_name: str, limit: int | None = None) -> int:
    """Move dead letters back to their consumer's queue with a fresh retry budget."""
    moved = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        while limit is None or moved < limit:
            message = _take(channel, queue_name)
            if message is None:
                break
            headers = {
                k: v for k, v in (message.headers or {}).items() if k not in (FAILURES, OUTAGES, REASON, DEAD_AT)
            }
            forward(connection, message, queue_name, dict(headers, **{"x-leitai-redriven": True}))
            message.ack()
            moved += 1
        channel.close()
    return moved
