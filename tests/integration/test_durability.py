"""The durability suite against every MongoDB this machine has: a SecantusDB process of its
own (killed and restarted by the tests, with fail points on), and the MongoDB named by
LEITAI_TEST_MONGO_URL if any (fail points where its test commands are on; no crashes)."""

import os

import pymongo
import pytest
from pymongo.errors import OperationFailure

from testkit.servers import SecantusServer
from tests.integration.durability_conformance import StoreDurabilityConformance

pytestmark = pytest.mark.integration


def arming(url: str):
    """A fail point for the next matching command, switched off again after the test."""
    client = pymongo.MongoClient(url)

    def arm(data: dict) -> None:
        client.admin.command("configureFailPoint", "failCommand", mode={"times": 1}, data=data)

    try:
        client.admin.command("configureFailPoint", "failCommand", mode="off")
    except OperationFailure:
        client.close()
        pytest.skip("this MongoDB has no test commands (configureFailPoint)")
    yield arm
    client.admin.command("configureFailPoint", "failCommand", mode="off")
    client.close()


@pytest.fixture(scope="module")
def server():
    executable = os.environ.get("LEITAI_SECANTUSD")
    if not executable:
        pytest.fail("set LEITAI_SECANTUSD to a secantusd-py executable (make test does)")
    server = SecantusServer(executable, test_commands=True).start()  # its own: the tests kill it
    yield server
    server.stop()


class TestDurabilityOnSecantusDB(StoreDurabilityConformance):
    @pytest.fixture
    def server_url(self, server):
        return server.url

    @pytest.fixture
    def crash(self, server):
        return server.crash_and_restart

    @pytest.fixture
    def fail_point(self, server):
        yield from arming(server.url)


@pytest.mark.skipif(not os.environ.get("LEITAI_TEST_MONGO_URL"), reason="LEITAI_TEST_MONGO_URL names no MongoDB")
class TestDurabilityOnConfiguredMongoDB(StoreDurabilityConformance):
    @pytest.fixture
    def server_url(self):
        return os.environ["LEITAI_TEST_MONGO_URL"]

    @pytest.fixture
    def crash(self):
        pytest.skip("a MongoDB this suite did not start is not killed by it")

    @pytest.fixture
    def fail_point(self):
        yield from arming(os.environ["LEITAI_TEST_MONGO_URL"])
