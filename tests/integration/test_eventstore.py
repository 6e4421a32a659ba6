"""Runs the event-store conformance suite against every MongoDB this machine has (the
in-memory twin runs it in tests/unit/test_eventstore_memory.py)."""

import os

import pymongo
import pytest

from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from tests.integration.eventstore_conformance import EventStoreConformance
from tests.support.tamper import MongoTamper


def _fresh_database(url: str, name: str):
    client = pymongo.MongoClient(url, tz_aware=True)
    yield client[name]
    client.drop_database(name)
    client.close()


class _OnMongoDB(EventStoreConformance):
    @pytest.fixture
    def records(self, store_db):
        ensure_indexes(store_db)
        return MongoCommitLog(store_db)

    @pytest.fixture
    def tamper(self, store_db):
        return MongoTamper(store_db)

    def test_a_process_that_looked_before_another_made_the_collections_starts_all_the_same(self, store_db):
        """A service and its relay start together: one may look for the collections before the
        other made them and create them after (it once killed a starting service)."""
        ensure_indexes(store_db)  # the first process

        class LookedEarlier:
            def __getattr__(self, name):
                return getattr(store_db, name)

            def __getitem__(self, name):
                return store_db[name]

            def list_collection_names(self):
                return []  # what it saw before the first one's create

        ensure_indexes(LookedEarlier())
        assert {"sequencer", "checkpoints"} <= set(store_db.list_collection_names())


class TestEventStoreOnSecantusDB(_OnMongoDB):
    @pytest.fixture
    def store_db(self, secantus_url, database_name):
        yield from _fresh_database(secantus_url, database_name)


@pytest.mark.skipif(not os.environ.get("LEITAI_TEST_MONGO_URL"), reason="LEITAI_TEST_MONGO_URL names no MongoDB")
class TestEventStoreOnConfiguredMongoDB(_OnMongoDB):
    @pytest.fixture
    def store_db(self, database_name):
        yield from _fresh_database(os.environ["LEITAI_TEST_MONGO_URL"], database_name)
