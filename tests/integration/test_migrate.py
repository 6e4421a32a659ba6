"""``leitai migrate``, the Job a rollout runs first: it creates every event store's indexes and
every exchange and queue, and running it again changes nothing."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import yaml
from kombu import Connection

from composition.product import CATALOGUE
from leitai.messaging import topology
from tests.support.pipeline import BIN

pytestmark = pytest.mark.integration


def declared(amqp_uri: str, queue: str) -> bool:
    with Connection(amqp_uri) as connection:
        try:
            connection.default_channel.queue_declare(queue, passive=True)
        except Exception:  # noqa: BLE001 - a missing queue closes the channel with 404
            return False
        return True


def test_migrate_creates_indexes_and_topology_and_can_run_again(tmp_path, mongo_client, mongo_url, vhost):
    prefix = f"leitai_test_{uuid.uuid4().hex[:8]}"
    sources = {name: f"{prefix}_{name}" for name in ("registration", "scoring", "ranking")}
    config = tmp_path / "ranking.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "AMQP_URI": vhost.uri,
                "MONGO_URL": mongo_url,
                "MONGO_DATABASE": sources["ranking"],
                "LEITAI_SOURCES": sources,
                "LEITAI_RETRY": {"attempts": 3, "base_delay": "0.2", "factor": 2},
            }
        )
    )
    subscription = CATALOGUE.subscriptions[0]
    assert not declared(vhost.uri, subscription.queue_name)
    try:
        for _ in range(2):
            done = subprocess.run(
                [str(BIN / "leitai"), "--config", str(config), "migrate"], capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stderr[-2000:]
            assert json.loads(done.stdout.splitlines()[-1])["databases"] == sorted(sources.values())
        for name in sources.values():
            indexes = {tuple(spec["key"]) for spec in mongo_client[name].commits.list_indexes()}
            assert ("stream_id", "prev_version") in indexes and ("events.event_id",) in indexes
        assert declared(vhost.uri, subscription.queue_name)
        assert declared(vhost.uri, topology.dead_letter_queue_name(subscription.queue_name))
        assert declared(vhost.uri, topology.retry_queue_name(subscription.queue_name, 2))
    finally:
        for name in sources.values():
            mongo_client.drop_database(name)
