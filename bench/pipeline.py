"""``make bench``: the event pipeline against its raw parts, in ONE run on one broker and server.

1. raw kombu: publish -> consume, persistent messages, publisher confirms on;
2. raw pymongo: insert_one;
3. leitai: EventStore.append -> relay (sequence, publish, confirm) -> reliable consumer
   applying each event once to a read model; timed from the first append to the last apply.
Prints the three rates and the ratio of (3) to (1). A benchmark, not a test: it asserts nothing.
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

import pymongo
import yaml
from kombu import Connection, Exchange, Queue

from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
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


def raw_pymongo(url: str, n: int) -> float:
    client = pymongo.MongoClient(url)
    collection = client.bench_raw.docs
    started = time.perf_counter()
    for i in range(n):
        collection.insert_one({"n": i, "payload": "x" * 200})
    elapsed = time.perf_counter() - started
    client.drop_database("bench_raw")
    client.close()
    return n / elapsed


def leitai_pipeline(url: str, amqp_uri: str, n: int, streams: int, appenders: int) -> float:
    database = f"bench_{uuid.uuid4().hex[:8]}"
    config = Path(tempfile.mkdtemp(prefix="leitai-bench-")) / "config.yaml"
    config.write_text(yaml.safe_dump({"AMQP_URI": amqp_uri, "MONGO_URL": url, "MONGO_DATABASE": database}))
    client = pymongo.MongoClient(url, tz_aware=True)
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


def _store_ops(client: pymongo.MongoClient) -> dict[str, int]:
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
        mongo_rate = raw_pymongo(url, args.events)
        print(f"2. raw pymongo insert_one:                   {mongo_rate:10,.0f} docs/s")
        leitai_rate = leitai_pipeline(url, vhost.uri, args.events, args.streams, args.appenders)
        print(f"3. leitai append->relay->idempotent consume: {leitai_rate:10,.0f} events/s")
        ratio = leitai_rate / kombu_rate
        print(f"ratio (3)/(1): {ratio:.2f}  (target >= 0.50)")
        print(json.dumps({"raw_kombu_confirms_eps": round(kombu_rate), "raw_pymongo_insert_one_dps": round(mongo_rate),
                          "leitai_pipeline_eps": round(leitai_rate), "ratio": round(ratio, 3)}))
    finally:
        vhost.delete()
        if server:
            server.stop()


if __name__ == "__main__":
    main()
