"""The outbox relay: sequences stored events and publishes them to RabbitMQ.

Events are stored first; the relay publishes from the store with publisher confirms and
only then moves its checkpoint. A crash anywhere between store and confirm loses nothing:
a restarted relay publishes again from the checkpoint (consumers are idempotent). Confirms
are pipelined: a whole batch is published, then the relay waits for the broker's acks.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from amqp.exceptions import ChannelError
from kombu import Connection, Producer
from kombu.exceptions import ChannelError as VirtualChannelError
from pymongo.database import Database

from leitai import metrics
from leitai.contracts import Event
from leitai.contracts.catalogue import Catalogue
from leitai.eventstore import EventStore, Sequencer
from leitai.eventstore.checkpoints import Signing
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.messaging import topology
from leitai.ops import Readiness

log = logging.getLogger(__name__)
CHECKPOINTS = "relay"
CHECKPOINT_ID = "published"
HEARTBEAT_S = 10  # the broker and the relay each notice a silent peer within two of these


class PublishNacked(Exception):
    pass


class Checkpoint:
    """The last position the broker confirmed, kept in the service's own database."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self._collection = db[CHECKPOINTS]

    def load(self) -> int:
        doc = self._collection.find_one({"_id": CHECKPOINT_ID})
        return doc["position"] if doc else 0

    def save(self, position: int) -> None:
        self._collection.update_one({"_id": CHECKPOINT_ID}, {"$set": {"position": position}}, upsert=True)


class RelayHealth:
    """What a relay process tells its ops port: ready while it holds a broker connection and
    its rounds complete (as the lease holder or as a standby); alive while its loop turns."""

    STALE_ROUND_S = 30.0  # a round is a few store queries and, at most, one confirmed batch
    STUCK_LOOP_S = 120.0  # longer than the slowest round plus the longest restart delay

    def __init__(self) -> None:
        self.connected = False
        self.last_error: str | None = None
        self.last_round: float | None = None
        self.turned = time.monotonic()

    def round_done(self) -> None:
        self.last_round = self.turned = time.monotonic()

    def failed(self, error: BaseException) -> None:
        self.connected = False
        self.last_error = f"{type(error).__name__}: {error}"[:300]
        self.turned = time.monotonic()

    def readiness(self) -> Readiness:
        readiness = Readiness()
        readiness.add(
            "relay",
            lambda: (
                None
                if self.connected
                else f"no broker connection (restarting after: {self.last_error})"
                if self.last_error
                else "no broker connection yet"
            ),
        )
        readiness.add("rounds", self._rounds)
        return readiness

    def _rounds(self) -> str | None:
        if self.last_round is None:
            return "no round completed yet"
        age = time.monotonic() - self.last_round
        return f"no round completed for {age:.0f} s" if age > self.STALE_ROUND_S else None

    def liveness(self) -> str | None:
        age = time.monotonic() - self.turned
        return f"the relay loop has not turned for {age:.0f} s" if age > self.STUCK_LOOP_S else None


