"""Store -> relay -> RabbitMQ -> reliable consumer, with real processes and real faults."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from decimal import Decimal
from urllib.parse import quote

import pytest

from leitai.contracts import Event
from testkit.ledger import REGISTRY, deposit
from testkit.servers import rabbit_management, wait_until
from tests.support.pipeline import LEDGER_QUEUE, Pipeline

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(tmp_path, amqp_uri, mongo_url, database_name, db):
    pipe = Pipeline(tmp_path, amqp_uri, mongo_url, database_name, db)
    yield pipe
    pipe.stop_all()


def append_deposits(pipeline: Pipeline, streams: int, per_stream: int) -> Decimal:
    total = Decimal(0)
    for s in range(streams):
        for v in range(per_stream):
            amount = Decimal(s + 1) + Decimal(v) / 100
            pipeline.store.append(f"acct-{s}", v, [deposit(f"A{s}", str(amount))])
            total += amount
    return total


def assert_each_applied_once(pipeline: Pipeline, streams: int, per_stream: int) -> None:
    for s in range(streams):
        balance = pipeline.balance(f"A{s}")
        expected = sum(int((Decimal(s + 1) + Decimal(v) / 100) * 100) for v in range(per_stream))
        assert balance["deposits"] == per_stream and balance["total_cents"] == expected
        assert len(balance["_applied"]) == len(set(balance["_applied"])) == per_stream


class MemoryAlarm:
    """Raise RabbitMQ's memory alarm: the broker stops reading from publishing connections."""

    def __enter__(self):
        out = subprocess.run(
            ["rabbitmqctl", "eval", "vm_memory_monitor:get_vm_memory_high_watermark()."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.restore = ["absolute", re.search(r"\d+", out).group()] if "absolute" in out else [out]
        subprocess.run(["rabbitmqctl", "-q", "set_vm_memory_high_watermark", "0"], check=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["rabbitmqctl", "-q", "set_vm_memory_high_watermark", *self.restore], check=True)


def connection_blocked(vhost_name: str) -> bool:
    connections = rabbit_management("GET", "/connections") or []
    return any(c.get("vhost") == vhost_name and c.get("state") == "blocked" for c in connections)


def test_relay_killed_after_store_before_confirm_loses_nothing_and_counts_nothing_twice(pipeline, vhost):
    pipeline.start_ledger()
    append_deposits(pipeline, streams=10, per_stream=20)
    with MemoryAlarm():
        relay = pipeline.start_relay()
        wait_until(
            lambda: pipeline.db.commits.count_documents({"pending_since": {"$exists": True}}) == 0, what="sequencing"
        )
        wait_until(lambda: connection_blocked(vhost.name), what="the relay to be blocked mid-publish")
        relay.kill()
        # The broker may have taken a few messages before blocking (those are delivered and
        # will be published again); the batch as a whole was never confirmed.
        assert pipeline.checkpoint() == 0
    pipeline.start_relay()
    wait_until(lambda: pipeline.checkpoint() == 200, what="every event to be published")
    wait_until(lambda: sum(b["deposits"] for b in pipeline.db.balances.find()) == 200, what="every deposit applied")
    pipeline.wait_drained()
    assert_each_applied_once(pipeline, streams=10, per_stream=20)


def test_relay_killed_mid_stream_resumes_and_consumers_absorb_the_republished_batch(pipeline):
    pipeline.start_ledger()
    append_deposits(pipeline, streams=6, per_stream=50)
    relay = pipeline.start_relay("--batch-size", "25")
    wait_until(lambda: 25 <= pipeline.checkpoint() < 300, what="the relay to be part-way")
    relay.kill()
    resumed_from = pipeline.checkpoint()
    pipeline.start_relay("--batch-size", "25")
    wait_until(lambda: pipeline.checkpoint() == 300, what="every event to be published")
    wait_until(lambda: sum(b["deposits"] for b in pipeline.db.balances.find()) == 300, what="every deposit applied")
    pipeline.wait_drained()
    assert resumed_from < 300
    assert_each_applied_once(pipeline, streams=6, per_stream=50)
    assert pipeline.db.attempts.count_documents({}) >= 300


def test_the_same_event_delivered_twice_changes_the_projection_once(pipeline):
    pipeline.start_ledger()
    pipeline.store.append("acct-1", 0, [deposit("A1", "7.00")])
    [event] = pipeline.store.read_stream("acct-1")
    body = Event.to_wire(event, REGISTRY) | {"position": 1}
    pipeline.publish_raw(json.dumps(body))
    pipeline.publish_raw(json.dumps(body))
    wait_until(lambda: len(pipeline.attempts(event.event_id)) == 2, what="both deliveries to be handled")
    pipeline.wait_drained()
    assert pipeline.balance("A1")["deposits"] == 1 and pipeline.balance("A1")["total_cents"] == 700


def test_a_consumer_killed_mid_handler_gets_the_redelivery_and_applies_it_once(pipeline):
    event = deposit("A1", "3.00")
    pipeline.db.faults.insert_one({"_id": str(event.event_id), "hold_after_apply": True})
    ledger = pipeline.start_ledger()
    pipeline.start_relay()
    pipeline.store.append("acct-1", 0, [event])
    wait_until(lambda: pipeline.balance("A1")["deposits"] == 1, what="the projection write")
    ledger.kill()  # applied, not acked
    pipeline.db.faults.update_one({"_id": str(event.event_id)}, {"$set": {"hold_after_apply": False}})
    pipeline.start_ledger()
    wait_until(lambda: len(pipeline.attempts(event.event_id)) == 2, what="the redelivery")
    pipeline.wait_drained()
    assert pipeline.balance("A1")["deposits"] == 1 and pipeline.balance("A1")["total_cents"] == 300


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_a_failing_handler_is_retried_with_growing_delay_dead_lettered_and_redriven_once(
    tmp_path, amqp_uri, mongo_url, database_name, db, vhost, queue_type
):
    """Also with quorum queues (production's broker cluster): the relay and the service declare
    each queue alike (a difference would refuse the second declaration), and a quorum retry
    queue's delay hands the message back (its TTL and dead-lettering)."""
    pipeline = Pipeline(tmp_path, amqp_uri, mongo_url, database_name, db, queue_type=queue_type)
    try:
        retried_dead_lettered_and_redriven(pipeline)
        types = {
            rabbit_management("GET", f"/queues/{quote(vhost.name, safe='')}/{quote(q, safe='')}")["type"]
            for q in (LEDGER_QUEUE, f"{LEDGER_QUEUE}.retry1", f"{LEDGER_QUEUE}.dlq")
        }
        assert types == {queue_type}
    finally:
        pipeline.stop_all()


def retried_dead_lettered_and_redriven(pipeline: Pipeline) -> None:
    event = deposit("A1", "9.99")
    pipeline.db.faults.insert_one({"_id": str(event.event_id), "fail_times": 1000})
    pipeline.start_ledger()
    pipeline.start_relay()
    pipeline.store.append("acct-1", 0, [event])
    dlq = f"{LEDGER_QUEUE}.dlq"
    wait_until(lambda: pipeline.queue_state(dlq)[0] == 1, what="the dead letter")

    times = [a["at"] for a in pipeline.attempts(event.event_id)]
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)]
    assert len(times) == 3
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[1] > gaps[0]

    listed = pipeline.cli("dlq", "list", LEDGER_QUEUE)
    assert listed.returncode == 0, listed.stderr
    [letter] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert letter["failures"] == 3 and "injected fault" in letter["reason"]
    assert letter["message_id"] == str(event.event_id)
    assert pipeline.queue_state(dlq)[0] == 1  # listing does not consume

    pipeline.db.faults.update_one({"_id": str(event.event_id)}, {"$set": {"fail_times": 0}})  # the fix
    redriven = pipeline.cli("dlq", "redrive", LEDGER_QUEUE)
    assert redriven.returncode == 0 and "re-drove 1" in redriven.stdout, redriven.stderr
    wait_until(lambda: pipeline.balance("A1")["deposits"] == 1, what="the re-driven event to apply")
    pipeline.wait_drained()
    assert pipeline.queue_state(dlq)[0] == 0
    assert pipeline.balance("A1")["total_cents"] == 999 and len(pipeline.attempts(event.event_id)) == 4


