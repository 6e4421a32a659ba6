"""Cosignatures (C2SP tlog-cosignature, Ed25519 cosignature/v1): the bytes are the spec's,
checked against a vector worked out from the spec's text with nothing but hashlib and the
Ed25519 primitive, and a cosignature verifies only over the checkpoint it signed."""

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from leitai.eventstore.notes import NoteError, Signer, Verifier
from leitai.witness.cosignature import CosignatureVerifier, Cosigner

NAME = "witness.example/w1"
SEED = bytes(range(32))
# the spec's example checkpoint and timestamp (tlog-cosignature.md, "Ed25519 signed message")
BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
TIME = 1679315147
# worked out once from the spec's format (below, by hand) and pinned: Ed25519 is deterministic
LINE = (
    "— witness.example/w1 519lMgAAAABkGFDLBuRDazBLVac2NE+Y+IjbjQOcXLfF9CSDZVUIoS83rE1nFZsVE8YiWV6Ngr7lV8H6bdoBQGP/"
    "l73euDMQ9k+bBQ=="
)
VKEY = "witness.example/w1+e75f6532+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"


def test_the_cosignature_is_the_spec_s_bytes():
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(NAME.encode() + b"\n" + b"\x04" + public).digest()[:4]
    signed = (
        b"cosignature/v1\ntime 1679315147\n"
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    blob = key_id + TIME.to_bytes(8, "big") + private.sign(signed)
    assert f"— {NAME} {base64.b64encode(blob).decode()}" == LINE
    vkey_key = base64.b64encode(b"\x04" + public).decode()
    assert f"{NAME}+{key_id.hex()}+{vkey_key}" == VKEY

    cosigner = Cosigner(NAME, SEED)
    assert cosigner.cosign(BODY, TIME) == LINE
    assert cosigner.verifier.encoded() == VKEY
    assert base64.b64decode(LINE.split()[-1])[4:12] == bytes.fromhex("00000000641850cb")


def test_a_cosignature_verifies_over_its_checkpoint_only():
    witness = CosignatureVerifier.decode(VKEY)
    assert witness.verify(LINE, BODY) == TIME
    with pytest.raises(NoteError, match="does not verify"):
        witness.verify(LINE, BODY.replace("20852163", "20852164"))
    with pytest.raises(NoteError, match="not a cosignature of"):
        Cosigner.generate(NAME).verifier.verify(LINE, BODY)  # same name, another key


def test_a_note_key_and_a_cosignature_key_are_never_taken_for_each_other():
    # the same name and key bytes under 0x01 and 0x04 have different ids, and neither text form
    # reads as the other: a log's key cannot be given where a witness's is meant
    note_key = Signer(NAME, SEED)
    assert note_key.key_id != Cosigner(NAME, SEED).key_id
    with pytest.raises(NoteError, match="not an Ed25519 witness verifier key"):
        CosignatureVerifier.decode(note_key.verifier.encoded())
    with pytest.raises(NoteError, match="not an Ed25519 verifier key"):
        Verifier.decode(VKEY)
    with pytest.raises(NoteError, match="not an Ed25519 witness key"):
        Cosigner.decode(note_key.encoded())
    # and a signed note's signature line is no cosignature
    with pytest.raises(NoteError):
        CosignatureVerifier(NAME, note_key.public).verify(note_key.sign(BODY).splitlines()[-1], BODY)


def test_witness_keys_round_trip_and_are_written_once(tmp_path):
    for _ in range(20):  # base64 holding '+' must still read back
        cosigner = Cosigner.generate("witness.jijian.boai.gov.cn")
        assert Cosigner.decode(cosigner.encoded()).public == cosigner.public
        assert CosignatureVerifier.decode(cosigner.verifier.encoded()) == cosigner.verifier
    path = tmp_path / "witness.key"
    cosigner.write(path)
    assert path.stat().st_mode & 0o077 == 0
    assert Cosigner.from_file(path).verifier == cosigner.verifier
    with pytest.raises(FileExistsError):
        Cosigner.generate("other").write(path)
    assert cosigner.encoded().split("+", 4)[4] not in repr(cosigner)


@pytest.mark.parametrize("timestamp", [-1, 2**63])
def test_a_timestamp_out_of_the_spec_s_range_is_refused(timestamp):
    with pytest.raises(NoteError, match="out of range"):
        Cosigner(NAME, SEED).cosign(BODY, timestamp)


def test_the_auditors_verifier_reads_the_same_bytes():
    """tools/verify_bundle.py shares no code with leitai: its own cosignature check must accept
    the pinned vector, and only over its checkpoint, and only by that witness's key."""
    from tests.support.forgery import verifier

    witness = verifier.Key(VKEY, kind=4)
    lines = [verifier.signature_line(LINE)]
    assert witness.cosigned(BODY, lines)
    assert not witness.cosigned(BODY.replace("20852163", "20852164"), lines)
    with pytest.raises(verifier.Malformed):
        verifier.Key(VKEY)  # a witness key is no log key
