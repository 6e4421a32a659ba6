"""The tokens of read-your-writes (leitai/consistency.py): what a write names, and what is refused."""

import base64
import json

import pytest

from leitai import consistency
from leitai.consistency import Written
from leitai.errors import InvalidInput


def test_a_token_names_its_commit_and_counts_the_events_a_reader_consumes():
    lock = Written.of("session:s1", 41, ["EntryScored"] * 15 + ["ToleranceFlagRaised", "SessionLocked"])
    assert lock.runs == (("EntryScored", 15), ("ToleranceFlagRaised", 1), ("SessionLocked", 1))
    assert lock.last_version == 57
    assert lock.count_of({"EntryScored", "SessionLocked"}) == 16 and lock.count_of({"ContestCreated"}) == 0
    assert Written.decode(lock.encode()) == lock
    assert len(lock.encode()) < 120  # a header, however many events the commit holds


def test_several_writes_travel_in_one_header_as_their_tokens_joined():
    a, b = Written.of("contest:x", 1, ["ContestCreated"]), Written.of("contest:x", 2, ["StageDefined"])
    assert consistency.parse(f"{a.encode()}, {b.encode()}") == [a, b]


def forged(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "header",
    [
        "",
        " , ",
        "not a token",
        "%%%",
        "a" * 2000,
        forged({"stream": "x"}),
        forged(["x", 0, [["T", 1]]]),
        forged(["x", 1, []]),
        forged(["", 1, [["T", 1]]]),
        forged(["x", True, [["T", 1]]]),
        forged(["x", 1, [["T", -1]]]),
        forged(["x", 1, [[1, 1]]]),
        ",".join([Written.of("s", 1, ["T"]).encode()] * 17),
    ],
)
def test_anything_but_tokens_the_api_issued_is_refused_with_a_reason(header):
    with pytest.raises(ValueError):
        consistency.parse(header)


def test_a_worker_notes_what_it_wrote_and_the_note_is_taken_once():
    consistency.note("t1")
    consistency.note("t2")
    assert consistency.taken() == ["t1", "t2"]
    assert consistency.taken() == []


# -- sealed tokens: only what the gateway handed out is waited for --------------------------
KEY = b"k" * 32
NOW = 1_700_000_000
LOCK = Written.of("session:s1", 41, ["EntryScored", "SessionLocked"]).encode()


def test_a_sealed_token_opens_to_the_token_it_carries_until_it_expires():
    seal = consistency.Seal(KEY)
    sealed = seal.seal(LOCK, NOW + 900)
    assert sealed.startswith(f"{LOCK}.{NOW + 900}.") and len(sealed) < len(LOCK) + 60
    assert seal.open(sealed, NOW) == LOCK
    assert seal.open(sealed, NOW + 899.9) == LOCK
    assert seal.open(sealed, NOW + 900) is None  # expired: authentic, no longer waited for
    other = Written.of("contest:c", 3, ["StageDefined"]).encode()
    header = f"{sealed}, {seal.seal(other, NOW + 10)}"
    assert seal.after(header, NOW) == f"{LOCK}, {other}"
    assert consistency.parse(seal.after(header, NOW)) == [Written.decode(LOCK), Written.decode(other)]
    assert seal.after(header, NOW + 10) == LOCK  # the expired one is left out
    assert seal.after(header, NOW + 900) is None  # nothing left to wait for


def _tampered(sealed: str) -> list[str]:
    token, expires, mac = sealed.split(".")
    flipped = "A" if mac[0] != "A" else "B"
    forged_write = Written.of("session:s1", 41, ["EntryScored", "SessionLocked", "SessionLocked"]).encode()
    return [
        f"{token}.{expires}.{flipped}{mac[1:]}",  # the MAC altered
        f"{token}.{int(expires) + 3600}.{mac}",  # the expiry moved
        f"{forged_write}.{expires}.{mac}",  # another write under this MAC
        f"{token[:-1]}.{expires}.{mac}",  # the token truncated
        f"{token}.{expires}.{mac[:-1]}",  # the MAC truncated
        f"{token}.{expires}",  # no MAC
        token,  # the bare token, as before tokens were sealed
        f"{token}..{mac}",
        f"{token}.{expires}.{mac}.",
        f" {token}.{expires}.{mac}x",
    ]


def test_a_token_altered_truncated_or_unsealed_is_refused_and_never_opened():
    seal = consistency.Seal(KEY)
    for bad in _tampered(seal.seal(LOCK, NOW + 900)):
        with pytest.raises(ValueError, match="not a token this API issued"):
            seal.open(bad, NOW)


def test_a_token_sealed_with_another_key_is_refused_even_when_expired():
    sealed = consistency.Seal(b"another deployment's key 0123456").seal(LOCK, NOW + 900)
    for now in (NOW, NOW + 10_000):
        with pytest.raises(ValueError, match="another deployment's key"):
            consistency.Seal(KEY).open(sealed, now)


@pytest.mark.parametrize(
    "header",
    [
        "",
        " , ",
        "not a token",
        forged(["x", 1, [["ContestantAdvanced", 1]]]),  # a well-formed write, unsealed: what a forger sends
        ",".join([consistency.Seal(KEY).seal(LOCK, NOW + 900)] * 17),
        f"{consistency.Seal(KEY).seal(LOCK, NOW + 900)}, {LOCK}",  # one good, one not: the whole header is refused
    ],
)
def test_a_leitai_after_header_with_anything_but_sealed_tokens_is_invalid_input_naming_it(header):
    with pytest.raises(InvalidInput) as refused:
        consistency.Seal(KEY).after(header, NOW)
    assert consistency.AFTER_HEADER in refused.value.details


def test_a_short_key_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        consistency.Seal(b"short")
