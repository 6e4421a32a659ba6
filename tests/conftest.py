"""Fixtures that give every test real servers and data of its own.

Storage: a SecantusDB process started once per run (or the MongoDB named by
LEITAI_TEST_MONGO_URL); each test gets a fresh database in it. Messaging: the local
RabbitMQ; each test gets a vhost of its own, deleted afterwards.
"""

from __future__ import annotations

import os
import uuid

import pymongo
import pytest

from testkit.servers import SecantusServer, Vhost


@pytest.fixture(scope="session")
def secantus_url():
    executable = os.environ.get("LEITAI_SECANTUSD")
    if not executable:
        pytest.fail("set LEITAI_SECANTUSD to a secantusd-py executable (make test does)")
    server = SecantusServer(executable).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mongo_url(request):
    """The MongoDB named by LEITAI_TEST_MONGO_URL, else the stand-in."""
    return os.environ.get("LEITAI_TEST_MONGO_URL") or request.getfixturevalue("secantus_url")


@pytest.fixture(scope="session")
def mongo_client(mongo_url):
    client = pymongo.MongoClient(mongo_url, tz_aware=True)
    yield client
    client.close()


@pytest.fixture
def database_name():
    return f"leitai_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def db(mongo_client, database_name):
    yield mongo_client[database_name]
    mongo_client.drop_database(database_name)


@pytest.fixture
def vhost():
    host = Vhost().create()
    yield host
    host.delete()


@pytest.fixture
def amqp_uri(vhost):
    return vhost.uri
