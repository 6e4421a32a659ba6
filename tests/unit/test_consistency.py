"""The tokens of read-your-writes (leitai/consistency.py): what a write names, and what is refused."""

import base64
import json

import pytest

from leitai import consistency
from leitai.consistency import Written


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