def test_deliveries_that_queued_up_apply_in_batches_and_one_bad_event_fails_alone(pipeline):
    pipeline.start_relay()
    poisoned = deposit("A0", "6.66")
    pipeline.db.faults.insert_one({"_id": str(poisoned.event_id), "fail_times": 1000})
    pipeline.store.append("acct-0", 0, [poisoned])
    total = append_deposits_after(pipeline, streams=8, per_stream=25)
    wait_until(lambda: pipeline.queue_state(LEDGER_QUEUE)[0] == 201, what="every event queued, no consumer yet")
    pipeline.start_ledger()
    wait_until(lambda: pipeline.queue_state(f"{LEDGER_QUEUE}.dlq")[0] == 1, what="the bad event's dead letter")
    wait_until(lambda: sum(b["deposits"] for b in pipeline.db.balances.find()) == 200, what="the good ones")
    pipeline.wait_drained()
    assert sum(b["total_cents"] for b in pipeline.db.balances.find()) == int(total * 100)
    assert max(a["batch"] for a in pipeline.db.attempts.find()) > 1  # they did come in batches
    [letter] = [json.loads(line) for line in pipeline.cli("dlq", "list", LEDGER_QUEUE).stdout.splitlines()]
    assert letter["message_id"] == str(poisoned.event_id) and "injected fault" in letter["reason"]
    assert pipeline.db.seen_events.count_documents({}) == 200


