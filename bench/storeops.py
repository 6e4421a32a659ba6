"""``make bench-store``: what each store command leitai sends costs the store, per document.

``make bench`` says how much store CPU each stage of the pipeline costs an event; this says
which command it goes to, and what another design would cost in its place. Each operation
runs ``--documents`` times against a SecantusDB this run starts (its CPU read from the
kernel), or LEITAI_BENCH_MONGO_URL (then wall time only), in a database of its own,
journaled as leitai writes:

* appends through MongoCommitLog.insert_each: one commit a command, then groups of 4 and 50
  (group commit), against a plain ``insert_one`` of a small document;
* sequencing through MongoCommitLog.mark_sequenced (an update per commit, one bulk write a
  batch of 100), against what any per-commit update costs at least (one ``update_many``
  unsetting the pending mark of 100 commits) and what one inserted record per batch of 100
  would cost (no commit touched);
* reads: a log range, the pending commits, a commit by id, and the query an idle relay round
  makes (pending commits when none wait, after all of these were sequenced: per query);
* a consumer's writes: ReadModel.apply_each_once over 50 documents, 100 events a batch, and
  the seen records' ``insert_many``.
Prints milliseconds of store CPU (and wall time) per document, and a JSON line. A benchmark:
it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from bench import preflight
from bench.pipeline import StoreCpu
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import EPOCH, MongoCommitLog, ensure_indexes
from leitai.eventstore.records import PENDING
from leitai.eventstore.sequencer import sequence_fields
from leitai.mongo import connect
from leitai.readmodel import ReadModel
from testkit.ledger import REGISTRY, deposit
from testkit.servers import SecantusServer

STREAMS = 50


def measure(documents: int, operation: Callable[[], object]) -> dict[str, float]:
    """Store CPU (when known) and wall time per document of ``operation``."""
    cpu, started = StoreCpu.seconds(), time.perf_counter()
    operation()
    wall = time.perf_counter() - started
    used = StoreCpu.seconds()
    return {
        "wall_ms_per_doc": wall * 1000 / documents,
        **({"store_cpu_ms_per_doc": (used - cpu) * 1000 / documents} if used is not None and cpu is not None else {}),
    }


def run(url: str, n: int) -> dict[str, dict[str, float]]:
    client = connect(url, "journaled")
    database = f"bench_storeops_{uuid.uuid4().hex[:8]}"
    db = client[database]
    ensure_indexes(db)
    log = MongoCommitLog(db)
    store = EventStore(log, REGISTRY)
    versions = dict.fromkeys(range(STREAMS), 0)

    def commits(count: int) -> list[dict]:
        made = []
        for i in range(count):
            stream = i % STREAMS
            made.append(store.commit(f"s{stream}", versions[stream], [deposit("A", "1.00")]))
            versions[stream] += 1
        return made

    def in_groups(made: list[dict], size: int) -> Callable[[], None]:
        return lambda: [log.insert_each(made[i : i + size]) for i in range(0, len(made), size)]

    figures: dict[str, dict[str, float]] = {}
    try:
        plain = db.plain
        figures["insert_one, small document"] = measure(n, lambda: [plain.insert_one({"n": i}) for i in range(n)])
        stored: list[dict] = []
        for size in (1, 4, 50):
            made = commits(n)
            figures[f"append: insert_each, {size} commit(s) a command"] = measure(n, in_groups(made, size))
            stored += made
        head = {"position": 0, "hash": "0" * 64}

        def sequence(batch: list[dict]) -> list[tuple[str, dict]]:
            assigned = []
            for commit in batch:
                fields = sequence_fields(commit, head["position"] + 1, head["hash"])
                head["position"], head["hash"] = fields["last_position"], fields["hash"]
                assigned.append((commit["_id"], fields))
            return assigned

        first, second, third = stored[:n], stored[n : 2 * n], stored[2 * n :]
        batches = [sequence(first[i : i + 100]) for i in range(0, n, 100)]
        figures["sequence: mark_sequenced, an update a commit"] = measure(
            n, lambda: [log.mark_sequenced(b) for b in batches]
        )
        ids = [c["_id"] for c in second]
        figures["sequence, at least: update_many of 100 commits"] = measure(
            n,
            lambda: [
                db.commits.update_many({"_id": {"$in": ids[i : i + 100]}}, {"$unset": {PENDING: ""}})
                for i in range(0, n, 100)
            ],
        )
        records = [
            {"_id": i, "commits": [dict(fields, _id=cid) for cid, fields in sequence(third[i : i + 100])]}
            for i in range(0, n, 100)
        ]
        figures["sequence, by record: one insert a batch of 100"] = measure(
            n, lambda: [db.batches.insert_one(r) for r in records]
        )
        figures["read: a log range of 100 commits"] = measure(
            n, lambda: [log.sequenced_between(p, p + 100) for p in range(0, n, 100)]
        )
        figures["read: 100 pending commits"] = measure(
            n, lambda: [list(db.commits.find({PENDING: {"$gt": EPOCH}}, limit=100)) for _ in range(0, n, 100)]
        )
        figures["read: a commit by id"] = measure(n, lambda: [log.exists(cid) for cid in ids])
        db.commits.update_many({"_id": {"$in": [c["_id"] for c in third]}}, {"$unset": {PENDING: ""}})
        figures["read: pending commits when none wait (per query)"] = measure(
            100, lambda: [log.pending(500) for _ in range(100)]
        )
        model = ReadModel(db)
        figures["consume: apply_each_once, 100 events on 50 documents"] = measure(
            n,
            lambda: [
                model.apply_each_once(
                    "balances", [(f"s{k % STREAMS}", uuid.uuid4(), {"$inc": {"deposits": 1}}) for k in range(100)]
                )
                for _ in range(0, n, 100)
            ],
        )
        at = datetime.now(UTC)
        figures["consume: seen records, insert_many of 100"] = measure(
            n,
            lambda: [
                db.seen_events.insert_many(
                    [
                        {"_id": str(uuid.uuid4()), "stream_id": "s", "stream_version": k, "type": "T", "at": at}
                        for k in range(100)
                    ]
                )
                for _ in range(0, n, 100)
            ],
        )
        return figures
    finally:
        client.drop_database(database)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000, help="documents each operation writes or reads")
    args = parser.parse_args()
    n = max(100, args.documents // 100 * 100)  # whole batches of 100
    preflight.require(broker=False)
    url = preflight.store_url_or_server()
    server = None if url else SecantusServer(os.environ["LEITAI_SECANTUSD"]).start()
    StoreCpu.pid = server.process.pid if server else None
    try:
        figures = run(url or server.url, n)
    finally:
        if server:
            server.stop()
    print(f"leitai bench-store: {n} documents an operation; milliseconds per document")
    for name, figure in figures.items():
        cpu = figure.get("store_cpu_ms_per_doc")
        print(
            f"   {name:<56}"
            + (f" store CPU {cpu:6.3f}" if cpu is not None else "")
            + f"  wall {figure['wall_ms_per_doc']:6.3f}"
        )
    print(
        json.dumps({"documents": n, "figures": {k: {f: round(v, 4) for f, v in d.items()} for k, d in figures.items()}})
    )


if __name__ == "__main__":
    main()
