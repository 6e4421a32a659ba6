import pymongo
import pytest

from tests.support.servers import Vhost
from tests.support.stack import SERVICES, Stack

JUDGES = [f"J{n}" for n in range(1, 11)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mongo_url):
    vhost = Vhost().create()
    running = Stack(tmp_path_factory.mktemp("stack"), vhost.uri, mongo_url, JUDGES)
    try:
        yield running.start()
    finally:
        running.stop()
        client = pymongo.MongoClient(mongo_url)
        for service in SERVICES:
            client.drop_database(running.database(service))
        client.close()
        vhost.delete()


@pytest.fixture(scope="module")
def store(stack, mongo_url):
    """Read access to each service's database, to prove what refused requests did not write."""
    client = pymongo.MongoClient(mongo_url, tz_aware=True)
    yield {service: client[stack.database(service)] for service in SERVICES}
    client.close()
