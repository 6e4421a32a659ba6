"""``make bench``: every path of leitai against its raw parts, in ONE run on one broker and store.

Raw parts: (1) kombu publish -> consume, persistent, publisher confirms on; (2) pymongo
insert_one and insert_many(500), journaled (w majority, j true, as leitai writes) and not;
(3) a pymongo cursor reading a log in position order.
leitai: (4) EventStore.append alone, 4 appenders, and then (5s) the relay sequencing and
publishing all they appended, then the batch consumer applying it, each stage measured alone
so that the store's work is told per stage; (5) append -> relay (sequence, publish,
confirm) -> batch consumer applying each event exactly once, all at once, from the first
append to the last apply; (6) ``leitai replay ranking`` over a synthetic
province-style log (the log (3) read); (7) what checking an event against its contract costs.
For each path, store round trips per event (the server's request count, which also holds
the drivers' heartbeats), the commands of each kind per event (its opcounters) and, when
this run started the store, the store's CPU per event. Prints the rates, the ratios the
targets are set in, and a JSON line with every figure. A benchmark, not a test: it asserts
nothing.
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

from bench import preflight
from bench.replay import SOURCES, leitai_replay, raw_cursor
from bench.synthetic import generate
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY as PRODUCT
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.messaging.relay import CHECKPOINT_ID
from leitai.messaging.relay import CHECKPOINTS as RELAY_CHECKPOINTS
from leitai.mongo import connect
from testkit.ledger import REGISTRY, SUBSCRIPTION, deposit
from testkit.servers import ChildProcess, SecantusServer, Vhost, queue_state, wait_until

BIN = Path(sys.executable).parent
OPS = ("insert", "query", "update", "delete", "getmore", "command")  # serverStatus opcounters


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


def raw_pymongo(url: str, n: int, durability: str, batch: int = 1) -> dict:
    client = connect(url, durability)
    database = f"bench_raw_{uuid.uuid4().hex[:8]}"  # its own: a shared store may hold another run's
    collection = client[database].docs
    with Measured(client) as measured:
        for first in range(0, n, batch):
            if batch == 1:
                collection.insert_one({"n": first, "payload": "x" * 200})
            else:
                collection.insert_many([{"n": i, "payload": "x" * 200} for i in range(first, min(first + batch, n))])
    client.drop_database(database)
    client.close()
    return measured.per_event(n)


def _config(amqp_uri: str, url: str, database: str, durability: str) -> Path:
    config = Path(tempfile.mkdtemp(prefix="leitai-bench-")) / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "AMQP_URI": amqp_uri,
                "MONGO_URL": url,
                "MONGO_DATABASE": database,
                "LEITAI_DURABILITY": durability,
                "LEITAI_ENVIRONMENT": "bench",
            }
        )
    )
    return config


def append_all(store: EventStore, n: int, streams: int, appenders: int) -> int:
    """``n`` deposits over ``streams`` streams, each append after the version the last left."""

    def append_stream(s: int) -> None:
        for version in range(n // streams):
            store.append(f"acct-{s}", version, [deposit(f"A{s}", "1.00")])

    with ThreadPoolExecutor(appenders) as pool:
        list(pool.map(append_stream, range(streams)))
    return (n // streams) * streams


class Pipeline:
    """A fresh database with the bench's relay and consumer processes, started on demand."""

    def __init__(self, url: str, amqp_uri: str, durability: str) -> None:
        self.amqp_uri = amqp_uri
        self.database = f"bench_{uuid.uuid4().hex[:8]}"
        self.config = _config(amqp_uri, url, self.database, durability)
        self.client = connect(url, durability)
        self.db = self.client[self.database]
        ensure_indexes(self.db)
        self.store = EventStore(MongoCommitLog(self.db), REGISTRY)
        self.children: list[ChildProcess] = []

    def start_consumer(self) -> None:
        self.children.append(
            ChildProcess(
                [str(BIN / "nameko"), "run", "--config", str(self.config), "bench.consumer_service:LedgerService"],
                name="bench-consumer",
            ).start()
        )
        wait_until(lambda: queue_state(self.amqp_uri, SUBSCRIPTION.queue_name)[1] > 0, timeout=60, what="the consumer")

    def start_relay(self) -> None:
        relay = ChildProcess(
            [
                str(BIN / "leitai"),
                "--config",
                str(self.config),
                "--log-level",
                "WARNING",
                "relay",
                "--catalogue",
                "testkit.ledger:CATALOGUE",
            ],
            name="bench-relay",
        ).start()
        self.children.append(relay)
        wait_until(lambda: "relay ready" in relay.output(), timeout=60, what="the relay")

    def relayed(self) -> int:
        checkpoint = self.db[RELAY_CHECKPOINTS].find_one({"_id": CHECKPOINT_ID})
        return checkpoint["position"] if checkpoint else 0

    def applied(self) -> int:
        result = list(self.db.balances.aggregate([{"$group": {"_id": None, "n": {"$sum": "$deposits"}}}]))
        return result[0]["n"] if result else 0

    def close(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.client.drop_database(self.database)
        self.client.close()


def leitai_pipeline(url: str, amqp_uri: str, n: int, streams: int, appenders: int, durability: str) -> dict:
    """From the first append to the last apply: ``Measured.per_event``."""
    pipeline = Pipeline(url, amqp_uri, durability)
    try:
        pipeline.start_consumer()  # its queue first: the relay declares it too, and publishes into it
        pipeline.start_relay()
        with Measured(pipeline.client) as measured:
            total = append_all(pipeline.store, n, streams, appenders)
            wait_until(lambda: pipeline.applied() >= total, timeout=600, interval=0.05, what="every event applied")
        return measured.per_event(total)
    finally:
        pipeline.close()


def leitai_stages(url: str, amqp_uri: str, n: int, streams: int, appenders: int) -> dict[str, dict]:
    """The pipeline's stages one after another, journaled, each ``Measured.per_event``: every
    append; then the relay sequencing and publishing all of them; then the consumer applying
    them (queued meanwhile). Each stage then works in the largest batches it takes, so these
    are the least each costs; the pipeline's own figure is what they cost together."""
    pipeline = Pipeline(url, amqp_uri, "journaled")
    stages = {}
    try:
        with Measured(pipeline.client) as measured:
            total = append_all(pipeline.store, n, streams, appenders)
        stages["append"] = measured.per_event(total)
        with Measured(pipeline.client) as measured:
            pipeline.start_relay()
            wait_until(lambda: pipeline.relayed() >= total, timeout=600, interval=0.05, what="every event relayed")
        stages["sequence_and_publish"] = measured.per_event(total)
        with Measured(pipeline.client) as measured:
            pipeline.start_consumer()
            wait_until(lambda: pipeline.applied() >= total, timeout=600, interval=0.05, what="every event applied")
        stages["consume"] = measured.per_event(total)
        return stages
    finally:
        pipeline.close()


def leitai_replay_of_log(url: str, entrants: int) -> dict:
    """A synthetic log of ``entrants``: read by a raw cursor, then replayed by leitai."""
    client = connect(url, "unjournaled")
    prefix = f"bench_replay_{uuid.uuid4().hex[:6]}"
    dbs = {s: client[f"{prefix}_{s}"] for s in SOURCES}
    try:
        generate(dbs, entrants)
        read, raw_s = raw_cursor(dbs)
        with Measured(client) as measured:
            replay_s, _, peak = leitai_replay(url, prefix)
        validation = contract_costs(dbs["scoring"])
    finally:
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)
        client.close()
    replay = measured.per_event(read)
    replay["eps"] = read / replay_s  # the rebuild as the command times it, without its start-up
    return {
        "events": read,
        "raw_cursor_eps": read / raw_s,
        "replay": replay,
        "replay_peak_rss_mib": peak / 2**20,
        **validation,
    }


