"""A worker's exception reaches the log. A nameko process started, as the tests start one, with
the LOGGING block of the product's configs (config/*.yaml, the test stack's): its handler
raises once, and the log holds nameko's error line with the traceback and leitai's line that
names the event (type, id, correlation id) it failed on. Before ``disable_existing_loggers:
false`` nameko's container logger, made before the block is applied, was silenced."""

from __future__ import annotations

import json

import pytest
import yaml

from composition.cli import read_config
from testkit.ledger import deposit
from testkit.servers import ROOT, wait_until
from testkit.stack import LOGGING
from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.integration


def logging_blocks() -> dict[str, dict]:
    """Each distinct LOGGING block, by the first file that holds it."""
    blocks: dict[str, dict] = {}
    named = {path.name: read_config(str(path))["LOGGING"] for path in sorted((ROOT / "config").glob("*.yaml"))}
    for name, block in {**named, "testkit/stack.py": LOGGING}.items():
        if block not in blocks.values():
            blocks[name] = block
    return blocks


BLOCKS = logging_blocks()


@pytest.fixture
def pipeline(tmp_path, amqp_uri, mongo_url, database_name, db):
    pipe = Pipeline(tmp_path, amqp_uri, mongo_url, database_name, db)
    yield pipe
    pipe.stop_all()


@pytest.mark.parametrize("name", list(BLOCKS))
def test_a_failing_handler_is_logged_with_its_traceback_and_the_event_it_failed_on(pipeline, name):
    config = yaml.safe_load(pipeline.config.read_text()) | {"LOGGING": BLOCKS[name]}
    pipeline.config.write_text(yaml.safe_dump(config))
    event = deposit("A1", "4.00", correlation_id="request-logged-0001")
    pipeline.db.faults.insert_one({"_id": str(event.event_id), "fail_times": 1})
    ledger = pipeline.start_ledger()
    pipeline.start_relay()
    pipeline.store.append("acct-1", 0, [event])
    wait_until(lambda: pipeline.balance("A1")["deposits"] == 1, what="the deposit, applied when retried")

    lines = [json.loads(line) for line in ledger.output().splitlines() if line.startswith("{")]
    [error] = [line for line in lines if line["logger"] == "nameko.containers" and line["level"] == "ERROR"]
    assert "error handling worker" in error["msg"] and "ledger.on_deposit" in error["msg"]
    assert "RuntimeError: injected fault 1 of 1" in error["exc"]
    [retried] = [line for line in lines if line["msg"] == "handler failed, retrying"]
    assert (retried["event_type"], retried["message_id"], retried["correlation_id"]) == (
        "DepositMade",
        str(event.event_id),
        "request-logged-0001",
    )
    assert "injected fault 1 of 1" in retried["error"]
