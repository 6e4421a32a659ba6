import pymongo
import pytest

from testkit.servers import Vhost
from testkit.stack import SERVICES, running_stack
from tests.support.demo import DemoRun, run_demos

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


@pytest.fixture(scope="session")
def demo_broker():
    host = Vhost("leitai_demo_test").create()
    yield host.uri
    host.delete()


@pytest.fixture(scope="session")
def boai(tmp_path_factory, demo_broker) -> list[DemoRun]:
    """Two runs of the Boai demo with the same seed: over RabbitMQ, and as on a machine without
    a broker (kombu's in-memory transport, everything in one process). Shared by the demo's
    tests and the audit's (its bundles)."""
    return run_demos(
        [
            (tmp_path_factory.mktemp(f"boai-{n}"), "boai", uri, "2021")
            for n, uri in enumerate((demo_broker, "memory://"))
        ]
    )