class Relay:
    def __init__(
        self,
        db: Database[dict[str, Any]],
        catalogue: Catalogue,
        amqp_uri: str,
        policy: topology.RetryPolicy,
        owner: str | None = None,
        batch_size: int = 500,
        confirm_timeout: float = 30.0,
        health: RelayHealth | None = None,
        signing: Signing | None = None,
    ) -> None:
        self._db = db
        self._catalogue = catalogue
        self._registry = catalogue.registry
        records = MongoCommitLog(db)
        self._store = EventStore(records, catalogue.registry)
        self._notary = signing.notary(records) if signing else None
        self._sequencer = Sequencer(records, owner or f"relay@{socket.gethostname()}", notary=self._notary)
        self._checkpoints = Checkpoint(db)
        self._policy = policy
        self._batch_size = batch_size
        self._confirm_timeout = confirm_timeout
        self._connection = Connection(amqp_uri, heartbeat=HEARTBEAT_S)
        self._channel: Any = None  # py-amqp's channel (untyped), from start()
        self._producer: Producer | None = None
        self._checkpoint: int | None = None
        self._last_tag = 0  # delivery tags count up per channel, across batches
        self._unconfirmed: set[int] = set()
        self._nacked = 0
        self._confirms = True
        self.health = health or RelayHealth()

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Make the store's indexes, connect and declare the whole topology before the first
        publish (in the supervised loop: a store or broker not there yet is retried)."""
        ensure_indexes(self._db)
        self._channel = self._connection.channel()
        topology.declare(self._channel, self._catalogue, self._policy)
        # kombu's in-memory transport (the demo without a broker) has a publish done on
        # return and no confirms to wait for
        self._confirms = self._connection.transport.driver_type != "memory"
        if self._confirms:
            self._channel.confirm_select()
            self._channel.events["basic_ack"].add(self._on_ack)
            self._channel.events["basic_nack"].add(self._on_nack)
        self._producer = Producer(self._channel)
        self.health.connected = True

    def close(self) -> None:
        self.health.connected = False
        metrics.RELAY_LEADER.set(0)
        try:
            self._sequencer.release()
        except Exception:  # the store is down: the lease then runs out by itself
            log.warning("could not release the sequencer's lease; it expires by itself", exc_info=True)
        if self._notary:
            self._notary.close()
        self._connection.release()

    def observe_queues(self) -> None:
        """Every subscriber's queue and dead-letter queue, counted for /metrics: what waits,
        what was dead-lettered and not yet re-driven, and whether anyone consumes. On a channel
        of its own, so that a queue someone deleted closes only that channel."""
        channel = self._connection.channel()
        try:
            for subscription in self._catalogue.subscriptions:
                name = subscription.queue_name
                _, waiting, consumers = channel.queue_declare(name, passive=True)
                _, dead, _ = channel.queue_declare(topology.dead_letter_queue_name(name), passive=True)
                metrics.QUEUE_MESSAGES.labels(name, "consumer").set(waiting)
                metrics.QUEUE_MESSAGES.labels(name, "dead_letter").set(dead)
                metrics.QUEUE_CONSUMERS.labels(name).set(consumers)
        except (ChannelError, VirtualChannelError) as exc:  # a queue deleted by hand
            log.warning("could not count a queue", extra={"error": str(exc)[:300]})
        finally:
            try:
                channel.close()
            except Exception:  # the channel the broker closed is gone already
                pass

    def run(
        self, stop: threading.Event, idle_wait: float = 0.05, max_idle_wait: float = 0.1, observe_every: float = 15.0
    ) -> None:
        """Loop until ``stop``: straight on after a full batch, else pause so that each round
        (a fixed handful of store queries) carries more events."""
        wait = idle_wait
        observed = 0.0
        while not stop.is_set():
            moved = self.run_once()
            if self._checkpoint is not None and time.monotonic() - observed >= observe_every:
                self.observe_queues()  # the lease holder only: one relay per store counts
                observed = time.monotonic()
            if moved >= self._batch_size:
                continue
            self.check_connection()
            wait = idle_wait if moved else min(wait * 2, max_idle_wait)
            stop.wait(wait)

    def check_connection(self) -> None:
        """Raise if the broker closed the connection or stopped answering: read what it sent
        (a close arrives as a frame) and keep the heartbeats going, so that an idle relay
        notices a dropped connection within a round, not at its next publish."""
        try:
            self._connection.drain_events(timeout=0)
        except TimeoutError:
            pass  # nothing to read: the usual case
        self._connection.heartbeat_check()

    # -- one round -----------------------------------------------------------------
    def run_once(self) -> int:
        """Sequence what is pending, publish what is not yet confirmed; returns events published."""
        leader = self._sequencer.acquire()
        metrics.RELAY_LEADER.set(1 if leader else 0)
        if not leader:  # a healthy standby: ready to take over when the lease runs out
            self._checkpoint = None
            self.health.round_done()
            return 0
        self._sequencer.sequence(self._batch_size)
        if self._checkpoint is None:  # read once per lease; only the lease holder writes it
            self._checkpoint = self.checkpoint()
        head = self._sequencer.head_position
        # nothing positioned beyond the checkpoint: an idle round costs the store one query
        caught_up = head is not None and head <= self._checkpoint
        batch = [] if caught_up else next(self._store.read_all(self._checkpoint, self._batch_size), [])
        # behind only while a full batch leaves more to come: then as far as its oldest event
        full = len(batch) >= self._batch_size
        metrics.RELAY_LAG_SECONDS.set(
            max(0.0, (datetime.now(UTC) - batch[0].occurred_at).total_seconds()) if full else 0
        )
        if batch:
            self._publish(batch)
            last = batch[-1].position
            assert last is not None  # an event read from the log has its position
            self._checkpoints.save(last)
            log.debug("relayed", extra={"from": self._checkpoint + 1, "to": last})
            self._checkpoint = last
            for event in batch:
                metrics.EVENTS_RELAYED.labels(event.type).inc()
        head = self._sequencer.head_position
        if head is not None:
            metrics.RELAY_LAG_POSITIONS.set(max(0, head - self._checkpoint))
        self.health.round_done()
        return len(batch)

    def checkpoint(self) -> int:
        """The last position the broker confirmed, as stored."""
        return self._checkpoints.load()

    def _publish(self, batch: list[Event]) -> None:
        assert self._producer is not None, "start() first"
        self._nacked = 0
        for event in batch:
            self._producer.publish(
                event.to_wire(self._registry),
                exchange=topology.event_exchange(self._registry.get(event.type).source),
                routing_key=event.type,
                serializer="json",
                delivery_mode=topology.PERSISTENT,
                message_id=str(event.event_id),
                correlation_id=event.correlation_id,
                headers={"nameko.correlation_id": event.correlation_id, "leitai.position": event.position},
                retry=False,
            )
            if self._confirms:
                self._last_tag += 1
                self._unconfirmed.add(self._last_tag)
        while self._unconfirmed:
            self._connection.drain_events(timeout=self._confirm_timeout)
        if self._nacked:
            raise PublishNacked(f"broker refused {self._nacked} of {len(batch)} events")

    def _confirmed(self, delivery_tag: int, multiple: bool) -> int:
        done = {t for t in self._unconfirmed if t <= delivery_tag} if multiple else {delivery_tag}
        self._unconfirmed -= done
        return len(done)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._confirmed(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked += self._confirmed(delivery_tag, multiple)


def supervise(
    make_relay: Callable[[], Relay],
    stop: threading.Event,
    on_ready: Callable[[Relay], None],
    healthy_after: float = 10.0,
    first_delay: float = 0.5,
    max_delay: float = 30.0,
) -> None:
    """Run relays until ``stop``: a relay that fails is closed and replaced after a delay that
    doubles with each failure in a row, and starts again from ``first_delay`` once a relay has
    run ``healthy_after`` seconds (separate incidents do not add up)."""
    delay = first_delay
    while not stop.is_set():
        relay = make_relay()
        started = time.monotonic()
        try:
            relay.start()
            on_ready(relay)
            relay.run(stop)
        except Exception as exc:  # the relay reconnects and resumes from its checkpoint
            relay.health.failed(exc)
            if time.monotonic() - started >= healthy_after:
                delay = first_delay
            log.exception("relay failed; restarting", extra={"backoff_s": delay})
            stop.wait(delay)
            delay = min(delay * 2, max_delay)
        finally:
            relay.close()
