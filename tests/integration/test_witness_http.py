"""The witness over real HTTP (a server on a free port): every status C2SP tlog-witness names
for add-checkpoint, the cosignature it answers with, the bounds on what it reads, keep-alive,
and a log forked under its own key refused."""

import base64
import http.client
import json
import select
import socket

import pytest

from leitai.eventstore.memory import MemoryCommitLog
from leitai.eventstore.merkle import Tree, leaf_hash
from leitai.eventstore.notes import Checkpoint, Signer
from leitai.witness import server as witness_server
from leitai.witness.client import Cosigning, WitnessEndpoint
from leitai.witness.cosignature import Cosigner
from leitai.witness.request import encode
from leitai.witness.server import MAX_BODY, WitnessServer
from leitai.witness.state import State
from leitai.witness.witness import Witness

ORIGIN = "leitai.test/scoring"
LOG_KEY = Signer.generate("leitai.test")
HONEST = Tree([leaf_hash(f"event {i}".encode()) for i in range(20)])
FORKED = Tree([leaf_hash(f"event {i}".encode() if i < 6 else f"rewritten {i}".encode()) for i in range(20)])


def note(size: int, tree: Tree = HONEST, key: Signer = LOG_KEY, origin: str = ORIGIN) -> str:
    return key.sign(Checkpoint(origin, size, tree.root(size)).body())


@pytest.fixture
def witness(tmp_path):
    cosigner = Cosigner.generate("witness.test/jijian")
    server = WitnessServer(
        Witness(cosigner, {ORIGIN: [LOG_KEY.verifier]}, State(tmp_path / "state.json")), "127.0.0.1", 0, "/w"
    ).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        yield server, cosigner, connection
    finally:
        connection.close()
        server.stop()


def post(connection, body: bytes, path: str = "/w/add-checkpoint"):
    connection.request("POST", path, body=body)
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type"), response.read().decode()


def test_each_status_the_spec_names(witness, tmp_path):
    server, cosigner, connection = witness
    # 200: the first checkpoint of a log, from old size 0 with an empty proof
    status, _, body = post(connection, encode(0, [], note(5)))
    assert status == 200
    (line,) = body.splitlines()
    assert body.endswith("\n") and line.startswith(f"— {cosigner.name} ")
    assert cosigner.verifier.verify(line, Checkpoint(ORIGIN, 5, HONEST.root(5)).body()) > 0
    assert json.loads((tmp_path / "state.json").read_text())["logs"][ORIGIN]["size"] == 5

    # 409 with the size last cosigned, for a client that did not know it
    assert post(connection, encode(0, [], note(9))) == (409, "text/x.tlog.size", "5\n")
    # 422: a proof that does not prove 5 -> 9
    assert post(connection, encode(5, HONEST.consistency_proof(4, 9), note(9)))[0] == 422
    # 200 with the right proof; the state moved to 9
    assert post(connection, encode(5, HONEST.consistency_proof(5, 9), note(9)))[0] == 200
    # 400: old size beyond the checkpoint's
    assert post(connection, encode(10, [], note(9)))[0] == 400
    # 404: a log it does not watch (signed by the right key, even)
    assert post(connection, encode(0, [], note(3, origin="leitai.test/other")))[0] == 404
    # 403: the right origin, signed by some other key only
    assert (
        post(connection, encode(9, HONEST.consistency_proof(9, 12), note(12, key=Signer.generate("leitai.test"))))[0]
        == 403
    )


def test_a_fork_signed_with_the_log_s_own_key_is_refused(witness):
    _, _, connection = witness
    assert post(connection, encode(0, [], note(8)))[0] == 200
    # the same size with another root: 409 (and the witness still says 8)
    assert post(connection, encode(8, [], note(8, FORKED))) == (409, "text/x.tlog.size", "8\n")
    # a larger forked tree, with the forked tree's own (valid, for it) proof from 8: 422
    assert post(connection, encode(8, FORKED.consistency_proof(8, 12), note(12, FORKED)))[0] == 422
    # the honest log still goes on
    assert post(connection, encode(8, HONEST.consistency_proof(8, 12), note(12)))[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 01\n\n",
        b"new 0\n\n" + note(3).encode(),
        b"old 0\n" + note(3).encode(),  # no empty line before the checkpoint
        b"old 0\nnot-base64\n\n" + note(3).encode(),
        b"old 0\n" + b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(64)) + b"\n" + note(3).encode(),
        b"old 0\n\n" + Checkpoint(ORIGIN, 3, HONEST.root(3)).body().encode(),  # not signed
        b"old 0\n\n\xff\xfe",
    ],
)
def test_a_malformed_body_is_400_with_a_reason_and_no_traceback(witness, body):
    _, _, connection = witness
    status, kind, text = post(connection, body)
    assert (status, kind) == (400, "text/plain; charset=utf-8")
    assert "Traceback" not in text and text.startswith("malformed")


