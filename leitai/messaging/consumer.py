"""A nameko entrypoint that handles events reliably.

``@reliable_handler(source, event_type, registry=...)`` consumes the same queue a plain
``@event_handler`` would, and adds what nameko leaves out:

* the envelope and payload are validated against the published contract before the
  handler runs; a message that is not JSON, has an unknown type or fails its schema goes
  straight to the consumer's dead-letter queue with the reason, and is acked;
* a handler that raises is retried after a growing delay (one TTL queue per delay,
  dead-lettered back to this consumer's queue only), and after the last attempt its
  message goes to the dead-letter queue; ``leitai dlq`` lists and re-drives them;
* a store outage (``leitai.mongo.is_outage``) is not the handler's fault: it is retried
  with the same growing delays, up to the longest, for as long as the outage lasts, and
  never uses up an attempt or reaches the dead-letter queue;
* the copy is confirmed by the broker before the original is acked, so a crash in
  between can only cause a redelivery, which idempotent projections absorb;
* an event applied is recorded as seen (leitai/seen.py) before it is acked, for requests
  that wait to read their writes; a failure to record it is a failure of the handler.

``@batch_handler(...)`` is the same for a projection whose writes fold (leitai/writes.py): the
handler gets a list of events and applies them in one bulk write, their seen records follow
in one more, and all their deliveries are acked after both (group commit). A batch is sent
as soon as none is being applied, so an idle consumer adds no delay and a busy one applies
what arrived meanwhile, up to ``max_batch``. A batch that fails is applied again one
delivery at a time, so that one bad event fails (and is retried, then dead-lettered) alone.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from kombu import Connection
from kombu.message import Message
from kombu.pools import producers
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.events import EventHandler
from nameko.exceptions import ContainerBeingKilled

from leitai import metrics
from leitai.config import load_settings
from leitai.contracts import ContractError, ContractRegistry, Event, MalformedEnvelope
from leitai.handlers import EventHandlers
from leitai.messaging import deadletters, topology
from leitai.messaging.queue_consumer import QueueConsumer
from leitai.mongo import is_outage
from leitai.seen import Consuming, SeenEvents

if TYPE_CHECKING:
    from nameko.containers import WorkerContext

log = logging.getLogger(__name__)
T = TypeVar("T")
Delivery = tuple[Message, Event]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class ReliableEventHandler(EventHandler, Consuming):
    queue_consumer = QueueConsumer()
    seen = SeenEvents()

    def __init__(self, source_service: str, event_type: str, registry: ContractRegistry, **kwargs: Any) -> None:
        super().__init__(source_service, event_type, **kwargs)
        self.registry = registry

    def setup(self) -> None:
        super().setup()
        settings = load_settings(self.container.config, only=("AMQP_URI", "LEITAI_RETRY"))
        self.policy = settings.LEITAI_RETRY
        self.publisher = Connection(
            self.container.config[AMQP_URI_CONFIG_KEY], transport_options={"confirm_publish": True}
        )
        # nameko made the queue; it is declared (here and by the consumer) as the relay declares it
        self.queue.queue_arguments = {**(self.queue.queue_arguments or {}), **self.policy.queue_arguments}
        with Connection(self.container.config[AMQP_URI_CONFIG_KEY]) as connection:
            channel = connection.channel()
            self.queue(channel).declare()
            for queue in topology.consumer_queues(self.queue.name, self.policy):
                queue(channel).declare()

    def stop(self) -> None:
        super().stop()
        self._close_publisher()

    def kill(self) -> None:
        self._close_publisher()

    def _close_publisher(self) -> None:
        producers[self.publisher].force_close_all()
        self.publisher.release()

    # -- receiving -------------------------------------------------------------------
    def handle_undecodable(self, message: Message, exc: Exception) -> None:
        self._dead_letter(message, f"malformed: not decodable as JSON ({type(exc).__name__}: {exc})", failures=0)
        self.queue_consumer.ack_message(message)

    def handle_message(self, body: Any, message: Message) -> None:
        event = self._decoded(body, message)
        if event is not None:
            self._spawn([(message, event)])

    def _decoded(self, body: Any, message: Message) -> Event | None:
        """The event ``body`` holds; None when it was dead-lettered as malformed."""
        try:
            event = Event.from_wire(body, self.registry)
            if event.type != self.event_type:
                raise MalformedEnvelope(f"type {event.type!r} arrived on the queue for {self.event_type!r}")
        except ContractError as exc:
            self._dead_letter(message, f"malformed: {exc}", failures=0)
            self.queue_consumer.ack_message(message)
            return None
        return event

    def _arguments(self, events: list[Event]) -> tuple[Event | list[Event]]:
        return (events[0],)

    def _spawn(self, deliveries: list[Delivery], done: Callable[[], None] | None = None) -> None:
        """A worker for ``deliveries`` (message, event); ``done`` runs once they are settled."""
        message, event = deliveries[0]
        context_data = self.unpack_message_headers(message)
        context_data.setdefault("correlation_id", event.correlation_id)
        try:
            self.container.spawn_worker(
                self,
                self._arguments([e for _, e in deliveries]),
                {},
                context_data=context_data,
                handle_result=partial(self._handled, deliveries, time.monotonic(), done),
            )
        except ContainerBeingKilled:
            for message, _ in deliveries:
                self.queue_consumer.requeue_message(message)
            if done:
                done()

    def _handled(
        self,
        deliveries: list[Delivery],
        started: float,
        done: Callable[[], None] | None,
        worker_ctx: WorkerContext,
        result: Any = None,
        exc_info: ExcInfo | None = None,
    ) -> tuple[Any, ExcInfo | None]:
        try:
            if exc_info is None:
                try:
                    self.seen.record([e for _, e in deliveries])
                except Exception:  # noqa: BLE001 - retried like the handler's own failure (an outage, mostly)
                    exc_info = cast(ExcInfo, sys.exc_info())  # in an except block: never (None, None, None)
            metrics.HANDLER_SECONDS.labels(self.queue.name).observe(time.monotonic() - started)
            if exc_info is not None and len(deliveries) > 1:
                log.warning(
                    "batch failed; applying its events one at a time",
                    extra=dict(queue=self.queue.name, events=len(deliveries), error=str(exc_info[1])[:300]),
                )
                for delivery in deliveries:
                    self._spawn([delivery])
                return result, exc_info
            for message, event in deliveries:
                outcome = "applied" if exc_info is None else self._retry_or_dead_letter(message, exc_info)
                metrics.EVENTS_CONSUMED.labels(self.queue.name, event.type, outcome).inc()
                self.queue_consumer.ack_message(message)
            return result, exc_info
        finally:
            if done:
                done()

    # -- failing ---------------------------------------------------------------------
    def _retry_or_dead_letter(self, message: Message, exc_info: ExcInfo) -> str:
        """Forward the message to its next retry queue or, after the last attempt, to the
        dead-letter queue; returns which ("retried" or "dead_lettered")."""
        earlier = message.headers or {}
        outage = is_outage(exc_info[1])
        failures = int(earlier.get(deadletters.FAILURES, 0) or 0) + (0 if outage else 1)
        outages = int(earlier.get(deadletters.OUTAGES, 0) or 0) + (1 if outage else 0)
        reason = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        retry = min(failures + outages, self.policy.attempts - 1)  # which delay: they grow, up to the longest
        if failures >= self.policy.attempts or retry < 1:
            self._dead_letter(message, f"handler failed {failures + outages} times: {reason}", failures)
            return "dead_lettered"
        log.warning(
            "store outage, retrying" if outage else "handler failed, retrying",
            extra=dict(
                _trace(message),
                queue=self.queue.name,
                event_type=self.event_type,
                failures=failures,
                outages=outages,
                delay_ms=self.policy.delay_ms(retry),
                error=reason,
            ),
        )
        headers = dict(
            earlier, **{deadletters.FAILURES: failures, deadletters.OUTAGES: outages, deadletters.REASON: reason[:2000]}
        )
        deadletters.forward(self.publisher, message, topology.retry_queue_name(self.queue.name, retry), headers)
        return "retried"

    def _dead_letter(self, message: Message, reason: str, failures: int) -> None:
        metrics.DEAD_LETTERED.labels(self.queue.name).inc()
        log.error(
            "dead-lettered",
            extra=dict(_trace(message), queue=self.queue.name, event_type=self.event_type, reason=reason),
        )
        headers = dict(
            message.headers or {},
            **deadletters.dead_letter_headers(self.queue.name, reason, failures),
            **{"x-leitai-routing-key": message.delivery_info.get("routing_key")},
        )
        deadletters.forward(self.publisher, message, topology.dead_letter_queue_name(self.queue.name), headers)


def _trace(message: Message) -> dict[str, Any]:
    """The ids that tie a log line to its event and to the request that caused it."""
    properties = message.properties or {}
    return {"message_id": properties.get("message_id"), "correlation_id": properties.get("correlation_id")}


class BatchEventHandler(ReliableEventHandler):
    def __init__(
        self,
        source_service: str,
        event_type: str,
        registry: ContractRegistry,
        max_batch: int = 200,
        **kwargs: Any,
    ) -> None:
        super().__init__(source_service, event_type, registry, **kwargs)
        self.max_batch = max_batch
        self._waiting: list[Delivery] = []
        self._applying = False

    @property
    def prefetch_count(self) -> int:
        """The unacked deliveries the broker may send ahead (leitai/messaging/queue_consumer.py):
        a batch can only hold what has arrived."""
        return self.max_batch

    def handle_message(self, body: Any, message: Message) -> None:
        event = self._decoded(body, message)
        if event is not None:
            self._waiting.append((message, event))
            if not self._applying:
                self._next()

    def _next(self) -> None:
        if not self._waiting:
            self._applying = False
            return
        self._applying = True
        batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
        self._spawn(batch, done=self._next)

    def _arguments(self, events: list[Event]) -> tuple[Event | list[Event]]:
        return (events,)


reliable_handler = ReliableEventHandler.decorator
batch_handler = BatchEventHandler.decorator


def handling(table: EventHandlers[Any], application: str, registry: ContractRegistry) -> Callable[[type[T]], type[T]]:
    """A class decorator for a nameko service: one entrypoint per row of its handler table
    (leitai/handlers.py), named as the published subscriptions name it, each handing its event
    (or, for a batch table, its batch) to ``table`` with the service layer that the service's
    attribute ``application`` gives. The entrypoints hold no logic of their own."""

    def decorate(service: type[T]) -> type[T]:
        entrypoint = batch_handler if table.batch else reliable_handler
        for source, event_type, method in table.rows(registry):

            def handle(self: Any, received: Event | list[Event]) -> None:
                table.handle(getattr(self, application), received if isinstance(received, list) else [received])

            handle.__name__ = handle.__qualname__ = method
            setattr(service, method, entrypoint(source, event_type, registry=registry)(handle))
        return service

    return decorate
