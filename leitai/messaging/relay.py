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
from typing import Callable

from kombu import Connection, Producer
from pymongo.database import Database

from leitai.contracts import Event
from leitai.contracts.catalogue import Catalogue
from leitai.eventstore import EventStore, Sequencer
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.messaging import topology

log = logging.getLogger(__name__)
CHECKPOINTS = "relay"
CHECKPOINT_ID = "published"
HEARTBEAT_S = 10  # the broker and the relay each notice a silent peer within two of these


class PublishNacked(Exception):
    pass


class Checkpoint:
    """The last position the broker confirmed, kept in the service's own database."""

    def __init__(self, db: Database) -> None:
        self._collection = db[CHECKPOINTS]

    def load(self) -> int:
        doc = self._collection.find_one({"_id": CHECKPOINT_ID})
        return doc["position"] if doc else 0

    def save(self, position: int) -> None:
        self._collection.update_one({"_id": CHECKPOINT_ID}, {"$set": {"position": position}}, upsert=True)


class Relay:
    def __init__(self, db: Database, catalogue: Catalogue, amqp_uri: str, policy: topology.RetryPolicy,
                 owner: str | None = None, batch_size: int = 500, confirm_timeout: float = 30.0) -> None:
        self._db = db
        self._catalogue = catalogue
        self._registry = catalogue.registry
        records = MongoCommitLog(db)
        self._store = EventStore(records, catalogue.registry)
        self._sequencer = Sequencer(records, owner or f"relay@{socket.gethostname()}")
        self._checkpoints = Checkpoint(db)
        self._policy = policy
        self._batch_size = batch_size
        self._confirm_timeout = confirm_timeout
        self._connection = Connection(amqp_uri, heartbeat=HEARTBEAT_S)
        self._channel = None
        self._producer: Producer | None = None
        self._checkpoint: int | None = None
        self._last_tag = 0  # delivery tags count up per channel, across batches
        self._unconfirmed: set[int] = set()
        self._nacked = 0
        self._confirms = True

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Connect and declare the whole topology before the first publish."""
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

    def close(self) -> None:
        try:
            self._sequencer.release()
        except Exception:  # the store is down: the lease then runs out by itself
            log.warning("could not release the sequencer's lease; it expires by itself", exc_info=True)
        self._connection.release()

    def run(self, stop: threading.Event, idle_wait: float = 0.05, max_idle_wait: float = 0.1) -> None:
        """Loop until ``stop``: straight on after a full batch, else pause so that each round
        (a fixed handful of store queries) carries more events."""
        wait = idle_wait
        while not stop.is_set():
            moved = self.run_once()
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
        except socket.timeout:
            pass  # nothing to read: the usual case
        self._connection.heartbeat_check()

    # -- one round -----------------------------------------------------------------
    def run_once(self) -> int:
        """Sequence what is pending, publish what is not yet confirmed; returns events published."""
        if not self._sequencer.acquire():
            self._checkpoint = None
            return 0
        self._sequencer.sequence(self._batch_size)
        if self._checkpoint is None:  # read once per lease; only the lease holder writes it
            self._checkpoint = self.checkpoint()
        batch = next(self._store.read_all(self._checkpoint, self._batch_size), [])
        if batch:
            self._publish(batch)
            self._checkpoints.save(batch[-1].position)
            log.debug("relayed", extra={"from": self._checkpoint + 1, "to": batch[-1].position})
            self._checkpoint = batch[-1].position
        return len(batch)

    def checkpoint(self) -> int:
        """The last position the broker confirmed, as stored."""
        return self._checkpoints.load()

    def _publish(self, batch: list[Event]) -> None:
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


def supervise(make_relay: Callable[[], Relay], stop: threading.Event, on_ready: Callable[[Relay], None],
              healthy_after: float = 10.0, first_delay: float = 0.5, max_delay: float = 30.0) -> None:
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
        except Exception:  # the relay reconnects and resumes from its checkpoint
            if time.monotonic() - started >= healthy_after:
                delay = first_delay
            log.exception("relay failed; restarting", extra={"backoff_s": delay})
            stop.wait(delay)
            delay = min(delay * 2, max_delay)
        finally:
            relay.close()
