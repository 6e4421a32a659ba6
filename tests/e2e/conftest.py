import pymongo
import pytest

from tests.support.stack import SERVICES, running_stack

JUDGES = [f"J{n}" for n in range(1, 11)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mongo_url):
    with running_stack(tmp_path_factory.mktemp("stack"), mongo_url, JUDGES) as running:
        yield running


@pytest.fixture(scope="module")
def store(stack, mongo_url):
    """Read access to each service's database, to prove what refused requests did not write."""
    client = pymongo.MongoClient(mongo_url, tz_aware=True)
    yield {service: client[stack.database(service)] for service in SERVICES}
    client.close()