def contract_costs(db, sample: int = 3000) -> dict:
    """Microseconds per event to check a stored event against its contract (what every read
    does), to dump it to the wire (what the relay publishes) and to check a new payload (what
    every append does). The schemas are built once, at import."""
    documents = [dict(e, position=1) for c in db.commits.find({}, limit=sample) for e in c["events"]][:sample]
    started = time.perf_counter()
    events = [Event.from_wire(d, PRODUCT) for d in documents]
    read = time.perf_counter() - started
    started = time.perf_counter()
    for event in events:
        event.to_wire(PRODUCT)
    dumped = time.perf_counter() - started
    started = time.perf_counter()
    for d in documents:
        PRODUCT.get(d["type"]).normalise(d["payload"])
    checked = time.perf_counter() - started
    return {
        "contract_read_us": read / len(documents) * 1e6,
        "contract_dump_us": dumped / len(documents) * 1e6,
        "contract_append_us": checked / len(documents) * 1e6,
    }


class StoreCpu:
    """CPU seconds the store's server process has used, when this run started it (else None):
    what shows whether a path waits on the store or on itself."""

    pid: int | None = None

    @classmethod
    def seconds(cls) -> float | None:
        return None if cls.pid is None else process_cpu_seconds(cls.pid)


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process ``pid`` has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Measured:
    """Round trips and store CPU used between entering and leaving, per event."""

    def __init__(self, client: MongoClient) -> None:
        self._client = client

    def __enter__(self) -> Measured:
        self._requests, self._ops = _counters(self._client)
        self._cpu, self._started = StoreCpu.seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._started
        requests, ops = _counters(self._client)
        self.requests = requests - self._requests
        self.ops = {kind: count - self._ops.get(kind, 0) for kind, count in ops.items()}
        cpu = StoreCpu.seconds()
        self.store_cpu = None if cpu is None else cpu - self._cpu

    def per_event(self, events: int) -> dict:
        """events/s, round trips per event, commands of each kind per event and store CPU (ms)
        per event"""
        return {
            "eps": events / self.seconds,
            "round_trips_per_event": self.requests / events,
            **{f"{kind}_per_event": count / events for kind, count in self.ops.items() if count},
            **({"store_cpu_ms_per_event": self.store_cpu * 1000 / events} if self.store_cpu is not None else {}),
        }


