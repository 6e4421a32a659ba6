"""The checkpoint monitor (composition/monitor.py) over logs made here: it accepts a growing
log, keeps the last checkpoint, and refuses a log rewritten after it kept one, whether the
rewrite shows in a new checkpoint or only in the one it kept."""

import hashlib

import pytest

from composition.monitor import State, watch
from leitai.eventstore.merkle import Tree
from leitai.eventstore.notes import Checkpoint, Signer

SIGNER = Signer.generate("leitai.test")
ORIGIN = "leitai.test/scoring"


def served_log(history: str, sizes: list[int]) -> list[dict]:
    """Signed checkpoints of a log whose leaves are drawn from ``history``, as the API serves them."""
    tree = Tree([hashlib.sha256(f"{history}-{n}".encode()).digest() for n in range(max(sizes, default=0))])
    chain = []
    for size in sizes:
        served = {
            "size": size,
            "root": tree.root(size).hex(),
            "note": SIGNER.sign(Checkpoint(ORIGIN, size, tree.root(size)).body()),
        }
        if chain:
            served["consistency"] = {
                "from": chain[-1]["size"],
                "proof": [h.hex() for h in tree.consistency_proof(chain[-1]["size"], size)],
            }
        chain.append(served)
    return chain


def fetching(chain: list[dict]):
    return lambda log, after: [c for c in chain if c["size"] > after]


def test_a_growing_log_is_accepted_and_its_last_checkpoint_kept():
    state = State()
    report = watch(fetching(served_log("a", [2, 5])), [SIGNER.verifier], ["scoring"], state)
    assert report.ok and state.logs["scoring"]["size"] == 5
    report = watch(fetching(served_log("a", [2, 5, 9, 16])), [SIGNER.verifier], ["scoring"], state)
    assert report.ok and state.logs["scoring"]["size"] == 16 and "2 new checkpoint(s)" in report.lines[0]


@pytest.mark.parametrize(
    "later, reason",
    [
        ([2, 5, 9], "served with another root"),  # the kept checkpoint itself changed
        ([2, 9], "no longer served"),  # the kept checkpoint is gone
        ([], "no longer served"),
    ],
)
def test_a_log_rewritten_after_a_checkpoint_was_kept_is_refused_and_the_kept_one_stays(later, reason):
    state = State()
    assert watch(fetching(served_log("a", [2, 5])), [SIGNER.verifier], ["scoring"], state).ok
    kept = dict(state.logs["scoring"])
    report = watch(fetching(served_log("b", later)), [SIGNER.verifier], ["scoring"], state)
    assert not report.ok and reason in report.problems[0] and "REFUSED" in report.lines[0]
    assert state.logs["scoring"] == kept


def test_a_new_checkpoint_not_consistent_with_the_kept_one_is_refused():
    state = State()
    assert watch(fetching(served_log("a", [2, 5])), [SIGNER.verifier], ["scoring"], state).ok
    forked = served_log("a", [2, 5]) + served_log("b", [2, 5, 9])[2:]  # proves from 5, but of another history
    report = watch(fetching(forked), [SIGNER.verifier], ["scoring"], state)
    assert not report.ok and "not consistent with checkpoint 5 kept" in report.problems[0]


def test_a_checkpoint_signed_by_another_key_is_refused():
    report = watch(fetching(served_log("a", [2])), [Signer.generate("leitai.test").verifier], ["scoring"], State())
    assert not report.ok and "no signature of" in report.problems[0]


def test_a_state_file_that_is_not_one_is_named(tmp_path):
    (tmp_path / "state.json").write_text('{"scoring": 3}')
    with pytest.raises(ValueError, match="not a checkpoint monitor's state"):
        State.load(tmp_path / "state.json")


@pytest.mark.parametrize(
    "served",
    [
        pytest.param(lambda log, after: [{"size": "3", "root": "", "note": ""}], id="a size that is text"),
        pytest.param(lambda log, after: [[1, 2, 3]], id="a list for a checkpoint"),
        pytest.param(lambda log, after: [dict(c) for c in served_log("a", [1] * 1000)], id="pages that never move on"),
    ],
)
def test_a_hostile_server_is_refused_in_a_line_never_followed_forever(served):
    """What a server sends is the monitor's input, not its word: malformed checkpoints are a
    refusal, and pages of checkpoints no newer than the last are not fetched again and again."""
    report = watch(served, [SIGNER.verifier], ["scoring"], State())
    assert not report.ok and len(report.lines) == 1 and report.lines[0].startswith("scoring: "), report.lines


def test_an_origin_other_than_the_keys_name_and_the_log_is_refused():
    """The rule the verifier applies too (docs/audit.md, checkpoint rules): the log "scoring"
    signed by "leitai.test" is "leitai.test/scoring", not a look-alike."""
    look_alike = [dict(c, note=c["note"]) for c in served_log("a", [1, 2])]
    other = Checkpoint("leitai.test/scoring\u200b", 1, bytes.fromhex(look_alike[0]["root"]))
    look_alike[0]["note"] = SIGNER.sign(other.body())
    report = watch(fetching(look_alike), [SIGNER.verifier], ["scoring"], State())
    assert not report.ok and "names the origin" in report.lines[0], report.lines