def test_63_proof_lines_are_read(witness):
    _, _, connection = witness
    proof = [bytes(32)] * 63
    assert post(connection, encode(0, proof, note(3)))[0] == 422  # read, and refused as a proof, not as malformed


def test_what_it_reads_is_bounded_and_other_paths_and_methods_are_refused(witness):
    server, _, connection = witness
    assert post(connection, b"x" * (MAX_BODY + 1))[0] == 413
    connection.close()
    assert post(connection, encode(0, [], note(3)), path="/add-checkpoint")[0] == 404
    connection.request("GET", "/w/add-checkpoint")
    response = connection.getresponse()
    response.read()
    assert (response.status, response.getheader("Allow")) == (405, "POST")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"POST /w/add-checkpoint HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 411 ")


def test_requests_share_one_kept_alive_connection(witness):
    _, _, connection = witness
    assert post(connection, encode(0, [], note(2)))[0] == 200
    first = connection.sock
    assert post(connection, encode(2, HONEST.consistency_proof(2, 7), note(7)))[0] == 200
    assert connection.sock is first


def test_the_relay_s_side_learns_the_size_keeps_checked_cosignatures_and_outlives_a_dropped_connection(
    witness, monkeypatch
):
    server, cosigner, connection = witness
    monkeypatch.setattr(witness_server._Handler, "timeout", 0.3)  # the witness drops idle connections at once
    assert post(connection, encode(0, [], note(5)))[0] == 200  # cosigned before this relay knew the witness
    records = MemoryCommitLog()
    for size in (5, 9, 14):
        records.add_checkpoint({"_id": size, "size": size, "origin": ORIGIN, "note": note(size), "cosignatures": []})
    cosigning = Cosigning(
        records,
        [WitnessEndpoint(f"http://127.0.0.1:{server.port}/w", cosigner.verifier)],
        timeout=5,
        prove=lambda checkpoint, old: HONEST.consistency_proof(old, checkpoint["size"]),
    )
    # asked from 0, told 5 by a 409, proved from 5: cosigned, and the line checked and kept
    [line] = cosigning.cosign_latest()
    assert records.latest_checkpoint()["cosignatures"] == [line]
    assert cosigner.verifier.verify(line, Checkpoint(ORIGIN, 14, HONEST.root(14)).body())
    assert cosigning.cosign_latest() == []  # nothing missing: nothing asked
    [endpoint] = cosigning._connections
    kept = cosigning._connections[endpoint]._connection.sock  # the relay keeps its connection alive

    # the witness drops the idle connection; the next checkpoint still goes through, on a new one
    assert select.select([kept], [], [], 10)[0] and kept.recv(1, socket.MSG_PEEK) == b""
    records.add_checkpoint({"_id": 20, "size": 20, "origin": ORIGIN, "note": note(20), "cosignatures": []})
    assert len(cosigning.cosign_latest()) == 1
    cosigning.stop()


def test_the_relay_s_side_keeps_no_line_that_is_not_the_witness_s(witness):
    server, cosigner, _ = witness
    records = MemoryCommitLog()
    records.add_checkpoint({"_id": 5, "size": 5, "origin": ORIGIN, "note": note(5), "cosignatures": []})
    impostor = Cosigner.generate(cosigner.name)  # the witness's name, another key
    cosigning = Cosigning(
        records, [WitnessEndpoint(f"http://127.0.0.1:{server.port}/w", impostor.verifier)], 5, lambda c, o: []
    )
    assert cosigning.cosign_latest() == [] and records.latest_checkpoint()["cosignatures"] == []
    cosigning.stop()
