"""What "acknowledged" means, as one suite for every MongoDB: every write leitai acknowledges
survives a crash of the store (SIGKILL and restart, while writers keep writing), and a write
whose outcome the client could not learn (the reply lost, the write concern unconfirmed) is
stored once when it is sent again.

Subclasses provide ``server_url`` (the server under test, used through ``leitai.mongo.connect``
with the durability contract), ``crash`` (kill the server and start it again on the same data;
skip where a test cannot) and ``fail_point`` (arm mongod's ``failCommand`` for the next
matching command; skip where the server has no test commands).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from pymongo.errors import PyMongoError, WriteConcernError

from leitai.eventstore import EventStore, LeaseLost, Sequencer
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.eventstore.verify import verify
from leitai.messaging.relay import Checkpoint
from leitai.mongo import connect, is_outage
from leitai.readmodel import ReadModel
from services.notify.deliveries import Deliveries, Policy
from services.notify.messages import CHANNELS
from services.notify.sending import Sender
from testkit.ledger import REGISTRY, deposit
from testkit.servers import wait_until

STREAMS = 3
PER_PHASE = 30  # acknowledged writes before each crash, and after the last


def until_acknowledged(write: Callable[[], object]):
    """Send the same write until the store acknowledges it: the outcome of a failed try is
    unknown, and every write here is idempotent, so sending it again is the only safe move."""
    while True:
        try:
            return write()
        except PyMongoError:
            time.sleep(0.05)


class Writers:
    """Threads that each keep writing until stopped; ``done()`` counts acknowledged writes."""

    def __init__(self, *loops: Callable[[threading.Event], None]) -> None:
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=loop, args=(self.stop,), daemon=True) for loop in loops]

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
        assert not any(t.is_alive() for t in self.threads), "a writer did not finish"


def through_crashes(crash: Callable[[], None], acknowledged: Callable[[], int], crashes: int = 2) -> None:
    """Let the writers get ahead, crash the store, and again; then a last stretch."""
    for _ in range(crashes):
        target = acknowledged() + PER_PHASE
        wait_until(lambda target=target: acknowledged() >= target, timeout=120, what=f"{target} acknowledged writes")
        crash()
    target = acknowledged() + PER_PHASE
    wait_until(lambda: acknowledged() >= target, timeout=120, what=f"{target} acknowledged writes after the crashes")


class CountingChannel:
    """A notice channel that counts what it was asked to send, by delivery."""

    def __init__(self) -> None:
        self.sent: Counter = Counter()

    def send(self, delivery: dict) -> None:
        self.sent[delivery["_id"]] += 1


class StoreDurabilityConformance:
    @pytest.fixture
    def db(self, server_url):
        client = connect(server_url)
        name = f"leitai_durability_{uuid.uuid4().hex[:10]}"
        yield client[name]
        until_acknowledged(lambda: client.drop_database(name))
        client.close()

    # -- a crash of the store ---------------------------------------------------------
    def test_every_acknowledged_append_survives_crashes_in_gap_free_order_with_the_chain_intact(self, db, crash):
        ensure_indexes(db)
        records = MongoCommitLog(db)
        store = EventStore(records, REGISTRY)
        sequencer = Sequencer(records, owner="durability", lease_seconds=2)
        acknowledged: dict[str, list[str]] = {f"s{n}": [] for n in range(STREAMS)}

        def appender(stream: str) -> Callable[[threading.Event], None]:
            def loop(stop: threading.Event) -> None:
                while not stop.is_set():
                    event = deposit("A", "1.00")
                    until_acknowledged(lambda event=event: store.append(stream, len(acknowledged[stream]), [event]))
                    acknowledged[stream].append(str(event.event_id))

            return loop

        def sequencing(stop: threading.Event) -> None:
            while not stop.is_set():
                try:
                    sequencer.sequence(100)
                except (PyMongoError, LeaseLost):
                    time.sleep(0.05)

        with Writers(*(appender(s) for s in acknowledged), sequencing):
            through_crashes(crash, lambda: sum(map(len, acknowledged.values())))

        for stream, ids in acknowledged.items():
            assert [str(e.event_id) for e in store.read_stream(stream)] == ids
        while until_acknowledged(lambda: sequencer.sequence(500)):
            pass
        events = [e for batch in store.read_all() for e in batch]
        assert [e.position for e in events] == list(range(1, sum(map(len, acknowledged.values())) + 1))
        for stream, ids in acknowledged.items():
            assert [str(e.event_id) for e in events if e.stream_id == stream] == ids
        report = verify(records, REGISTRY)
        assert report.ok, report.first_bad

    def test_acknowledged_checkpoints_and_applied_events_survive_crashes_and_apply_once(self, db, crash):
        checkpoint, projection = Checkpoint(db), ReadModel(db)
        saved: list[int] = []
        applied: list[str] = []

        def checkpointing(stop: threading.Event) -> None:
            while not stop.is_set():
                position = len(saved) + 1
                until_acknowledged(lambda position=position: checkpoint.save(position))
                saved.append(position)

        def projecting(stop: threading.Event) -> None:
            while not stop.is_set():
                event_id, key = str(uuid.uuid4()), f"doc-{len(applied) % 5}"
                until_acknowledged(
                    lambda key=key, event_id=event_id: projection.apply_once(
                        "balances", key, event_id, {"$inc": {"count": 1}}
                    )
                )
                applied.append(event_id)

        with Writers(checkpointing, projecting):
            through_crashes(crash, lambda: min(len(saved), len(applied)))

        assert checkpoint.load() == saved[-1]
        documents = db.balances.find()
        recorded = [marker for d in documents for marker in d["_applied"]]
        assert sorted(recorded) == sorted(applied)  # every one there, none twice, even when sent again
        assert sum(d["count"] for d in db.balances.find()) == len(applied)

    def test_no_notice_is_sent_twice_or_lost_across_crashes_of_the_store(self, db, crash):
        channel = CountingChannel()  # in place of SMTP, SMS and inbox: it counts what it is asked to send
        deliveries = Deliveries(db, Policy(50, 0.05, 3.0))
        sender = Sender(deliveries, dict.fromkeys(CHANNELS, channel), rates={})
        deliveries.ensure_indexes()
        created: list[str] = []

        def recording(stop: threading.Event) -> None:
            while not stop.is_set() and len(created) < 400:
                delivery = f"d{len(created):04d}"
                until_acknowledged(
                    lambda delivery=delivery: deliveries.create(
                        {
                            "_id": delivery,
                            "event_id": delivery,
                            "contest_id": "c",
                            "recipient_id": "r",
                            "name": "书记",
                            "channel": "email",
                            "kind": "stage_result",
                            "address": "r@example.cn",
                            "subject": "成绩",
                            "body": "…",
                            "status": "pending",
                        }
                    )
                )
                created.append(delivery)
                time.sleep(0.005)

        def sending(stop: threading.Event) -> None:
            while not stop.is_set():
                sender.send_due()  # rides out the outage itself
                time.sleep(0.02)

        with Writers(recording, sending):
            through_crashes(crash, lambda: sum(channel.sent.values()))
            wait_until(
                lambda: (
                    until_acknowledged(lambda: db.deliveries.count_documents({"status": "sent"})) == len(created)
                    and len(created) == 400
                ),
                timeout=180,
                what="every notice to be sent",
            )
        assert set(channel.sent) == set(created)
        assert [d for d, times in channel.sent.items() if times > 1] == []

    # -- a write whose outcome the client could not learn ---------------------------------
    def test_an_append_whose_write_concern_failed_is_stored_once_when_sent_again(self, db, fail_point):
        ensure_indexes(db)
        store = EventStore(MongoCommitLog(db), REGISTRY)
        event = deposit("A", "5.00")
        fail_point({"failCommands": ["insert"], "writeConcernError": {"code": 64, "errmsg": "waiting for replication"}})
        with pytest.raises(WriteConcernError):
            store.append("s", 0, [event])  # applied, but not confirmed
        again = store.append("s", 0, [event])
        assert again.duplicate and db.commits.count_documents({}) == 1

    def test_an_append_whose_connection_dropped_is_stored_once_when_sent_again(self, db, fail_point):
        ensure_indexes(db)
        store = EventStore(MongoCommitLog(db), REGISTRY)
        event = deposit("A", "5.00")
        fail_point({"failCommands": ["insert"], "closeConnection": True})
        with pytest.raises(PyMongoError):
            store.append("s", 0, [event])
        store.append("s", 0, [event])
        assert [str(e.event_id) for e in store.read_stream("s")] == [str(event.event_id)]

    def test_a_sequencing_write_with_an_unconfirmed_outcome_leaves_the_log_whole(self, db, fail_point):
        ensure_indexes(db)
        records = MongoCommitLog(db)
        store = EventStore(records, REGISTRY)
        sequencer = Sequencer(records, owner="durability")
        for n in range(4):
            store.append(f"s{n % 2}", n // 2, [deposit("A", "1.00")])
        fail_point({"failCommands": ["update"], "writeConcernError": {"code": 64, "errmsg": "waiting for replication"}})
        with pytest.raises(PyMongoError) as unconfirmed:
            sequencer.sequence(2)  # applied, but not confirmed
        assert is_outage(unconfirmed.value)
        for n in range(4, 8):
            store.append(f"s{n % 2}", n // 2, [deposit("A", "1.00")])
        for _ in range(10):  # the sequencer finds its stale head, gives it up, and goes on
            try:
                if not sequencer.sequence(100) and not records.count_pending():
                    break
            except LeaseLost:
                continue
        assert [e.position for b in store.read_all() for e in b] == list(range(1, 9))
        assert verify(records, REGISTRY).ok
