"""The witness's state: the last checkpoint cosigned per log, replaced whole and atomically,
checked and advanced under one lock so that racing submissions never roll it back."""

import json
import threading

import pytest

from leitai.witness.state import Cosigned, State, StateError


def kept(size: int) -> Cosigned:
    return Cosigned(size, size.to_bytes(32, "big"), f"note of {size}\n")


def test_an_advance_is_written_before_it_returns_and_read_back_by_another_state(tmp_path):
    state = State(tmp_path / "witness.json")
    assert state.latest("log/a") is None
    state.advance("log/a", lambda latest: kept(5))
    assert State(tmp_path / "witness.json").latest("log/a") == kept(5)
    assert (tmp_path / "witness.json").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["witness.json", "witness.json.lock"]  # no temporary left


def test_a_refused_decision_changes_nothing(tmp_path):
    state = State(tmp_path / "witness.json")
    state.advance("log/a", lambda latest: kept(5))
    before = (tmp_path / "witness.json").read_bytes()

    def refuse(latest):
        raise ValueError("no")

    with pytest.raises(ValueError):
        state.advance("log/a", refuse)
    assert (tmp_path / "witness.json").read_bytes() == before


def test_racing_submissions_never_roll_the_state_back(tmp_path):
    # each thread submits "from the size I saw" as a client does; a check that read the size
    # before another's update and wrote after it would move the state backwards
    states = [State(tmp_path / "witness.json") for _ in range(2)]  # two instances: the file lock too
    cosigned: list[int] = []  # appended under the state's lock, so in the order written

    def submit(size: int, state: State) -> None:
        def decide(latest):
            if size <= (latest.size if latest else 0):
                raise ValueError("stale")
            cosigned.append(size)
            return kept(size)

        try:
            state.advance("log/a", decide)
        except ValueError:
            pass

    threads = [threading.Thread(target=submit, args=(size, states[size % 2])) for size in range(1, 41)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cosigned == sorted(set(cosigned)) and cosigned[-1] == 40
    assert State(tmp_path / "witness.json").latest("log/a") == kept(40)


@pytest.mark.parametrize(
    "text",
    ["not json", json.dumps({"format": "other", "logs": {}}), json.dumps({"format": "leitai-witness-state/1"})],
)
def test_a_file_that_is_no_witness_state_is_refused_at_once_naming_it(tmp_path, text):
    (tmp_path / "witness.json").write_text(text)
    with pytest.raises(StateError, match="witness.json: not a witness's state"):
        State(tmp_path / "witness.json")
