"""Contact data lives in the personal-data vault, never in an event (docs/privacy.md): what
registration keeps there, who sees it, and how notify reaches people through it and stops
reaching them once it is erased. Against the in-memory system."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from leitai.contracts import Event
from leitai.errors import InvalidInput
from services.gateway import schemas
from services.notify import application as notify
from tests.unit.test_service_layer import ORG, body, registered

CONTACT = {"email": "pingwei@example.cn", "phone": "13912345678"}


def with_judge_in_contact():
    system = registered()
    judge = body(schemas.JudgeCreate, {"judge_id": "J9", "name": "评委九", **CONTACT})
    system.registration.register_judge(ORG, "c", judge)
    return system


def test_a_judges_contact_goes_to_the_vault_and_never_into_the_log():
    system = with_judge_in_contact()
    [registered_event] = [e for e in system.events("registration", "contest-c") if e.type == "JudgeRegistered"][-1:]
    assert registered_event.payload["judge_id"] == "J9"
    assert not set(registered_event.payload) & {"email", "phone"}
    kept = system.personal.contact("c", "judge-J9")
    assert kept is not None
    assert {k: kept[k] for k in ("office", "name", "email", "phone")} == {"office": "cty", "name": "评委九", **CONTACT}


def test_only_the_contests_organisers_see_a_contact_and_the_public_sees_none():
    system = with_judge_in_contact()
    full = system.registration.contest_view(ORG, "c")
    [judge] = [j for j in full["judges"] if j["judge_id"] == "J9"]
    assert {k: judge[k] for k in CONTACT} == CONTACT
    public = system.registration.contest_view({"role": "screen", "id": "s", "contest": "c"}, "c")
    assert "13912345678" not in repr(public) and "pingwei@" not in repr(public)


def test_a_contact_that_cannot_be_used_is_refused_and_nothing_is_registered():
    system = registered()
    before = len(system.events("registration", "contest-c"))
    with pytest.raises(InvalidInput, match="contact data not valid: email"):
        system.registration.register_judge(ORG, "c", {"judge_id": "J9", "name": "评委九", "email": "not-an-address"})
    assert len(system.events("registration", "contest-c")) == before
    assert system.personal.contact("c", "judge-J9") is None


def test_notify_takes_the_address_from_the_vault_and_once_erased_says_why_it_cannot_send():
    system = registered()
    entry = {"entry_id": "e9", "contestant_id": "p9", "name": "书记九", "title": "汇报", "village_code": "t1-1"}
    system.registration.submit_entries(ORG, "c", [body(schemas.EntryCreate, dict(entry, **CONTACT))])
    system.deliver()
    told = {d["channel"]: d for d in system.notify.deliveries(ORG, "c", recipient_id="contestant-p9")}
    assert (told["email"]["address"], told["sms"]["address"]) == (CONTACT["email"], CONTACT["phone"])

    erased_at = datetime(2026, 12, 1, tzinfo=UTC)
    system.personal.records["c:contestant-p9"] = {
        "contest_id": "c",
        "office": "cty",
        "person": "contestant-p9",
        "erased": {"at": erased_at, "by": "org1", "reason": "本人申请"},
    }
    erasure = Event(
        event_id=uuid.uuid4(),
        stream_id="privacy-c",
        stream_version=1,
        type="PersonalDataErased",
        schema_version=1,
        occurred_at=erased_at,
        position=None,
        correlation_id="x",
        causation_id=None,
        actor="org1",
        payload={
            "contest_id": "c",
            "person": "contestant-p9",
            "office": "cty",
            "erased_by": "org1",
            "reason": "本人申请",
        },
    )
    notify.EVENT_HANDLERS.handle(system.notify, [erasure])
    for delivery in system.notify.deliveries(ORG, "c", recipient_id="contestant-p9"):
        assert delivery["channel"] == "inbox" or delivery["address"] == ""

    assert {d["status"] for d in system.notify.deliveries(ORG, "c", recipient_id="contestant-p9")} <= {
        "sent",
        "pending",
        "undeliverable",
    }


def test_a_person_erased_stays_erased_and_a_notice_to_them_says_why_it_is_not_sent():
    system = registered()
    system.personal.records["c:contestant-p8"] = {
        "contest_id": "c",
        "office": "cty",
        "person": "contestant-p8",
        "erased": {"at": datetime(2026, 12, 1, tzinfo=UTC), "by": "org1", "reason": "本人申请"},
    }
    entry = {"entry_id": "e8", "contestant_id": "p8", "name": "书记八", "title": "汇报", "village_code": "t1-1"}
    system.registration.submit_entries(ORG, "c", [body(schemas.EntryCreate, dict(entry, **CONTACT))])
    system.deliver()
    assert "email" not in system.personal.contact("c", "contestant-p8")
    told = {d["channel"]: d for d in system.notify.deliveries(ORG, "c", recipient_id="contestant-p8")}
    for channel in ("email", "sms"):
        assert told[channel]["status"] == "undeliverable" and told[channel]["address"] == ""
        assert told[channel]["last_error"] == "contact data erased on request or by retention (2026-12-01): not sent"
    assert told["inbox"]["status"] == "pending"
