"""Appeals against a published result (services/ranking/appeals.py): filed for an entry of the
published standings, decided once; repeats answer with the record and change nothing."""

from types import SimpleNamespace

import pytest

from leitai.errors import Conflict, NotFound, RuleViolated
from services.ranking import appeals

ROWS = [
    {"entry_id": "e1", "contestant_id": "c1", "name": "石鹏"},
    {"entry_id": "e2", "contestant_id": "c2", "name": "谭飞"},
]


def state_after(*decisions) -> appeals.Appeals:
    state = appeals.Appeals()
    for version, decision in enumerate(decisions, start=1):
        state.apply(SimpleNamespace(type=decision.type, payload=decision.payload, stream_version=version))
    return state


def test_an_appeal_is_filed_for_an_entry_of_the_published_standings_and_decided_once():
    filed, events = appeals.file(appeals.Appeals(), ROWS, "c", "semi", "a1", "e2", "第三位评委分数录入有误", "org-1")
    assert [e.type for e in events] == ["AppealFiled"] and filed["status"] == "filed"
    assert events[0].payload["contestant_id"] == "c2" and events[0].payload["name"] == "谭飞"
    state = state_after(*events)
    decided, events = appeals.decide(state, "a1", "upheld", "复核属实", "inspector-1")
    assert decided["decision"] == "upheld" and [e.type for e in events] == ["AppealDecided"]
    state = state_after(
        *appeals.file(appeals.Appeals(), ROWS, "c", "semi", "a1", "e2", "第三位评委分数录入有误", "org-1")[1], *events
    )
    assert appeals.decide(state, "a1", "upheld", "again", "inspector-1")[1] == []  # the same decision: nothing new
    with pytest.raises(Conflict, match="upheld already"):
        appeals.decide(state, "a1", "dismissed", "changed my mind", "inspector-1")
    assert appeals.file(state, ROWS, "c", "semi", "a1", "e2", "第三位评委分数录入有误", "org-1")[1] == []
    with pytest.raises(Conflict):
        appeals.file(state, ROWS, "c", "semi", "a1", "e1", "another", "org-1")


def test_an_unpublished_stage_an_unknown_entry_or_appeal_is_refused():
    with pytest.raises(RuleViolated, match="not published"):
        appeals.file(appeals.Appeals(), None, "c", "semi", "a1", "e1", "reason", "org-1")
    with pytest.raises(NotFound, match="not in the published standings"):
        appeals.file(appeals.Appeals(), ROWS, "c", "semi", "a1", "e9", "reason", "org-1")
    with pytest.raises(NotFound, match="no appeal"):
        appeals.decide(appeals.Appeals(), "a9", "dismissed", "reason", "org-1")
