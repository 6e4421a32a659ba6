"""Read models under competing consumers: events applied at the same moment to a document that
does not exist yet (the first upsert creates it, the others collide with it) all take effect,
each once, and a sheet keeps its highest revision whatever order its revisions land in.
(Real MongoDB answers the losing upserts with a duplicate key, which the read model must not
take for "applied already"; the stand-in turns them into updates, so there these pass either
way: run them against MongoDB with LEITAI_TEST_MONGO_URL.)"""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from leitai.readmodel import ReadModel
from leitai.writes import Write, WriteBatch

pytestmark = pytest.mark.integration


def test_events_racing_to_create_a_document_all_apply_and_each_once(db):
    model = ReadModel(db)
    events = [uuid.uuid4() for _ in range(24)]
    for key in range(5):  # a fresh document each round: every round starts with a race to create it
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda e, key=key: model.apply_once("tallies", f"k{key}", e, {"$inc": {"n": 1}}), events * 2))
        assert model.get("tallies", f"k{key}")["n"] == len(events)


def test_overlapping_batches_fold_per_document_and_apply_each_event_once(db):
    model = ReadModel(db)
    rng = random.Random(5)
    events = [(f"k{rng.randrange(4)}", uuid.uuid4(), rng.randrange(1, 100)) for _ in range(120)]
    batches = [rng.sample(events, 30) for _ in range(16)]  # every event in several batches, in any order
    batches = [batch + batch[:3] for batch in batches]  # and a few twice in one batch (a republished copy)
    changes = [
        [(key, e, {"$inc": {"n": 1, "sum": amount}, "$set": {"seen": True}}) for key, e, amount in batch]
        for batch in batches
    ]
    with ThreadPoolExecutor(4) as pool:
        applied = sum(pool.map(lambda c: model.apply_each_once("tallies", c), changes))
    covered = {e for batch in batches for _, e, _ in batch}
    assert applied == len(covered)
    for key in {k for k, _, _ in events}:
        mine = [(e, amount) for k, e, amount in events if k == key and e in covered]
        document = db.tallies.find_one({"_id": key})
        assert document["n"] == len(mine) and document["sum"] == sum(a for _, a in mine)
        assert sorted(document["_applied"]) == sorted(str(e) for e, _ in mine)


def test_a_sheets_highest_revision_wins_whatever_lands_first(db):
    for round_ in range(10):
        key = f"s1:e1:J{round_}"
        writes = [Write("sheets", key, {"revision": r, "total": str(r)}, newer_than_revision=r) for r in (1, 2, 3)]
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda w: WriteBatch().add([w]).flush(db), writes * 2))
        assert db.sheets.find_one({"_id": key})["revision"] == 3


def _random_writes(rng: random.Random, n: int) -> list[Write]:
    writes = []
    for _ in range(n):
        kind = rng.choice(("fact", "sheet", "position"))
        key = f"k{rng.randrange(12)}"
        if kind == "fact":
            writes.append(Write("facts", key, {rng.choice("abc"): rng.randrange(3)}))
        elif kind == "sheet":
            revision = rng.randrange(1, 5)
            writes.append(
                Write("sheets", key, {"revision": revision, "total": f"{revision}.{key}"}, newer_than_revision=revision)
            )
        else:
            writes.append(Write("positions", key, {}, positions={"position": rng.randrange(1000)}))
    return writes


def _everything(db) -> dict:
    return {name: sorted(db[name].find(), key=lambda d: d["_id"]) for name in ("facts", "sheets", "positions")}


@pytest.mark.parametrize("seed,fresh", [(0, False), (1, False), (2, True), (3, True)])
def test_writes_folded_in_batches_end_as_written_one_by_one(mongo_client, seed, fresh):
    """A replay folds writes in memory and flushes them in bulk at arbitrary points (into an
    empty database, inserting what it has not written yet: ``fresh``; or onto documents already
    there); the live consumer writes them one at a time: the same documents."""
    rng = random.Random(seed)
    earlier, writes = ([] if fresh else _random_writes(rng, 40)), _random_writes(rng, 400)
    one_by_one, batched = (mongo_client[f"leitai_test_{uuid.uuid4().hex[:12]}"] for _ in range(2))
    try:
        for db in (one_by_one, batched):
            WriteBatch().add(earlier).flush(db)
        for write in writes:
            WriteBatch().add([write]).flush(one_by_one)
        batch, calls, bulk_writes = WriteBatch(fresh=fresh), 1, 0
        for write in writes:
            batch.add([write])
            if rng.random() < 0.05:
                bulk_writes += batch.flush(batched)
                calls += 1
        bulk_writes += batch.flush(batched)
        # one bulk write a collection a flush, and one more where upserts met newer revisions
        assert len(batch) == 0 and calls <= bulk_writes <= calls * 3 * 2 < len(writes)
        assert _everything(batched) == _everything(one_by_one)
    finally:
        for db in (one_by_one, batched):
            mongo_client.drop_database(db.name)


def test_a_batch_refuses_to_mix_a_plain_and_a_revisioned_write_on_one_document():
    with pytest.raises(ValueError, match="revisioned"):
        WriteBatch().add(
            [Write("sheets", "k", {"total": "1"}), Write("sheets", "k", {"revision": 1}, newer_than_revision=1)]
        )