def _counters(client: MongoClient) -> tuple[int, dict[str, int]]:
    """Requests the server has received from every client (one request is one round trip),
    and its opcounters: inserts, queries, updates, deletes, getmores and other commands (the
    measuring itself and the drivers' heartbeats among them)."""
    status = client.admin.command("serverStatus")
    return status["network"]["numRequests"], dict(status.get("opcounters", {}))


def _line(label: str, figures: dict, unit: str = "events/s") -> str:
    extra = f"   {figures['round_trips_per_event']:.3f} round trips/event" if "round_trips_per_event" in figures else ""
    if "store_cpu_ms_per_event" in figures:
        extra += f", store CPU {figures['store_cpu_ms_per_event']:.2f} ms/event"
    kinds = [
        k.removesuffix("_per_event") for k in figures if k.endswith("_per_event") and k[: -len("_per_event")] in OPS
    ]
    if kinds:
        extra += " (" + ", ".join(f"{kind} {figures[f'{kind}_per_event']:.3f}" for kind in kinds) + ")"
    return f"{label:<48}{figures['eps']:10,.0f} {unit}{extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--appenders", type=int, default=4)
    parser.add_argument("--entrants", type=int, default=2000, help="size of the replayed log (about 9.2 events each)")
    args = parser.parse_args()
    preflight.require(broker=True)
    url = os.environ.get("LEITAI_BENCH_MONGO_URL")
    server = None if url else SecantusServer(os.environ["LEITAI_SECANTUSD"]).start()
    StoreCpu.pid = server.process.pid if server else None
    vhost = Vhost("leitai_bench").create()
    f: dict[str, dict] = {}
    try:
        url = url or server.url
        print(f"leitai bench: {args.events} events; broker vhost {vhost.name}; store {url}", flush=True)
        f["raw_kombu_confirms"] = {"eps": raw_kombu(vhost.uri, args.events)}
        print(_line("1. raw kombu publish->consume, confirms on", f["raw_kombu_confirms"]), flush=True)
        for durability in ("journaled", "unjournaled"):
            for batch in (1, 500):
                what = "insert_one" if batch == 1 else f"insert_many_{batch}"
                f[f"raw_pymongo_{what}_{durability}"] = raw_pymongo(url, args.events, durability, batch)
                print(
                    _line(f"2. raw pymongo {what} {durability}", f[f"raw_pymongo_{what}_{durability}"], "docs/s"),
                    flush=True,
                )
        replay = leitai_replay_of_log(url, args.entrants)
        f["raw_cursor"] = {"eps": replay.pop("raw_cursor_eps")}
        print(_line(f"3. raw pymongo cursor over a log ({replay['events']:,})", f["raw_cursor"]), flush=True)
        stages = leitai_stages(url, vhost.uri, args.events, args.streams, args.appenders)
        f["leitai_appends"] = stages.pop("append")
        print(_line(f"4. leitai appends alone, {args.appenders} appenders", f["leitai_appends"]), flush=True)
        for stage, figures in stages.items():
            f[f"leitai_stage_{stage}"] = figures
            print(_line(f"5s. then {stage.replace('_', ' ')} alone", figures), flush=True)
        for durability in ("journaled", "unjournaled"):
            f[f"leitai_pipeline_{durability}"] = leitai_pipeline(
                url, vhost.uri, args.events, args.streams, args.appenders, durability
            )
            print(
                _line(f"5. leitai append->relay->consume, {durability}", f[f"leitai_pipeline_{durability}"]), flush=True
            )
        f["leitai_replay"] = dict(
            replay.pop("replay"), peak_rss_mib=replay.pop("replay_peak_rss_mib"), events=replay.pop("events")
        )
        print(
            _line("6. leitai replay ranking", f["leitai_replay"])
            + f", peak {f['leitai_replay']['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
        f["contract_check_us_per_event"] = replay
        print(
            f"7. contract check per event: stored->Event {replay['contract_read_us']:.0f} us, "
            f"Event->wire {replay['contract_dump_us']:.0f} us, new payload {replay['contract_append_us']:.0f} us"
        )
        pipeline, insert_one = f["leitai_pipeline_journaled"]["eps"], f["raw_pymongo_insert_one_journaled"]["eps"]
        # (ratio, target, whether the target is a floor or a ceiling): issue #33's targets
        ratios: dict[str, tuple[float, float | None, str]] = {
            "pipeline_vs_kombu": (pipeline / f["raw_kombu_confirms"]["eps"], 0.5, ">="),
            "pipeline_vs_insert_one": (pipeline / insert_one, 0.5, ">="),
            "appends_vs_insert_one": (f["leitai_appends"]["eps"] / insert_one, None, ""),
            "replay_vs_cursor": (f["leitai_replay"]["eps"] / f["raw_cursor"]["eps"], 0.5, ">="),
        }
        store_cpu = "store_cpu_ms_per_event"
        if store_cpu in f["raw_pymongo_insert_one_journaled"]:  # known when this run started the store
            one = f["raw_pymongo_insert_one_journaled"][store_cpu]
            ratios["pipeline_store_cpu_vs_insert_one"] = (f["leitai_pipeline_journaled"][store_cpu] / one, 2.0, "<=")
            for stage in stages:
                ratios[f"{stage}_store_cpu_vs_insert_one"] = (f[f"leitai_stage_{stage}"][store_cpu] / one, None, "")
        print("ratios (journaled, as in production):")
        for name, (ratio, target, bound) in ratios.items():
            print(f"   {name:<44} {ratio:5.2f}" + (f"  (target {bound} {target})" if target else ""))
        print(
            json.dumps(
                {
                    "figures": {path: {k: round(v, 3) for k, v in figures.items()} for path, figures in f.items()},
                    "ratios": {k: round(r, 3) for k, (r, _, _) in ratios.items()},
                }
            )
        )
    finally:
        vhost.delete()
        if server:
            server.stop()


if __name__ == "__main__":
    main()
