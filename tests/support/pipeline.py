"""Helpers to run the store -> relay -> broker -> ledger pipeline as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from kombu import Connection, Exchange

from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.eventstore.notes import Signer
from testkit.ledger import REGISTRY, SUBSCRIPTION
from testkit.servers import ROOT, ChildProcess, queue_state, wait_until

BIN = Path(sys.executable).parent
LEDGER_QUEUE = SUBSCRIPTION.queue_name


class Pipeline:
    """One test's pipeline: its config file, its store, and the processes it started."""

    def __init__(
        self,
        tmp_path: Path,
        amqp_uri: str,
        mongo_url: str,
        database: str,
        db,
        settings: dict | None = None,
        signer: Signer | None = None,
        queue_type: str = "classic",
    ) -> None:
        """``settings``: more of the processes' config (a test's witnesses, say); ``signer``: the
        relay's key, when the test needs it before the pipeline (a new one by default);
        ``queue_type``: leitai's queues' (classic, or quorum as in production)."""
        self.amqp_uri = amqp_uri
        self.db = db
        self.config = tmp_path / "config.yaml"
        self.signer = signer or Signer.generate("leitai.test")
        self.signer.write(tmp_path / "signing.key")
        self.config.write_text(
            yaml.safe_dump(
                {
                    "AMQP_URI": amqp_uri,
                    "MONGO_URL": mongo_url,
                    "MONGO_DATABASE": database,
                    "LEITAI_RETRY": {"attempts": 3, "base_delay": "0.2", "factor": 2, "queue_type": queue_type},
                    "LEITAI_SIGNING_KEY": str(tmp_path / "signing.key"),
                    "LEITAI_LOG_ORIGIN": "leitai.test/ledger",
                    "LEITAI_ENVIRONMENT": "test",  # the suite's broker user is guest:guest
                    **(settings or {}),
                }
            )
        )
        ensure_indexes(db)
        self.store = EventStore(MongoCommitLog(db), REGISTRY)
        self.children: list[ChildProcess] = []

    # -- processes ---------------------------------------------------------------------
    def start_ledger(self) -> ChildProcess:
        child = self._spawn(
            [str(BIN / "nameko"), "run", "--config", str(self.config), "tests.support.ledger_service:LedgerService"],
            "ledger",
        )
        wait_until(
            lambda: self.queue_state(LEDGER_QUEUE)[1] >= 1 or not child.alive(),
            timeout=30,
            what="the ledger to consume",
        )
        assert child.alive(), child.output()
        return child

    def start_relay(self, *extra: str) -> ChildProcess:
        child = self._spawn(
            [
                str(BIN / "leitai"),
                "--config",
                str(self.config),
                "relay",
                "--catalogue",
                "testkit.ledger:CATALOGUE",
                *extra,
            ],
            "relay",
        )
        wait_until(lambda: "relay ready" in child.output() or not child.alive(), timeout=30, what="the relay")
        assert child.alive(), child.output()
        return child

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "leitai"), "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )

    def _spawn(self, args: list[str], name: str) -> ChildProcess:
        child = ChildProcess(args, name=name).start()
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in self.children:
            child.stop()

    # -- observations ------------------------------------------------------------------
    def queue_state(self, name: str) -> tuple[int, int]:
        return queue_state(self.amqp_uri, name)

    def balance(self, account: str) -> dict:
        return self.db.balances.find_one({"_id": account}) or {"total_cents": 0, "deposits": 0, "_applied": []}

    def attempts(self, event_id) -> list[dict]:
        return list(self.db.attempts.find({"event_id": str(event_id)}, sort=[("at", 1)]))

    def checkpoint(self) -> int:
        doc = self.db.relay.find_one({"_id": "published"})
        return doc["position"] if doc else 0

    def publish_raw(self, body, content_type: str = "application/json", routing_key: str = "DepositMade") -> None:
        with Connection(self.amqp_uri, transport_options={"confirm_publish": True}) as connection:
            with connection.Producer() as producer:
                producer.publish(
                    body,
                    exchange=Exchange("bank.events", type="topic", durable=True),
                    routing_key=routing_key,
                    content_type=content_type,
                    content_encoding="utf-8",
                    delivery_mode=2,
                    declare=[],
                )

    def wait_drained(self) -> None:
        """The ledger's queue is empty and nothing is waiting in a retry queue."""
        wait_until(
            lambda: (
                self.queue_state(LEDGER_QUEUE)[0] == 0
                and all(self.queue_state(f"{LEDGER_QUEUE}.retry{n}")[0] == 0 for n in (1, 2))
            ),
            what="the ledger's queues to drain",
        )