def append_deposits_after(pipeline: Pipeline, streams: int, per_stream: int) -> Decimal:
    """append_deposits on streams acct-1..; acct-0 holds one event already."""
    total = Decimal(0)
    for s in range(1, streams + 1):
        for v in range(per_stream):
            pipeline.store.append(f"acct-{s}", v, [deposit(f"A{s}", f"{s}.{v:02d}")])
            total += Decimal(f"{s}.{v:02d}")
    return total


def test_malformed_messages_are_dead_lettered_with_a_reason_and_the_consumer_keeps_going(pipeline):
    ledger = pipeline.start_ledger()
    good = {
        "event_id": str(uuid.uuid4()),
        "stream_id": "acct-1",
        "stream_version": 1,
        "type": "DepositMade",
        "schema_version": 2,
        "occurred_at": "2026-11-30T10:00:00.000000Z",
        "position": 1,
        "correlation_id": "c",
        "causation_id": None,
        "actor": "teller",
        "payload": {"account": "A1", "amount": "1.00", "memo": ""},
    }
    pipeline.publish_raw(b"{not json")
    pipeline.publish_raw("plain words", content_type="text/plain")
    pipeline.publish_raw(json.dumps(good | {"event_id": str(uuid.uuid4()), "type": "MoneyPrinted"}))
    pipeline.publish_raw(
        json.dumps(good | {"event_id": str(uuid.uuid4()), "payload": {"account": "A1", "amount": "x"}})
    )
    for n in range(20):  # a burst: handlers dead-letter concurrently
        pipeline.publish_raw(f"garbage {n}".encode())
    pipeline.publish_raw(json.dumps(good))
    wait_until(lambda: pipeline.balance("A1")["deposits"] == 1, what="the good message")
    wait_until(lambda: pipeline.queue_state(f"{LEDGER_QUEUE}.dlq")[0] == 24, what="24 dead letters")
    listed = pipeline.cli("dlq", "list", LEDGER_QUEUE)
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    reasons = [letter["reason"] for letter in letters]
    assert all(r.startswith("malformed") for r in reasons) and len(reasons) == 24
    assert {letter["body"] for letter in letters} >= {f"garbage {n}" for n in range(20)}
    assert any("not decodable" in r for r in reasons)
    assert any("MoneyPrinted" in r for r in reasons)
    assert any("amount" in r for r in reasons)
    assert {letter["body"] for letter in letters} >= {"{not json", "plain words"}
    assert ledger.alive()


def test_leitai_verify_passes_an_untouched_store_and_names_an_edited_event(pipeline):
    append_deposits(pipeline, streams=3, per_stream=4)
    pipeline.start_relay()
    wait_until(lambda: pipeline.checkpoint() == 12, what="the log to be sequenced and published")
    clean = pipeline.cli("verify", "--catalogue", "testkit.ledger:CATALOGUE")
    assert clean.returncode == 0 and json.loads(clean.stdout)["ok"], clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["signatures_checked"]  # with the relay's own key, from its config
    target = pipeline.db.commits.find_one({"first_position": 7})
    pipeline.db.commits.update_one({"_id": target["_id"]}, {"$set": {"events.0.payload.amount": "1000.00"}})
    tampered = pipeline.cli("verify", "--catalogue", "testkit.ledger:CATALOGUE")
    report = json.loads(tampered.stdout)
    assert tampered.returncode == 1 and not report["ok"]
    assert report["first_bad"].startswith("position 7") and target["events"][0]["event_id"] in report["first_bad"]


def test_an_idle_relay_notices_its_connection_closed_and_reconnects_at_once(pipeline, vhost):
    pipeline.start_ledger()
    relay = pipeline.start_relay()
    wait_until(lambda: len(vhost.connections()) >= 2, timeout=30, what="the broker to list the connections")
    assert vhost.close_connections() >= 2
    # nothing is published meanwhile: the relay finds out by itself, and starts a fresh relay
    wait_until(lambda: relay.output().count("relay ready") >= 2, timeout=30, what="the relay to reconnect")
    assert "relay failed; restarting" in relay.output() and relay.alive()
    append_deposits(pipeline, streams=2, per_stream=5)
    wait_until(
        lambda: sum(b["deposits"] for b in pipeline.db.balances.find()) == 10,
        timeout=60,
        what="the deposits made after the reconnect to be applied",
    )
    assert_each_applied_once(pipeline, streams=2, per_stream=5)
