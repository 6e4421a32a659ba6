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


class TestEventStoreOnSecantusDB(_OnMongoDB):
    @pytest.fixture
    def store_db(self, secantus_url, database_name):
        yield from _fresh_database(secantus_url, database_name)


@pytest.mark.skipif(not os.environ.get("LEITAI_TEST_MONGO_URL"), reason="LEITAI_TEST_MONGO_URL names no MongoDB")
class TestEventStoreOnConfiguredMongoDB(_OnMongoDB):
    @pytest.fixture
    def store_db(self, database_name):
        yield from _fresh_database(os.environ["LEITAI_TEST_MONGO_URL"], database_name)
