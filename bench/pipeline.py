"""``make bench``: the event pipeline against its raw parts, in ONE run on one broker and server.

1. raw kombu: publish -> consume, persistent messages, publisher confirms on;
2. raw pymongo: insert_one, and insert_many in batches of 500, each with the durability
   contract (journaled: w majority, j true) and without it (unjournaled): what durability
   costs a single write, and how group commit (one journaled write for many documents) pays
   it back;
3. leitai: EventStore.append -> relay (sequence, publish, confirm) -> reliable consumer
   applying each event once to a read model, timed from the first append to the last apply;
   journaled as in production, and unjournaled as only a benchmark may ask.
Prints the rates and the ratio of (3) to (1). A benchmark, not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from kombu import Connection, Exchange, Queue
from pymongo import MongoClient

from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.mongo import connect
from tests.support.ledger import REGISTRY, SUBSCRIPTION, deposit
from tests.support.servers import ChildProcess, SecantusServer, Vhost, queue_state, wait_until

BIN = Path(sys.executable).parent


def raw_kombu(amqp_uri: str, n: int) -> float:
    exchange = Exchange("bench.raw", type="topic", durable=True)
    queue = Queue("bench.raw.q", exchange=exchange, routing_key="raw", durable=True)
    received = threading.Event()
    count = 0

    def on_message(body, message):
        nonlocal count
        message.ack()
        count += 1
        if count == n:
            received.set()

    def consume():
        with Connection(amqp_uri) as connection:
            with connection.Consumer(queue, callbacks=[on_message], prefetch_count=100):
                while not received.is_set():
                    try:
                        connection.drain_events(timeout=0.5)
                    except TimeoutError:
                        pass

    with Connection(amqp_uri) as connection:
        queue(connection.default_channel).declare()
    consumer = threading.Thread(target=consume)
    consumer.start()
    started = time.perf_counter()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        with connection.Producer(exchange=exchange, routing_key="raw") as producer:
            for i in range(n):
                producer.publish({"n": i, "payload": "x" * 200}, delivery_mode=2, declare=[])
    received.wait()
    elapsed = time.perf_counter() - started
    consumer.join()
    return n / elapsed


def raw_pymongo(url: str, n: int, durability: str, batch: int = 1) -> float:
    client = connect(url, durability)
    collection = client.bench_raw.docs
    started = time.perf_counter()
    for first in range(0, n, batch):
        if batch == 1:
            collection.insert_one({"n": first, "payload": "x" * 200})
        else:
            collection.insert_many([{"n": i, "payload": "x" * 200} for i in range(first, min(first + batch, n))])
    elapsed = time.perf_counter() - started
    client.drop_database("bench_raw")
    client.close()
    return n / elapsed


def leitai_pipeline(url: str, amqp_uri: str, n: int, streams: int, appenders: int, durability: str) -> float:
    database = f"bench_{uuid.uuid4().hex[:8]}"
    config = Path(tempfile.mkdtemp(prefix="leitai-bench-")) / "config.yaml"
    config.write_text(yaml.safe_dump({"AMQP_URI": amqp_uri, "MONGO_URL": url, "MONGO_DATABASE": database,
                                      "LEITAI_DURABILITY": durability, "LEITAI_ENVIRONMENT": "bench"}))
    client = connect(url, durability)
    db = client[database]
    ensure_indexes(db)
    store = EventStore(MongoCommitLog(db), REGISTRY)
    consumer = ChildProcess([str(BIN / "nameko"), "run", "--config", str(config),
                             "bench.consumer_service:LedgerService"], name="bench-consumer").start()
    relay = ChildProcess([str(BIN / "leitai"), "--config", str(config), "--log-level", "WARNING", "relay",
                          "--catalogue", "tests.support.ledger:CATALOGUE"], name="bench-relay").start()
    try:
        wait_until(lambda: "relay ready" in relay.output(), timeout=60, what="the relay")
        wait_until(lambda: queue_state(amqp_uri, SUBSCRIPTION.queue_name)[1] > 0, timeout=60, what="the consumer")

        def append_stream(s: int) -> None:
            for version in range(n // streams):
                store.append(f"acct-{s}", version, [deposit(f"A{s}", "1.00")])

        ops_before = _store_ops(client)
        started = time.perf_counter()
        with ThreadPoolExecutor(appenders) as pool:
            list(pool.map(append_stream, range(streams)))
        appended = time.perf_counter() - started
        total = (n // streams) * streams
        wait_until(lambda: _applied(db) >= total, timeout=600, interval=0.25, what="every event applied")
        elapsed = time.perf_counter() - started
        ops = {k: v - ops_before.get(k, 0) for k, v in _store_ops(client).items()}
        per_event = ", ".join(f"{k} {v / total:.2f}" for k, v in ops.items() if v)
        print(f"   (appends alone: {total / appended:,.0f} events/s with {appenders} appenders; "
              f"store operations per event: {per_event})")
        return total / elapsed
    finally:
        relay.stop()
        consumer.stop()
        client.drop_database(database)
        client.close()


def _store_ops(client: MongoClient) -> dict[str, int]:
    return dict(client.admin.command("serverStatus").get("opcounters", {}))


def _applied(db) -> int:
    result = list(db.balances.aggregate([{"$group": {"_id": None, "n": {"$sum": "$deposits"}}}]))
    return result[0]["n"] if result else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--appenders", type=int, default=4)
    args = parser.parse_args()
    url = os.environ.get("LEITAI_BENCH_MONGO_URL")
    server = None if url else SecantusServer(os.environ["LEITAI_SECANTUSD"]).start()
    vhost = Vhost("leitai_bench").create()
    try:
        url = url or server.url
        print(f"leitai bench: {args.events} events; broker vhost {vhost.name}; store {url}")
        kombu_rate = raw_kombu(vhost.uri, args.events)
        print(f"1. raw kombu publish->consume, confirms on: {kombu_rate:10,.0f} events/s")
        mongo = {}
        for durability in ("unjournaled", "journaled"):
            for batch in (1, 500):
                mongo[durability, batch] = raw_pymongo(url, args.events, durability, batch)
                what = "insert_one" if batch == 1 else f"insert_many({batch})"
                print(f"2. raw pymongo {what:<16} {durability:<11}: {mongo[durability, batch]:10,.0f} docs/s")
        cost = mongo["journaled", 1] / mongo["unjournaled", 1]
        payback = mongo["journaled", 500] / mongo["unjournaled", 1]
        print(f"   durability costs a single write {1 - cost:.0%} (journaled/unjournaled {cost:.2f}); "
              f"journaled batches of 500 run {payback:.1f}x an unjournaled insert_one")
        leitai = {}
        for durability in ("journaled", "unjournaled"):
            leitai[durability] = leitai_pipeline(url, vhost.uri, args.events, args.streams, args.appenders,
                                                 durability)
            print(f"3. leitai append->relay->idempotent consume, {durability:<11}: "
                  f"{leitai[durability]:10,.0f} events/s")
        ratio = leitai["journaled"] / kombu_rate
        print(f"ratio (3, journaled)/(1): {ratio:.2f}  (target >= 0.50); "
              f"journaled/unjournaled pipeline {leitai['journaled'] / leitai['unjournaled']:.2f}")
        print(json.dumps({"raw_kombu_confirms_eps": round(kombu_rate),
                          **{f"raw_pymongo_{d}_batch{b}_dps": round(r) for (d, b), r in mongo.items()},
                          **{f"leitai_pipeline_{d}_eps": round(r) for d, r in leitai.items()},
                          "ratio": round(ratio, 3)}))
    finally:
        vhost.delete()
        if server:
            server.stop()


if __name__ == "__main__":
    main()
