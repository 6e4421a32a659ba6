"""A real relay and a real witness, each its own process: every new checkpoint is cosigned
and the cosignature kept on it; a witness that is down neither stops sealing nor relaying and
cosigns the next checkpoint once back, from the size it tells a relay that forgot it; and a
fork signed with the log's own key is refused."""

from __future__ import annotations

import http.client

import pytest

from composition.localservers import LocalWitness
from leitai.eventstore.checkpoints import public
from leitai.eventstore.merkle import Tree, leaf_hash
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.eventstore.notes import Checkpoint, Signer
from leitai.witness.request import encode
from testkit.ledger import deposit
from testkit.servers import wait_until
from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.integration
ORIGIN = "leitai.test/ledger"


@pytest.fixture
def setup(tmp_path, amqp_uri, mongo_url, database_name, db):
    log_key = Signer.generate("leitai.test")
    witness = LocalWitness(
        tmp_path / "witness.key", tmp_path / "witness.json", {ORIGIN: log_key.verifier.encoded()}, "witness.test/jijian"
    )
    pipeline = Pipeline(
        tmp_path,
        amqp_uri,
        mongo_url,
        database_name,
        db,
        settings={"LEITAI_WITNESSES": witness.entry, "LEITAI_WITNESS_TIMEOUT_S": 2},
        signer=log_key,
    )
    witness.start()
    yield pipeline, witness, MongoCommitLog(db)
    pipeline.stop_all()
    witness.stop()


def post(witness: LocalWitness, body: bytes) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", witness.port, timeout=10)
    try:
        connection.request("POST", "/add-checkpoint", body=body)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def append(pipeline: Pipeline, stream: str, count: int) -> None:
    for version in range(count):
        pipeline.store.append(stream, version, [deposit("A1", "1.00")])


def cosigned_at(records: MongoCommitLog, size: int) -> dict | None:
    latest = records.latest_checkpoint()
    return latest if latest and latest["size"] >= size and latest.get("cosignatures") else None


def test_checkpoints_are_cosigned_and_a_down_witness_stops_nothing(setup):
    pipeline, witness, records = setup
    relay = pipeline.start_relay()
    append(pipeline, "acct-1", 5)
    first = wait_until(lambda: cosigned_at(records, 5), timeout=30, what="a cosigned checkpoint of 5")
    append(pipeline, "acct-2", 4)
    second = wait_until(lambda: cosigned_at(records, 9), timeout=30, what="a cosigned checkpoint of 9")
    for checkpoint in (first, second):
        (line,) = checkpoint["cosignatures"]
        body = checkpoint["note"].rpartition("\n\n")[0] + "\n"
        assert witness.cosigner.verifier.verify(line, body) > 0
        assert public(checkpoint)["cosignatures"] == [line]

    # the witness goes down: sealing and relaying go on, each miss is a WARNING naming it
    witness.crash()
    append(pipeline, "acct-3", 3)
    wait_until(lambda: pipeline.checkpoint() == 12, timeout=30, what="the relay to publish on")
    uncosigned = wait_until(
        lambda: (c := records.latest_checkpoint()) and c["size"] == 12 and c, timeout=30, what="checkpoint 12"
    )
    wait_until(lambda: "witness did not cosign" in relay.output(), timeout=30, what="the warning")
    warning = next(line for line in relay.output().splitlines() if "witness did not cosign" in line)
    assert '"witness": "witness.test/jijian"' in warning and '"level": "WARNING"' in warning
    assert uncosigned["cosignatures"] == []

    # back, with a relay that forgot what it last cosigned: a 409 tells it, the next is cosigned
    relay.kill()
    witness.start()
    pipeline.start_relay()
    append(pipeline, "acct-4", 2)
    third = wait_until(lambda: cosigned_at(records, 14), timeout=40, what="a cosigned checkpoint of 14")
    assert third["size"] == 14
    assert '"status": 409' in witness.output()  # asked from 0 first, and told 9


def test_a_fork_signed_with_the_log_s_own_key_is_refused(setup):
    pipeline, witness, records = setup
    pipeline.start_relay()
    append(pipeline, "acct-1", 6)
    honest = wait_until(lambda: cosigned_at(records, 6), timeout=30, what="a cosigned checkpoint")
    size = honest["size"]
    forked = Tree([leaf_hash(f"rewritten {i}".encode()) for i in range(size + 4)])

    def note(n: int) -> str:
        return pipeline.signer.sign(Checkpoint(ORIGIN, n, forked.root(n)).body())

    # the same size with another root: 409, the size it cosigned in the body
    assert post(witness, encode(size, [], note(size))) == (409, f"{size}\n")
    # a larger tree of the fork, with a proof valid within the fork: 422
    assert post(witness, encode(size, forked.consistency_proof(size, size + 4), note(size + 4)))[0] == 422
    assert "checkpoint refused" in witness.output()
    assert note(size + 4).splitlines()[-1] in witness.output()  # the signed fork, kept as evidence
