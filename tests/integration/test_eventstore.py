"""Runs the event-store conformance suite against every backend this machine has."""
import os

import pymongo
import pytest

from tests.integration.eventstore_conformance import EventStoreConformance


def _fresh_database(url: str, name: str):
    client = pymongo.MongoClient(url, tz_aware=True)
    yield client[name]
    client.drop_database(name)
    client.close()


class TestEventStoreOnSecantusDB(EventStoreConformance):
    @pytest.fixture
    def store_db(self, secantus_url, database_name):
        yield from _fresh_database(secantus_url, database_name)


@pytest.mark.skipif(not os.environ.get("LEITAI_TEST_MONGO_URL"), reason="LEITAI_TEST_MONGO_URL names no MongoDB")
class TestEventStoreOnConfiguredMongoDB(EventStoreConformance):
    @pytest.fixture
    def store_db(self, database_name):
        yield from _fresh_database(os.environ["LEITAI_TEST_MONGO_URL"], database_name)
