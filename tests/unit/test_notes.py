"""Signed notes and checkpoints (C2SP signed-note, tlog-checkpoint): keys survive being written
and read back whatever bytes they hold, a signature verifies only over the text it signed, and
malformed input is a NoteError that says what is wrong."""

import hashlib

import pytest

from leitai.eventstore.notes import Checkpoint, NoteError, Signer, Verifier


def test_keys_round_trip_through_their_text_form(tmp_path):
    # base64 of a key holds '+' about one time in two: the text form must still read back
    for _ in range(40):
        signer = Signer.generate("leitai.test")
        again = Signer.decode(signer.encoded())
        assert again.public == signer.public and again.key_id == signer.key_id
        assert Verifier.decode(signer.verifier.encoded()) == signer.verifier
    path = tmp_path / "signing.key"
    signer.write(path)
    assert Signer.from_file(path).public == signer.public
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(FileExistsError):
        Signer.generate("other").write(path)


def test_a_signed_checkpoint_opens_with_its_key_and_no_other():
    signer = Signer.generate("leitai.test")
    body = Checkpoint("leitai.test/scoring", 12, hashlib.sha256(b"x").digest()).body()
    note = signer.sign(body)
    assert signer.verifier.open(note) == body
    assert Checkpoint.parse(body) == Checkpoint("leitai.test/scoring", 12, hashlib.sha256(b"x").digest())
    with pytest.raises(NoteError, match="no signature of"):
        Signer.generate("leitai.test").verifier.open(note)
    with pytest.raises(NoteError, match="does not verify"):
        signer.verifier.open(note.replace("\n12\n", "\n13\n"))


def test_the_private_key_never_shows_in_its_repr():
    signer = Signer.generate("leitai.test")
    secret = signer.encoded().split("+", 4)[4]  # as decode() splits it: the base64 may hold "+"
    assert secret and secret not in repr(signer)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("PRIVATE+KEY+x", "reads PRIVATE"),
        ("PRIVATE+KEY+x+00000000+!!!", "not base64"),
    ],
)
def test_malformed_signing_keys_are_refused_with_a_reason(text, reason):
    with pytest.raises(NoteError, match=reason):
        Signer.decode(text)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("origin\n12\n", "at least three lines"),
        ("\n12\nAAAA\n", "origin line is empty"),
        ("o\n012\n" + "A" * 43 + "=\n", "not a decimal"),
        ("o\n\u00b2\n" + "A" * 43 + "=\n", "not a decimal"),
        ("o\n12\nAAAA\n", "not 32 bytes"),
        ("o\n12\n***\n", "not base64"),
    ],
)
def test_malformed_checkpoints_are_refused_with_a_reason(text, reason):
    with pytest.raises(NoteError, match=reason):
        Checkpoint.parse(text)


def test_malformed_notes_are_refused_with_a_reason():
    verifier = Signer.generate("k").verifier
    with pytest.raises(NoteError, match="not a signed note"):
        verifier.open("o\n1\nAAAA\n")
    with pytest.raises(NoteError, match="malformed signature line"):
        verifier.open("o\n1\nAAAA\n\nnot a signature\n")
