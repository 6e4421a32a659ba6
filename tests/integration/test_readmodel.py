"""Read models under competing consumers: events applied at the same moment to a document that
does not exist yet (the first upsert creates it, the others collide with it) all take effect,
each once, and a sheet keeps its highest revision whatever order its revisions land in.
(Real MongoDB answers the losing upserts with a duplicate key, which the read model must not
take for "applied already"; the stand-in turns them into updates, so there these pass either
way: run them against MongoDB with LEITAI_TEST_MONGO_URL.)"""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from leitai.readmodel import ReadModel
from services.ranking.projection import Write, apply_writes

pytestmark = pytest.mark.integration


def test_events_racing_to_create_a_document_all_apply_and_each_once(db):
    model = ReadModel(db)
    events = [uuid.uuid4() for _ in range(24)]
    for key in range(5):  # a fresh document each round: every round starts with a race to create it
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda e: model.apply_once("tallies", f"k{key}", e, {"$inc": {"n": 1}}), events * 2))
        assert model.get("tallies", f"k{key}")["n"] == len(events)


def test_a_sheets_highest_revision_wins_whatever_lands_first(db):
    for round_ in range(10):
        key = f"s1:e1:J{round_}"
        writes = [Write("sheets", key, {"revision": r, "total": str(r)}, newer_than_revision=r) for r in (1, 2, 3)]
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda w: apply_writes(db, [w]), writes * 2))
        assert db.sheets.find_one({"_id": key})["revision"] == 3
