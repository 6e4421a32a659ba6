import uuid
from datetime import UTC, datetime, timezone
from decimal import Decimal

import pytest

from leitai.contracts import Event, InvalidPayload, MalformedEnvelope, UnknownEventType, format_timestamp
from testkit.ledger import REGISTRY


def wire(**overrides):
    data = {
        "event_id": str(uuid.uuid4()),
        "stream_id": "account-1",
        "stream_version": 1,
        "type": "DepositMade",
        "schema_version": 2,
        "occurred_at": "2026-11-30T10:00:00.000000Z",
        "position": 7,
        "correlation_id": "c-1",
        "causation_id": None,
        "actor": "teller",
        "payload": {"account": "A-1", "amount": "12.50", "memo": ""},
    }
    data.update(overrides)
    return data


def test_a_valid_envelope_parses_to_typed_values_and_back_unchanged():
    data = wire()
    event = Event.from_wire(data, REGISTRY)
    assert event.payload["amount"] == Decimal("12.50")
    assert event.occurred_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert event.to_wire(REGISTRY) == data


def test_an_old_schema_version_is_upcast_on_read():
    event = Event.from_wire(wire(schema_version=1, payload={"account": "A-1", "cents": 1250}), REGISTRY)
    assert event.schema_version == 2
    assert event.payload == {"account": "A-1", "amount": Decimal("12.50"), "memo": ""}


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"account": "A-1"}, "amount"),
        ({"account": "A-1", "amount": "-1"}, "amount"),
        ({"account": "", "amount": "1"}, "account"),
        ({"account": "A-1", "amount": "1", "extra": {"$gt": ""}}, "extra"),
    ],
)
def test_a_payload_that_fails_its_schema_is_rejected_naming_the_field(payload, field):
    with pytest.raises(InvalidPayload) as error:
        Event.from_wire(wire(payload=payload), REGISTRY)
    assert field in error.value.messages


def test_an_unknown_type_is_rejected():
    with pytest.raises(UnknownEventType):
        Event.from_wire(wire(type="MoneyPrinted"), REGISTRY)


@pytest.mark.parametrize(
    "broken",
    [
        "not an object",
        wire(event_id="not-a-uuid"),
        wire(stream_version=0),
        wire(occurred_at="2026-11-30T10:00:00"),  # no offset
        wire(schema_version=3),
    ],
)
def test_a_malformed_envelope_is_rejected(broken):
    with pytest.raises((MalformedEnvelope, InvalidPayload)):
        Event.from_wire(broken, REGISTRY)


def test_timestamps_have_one_spelling_whatever_the_offset():
    from datetime import timedelta

    beijing = timezone(timedelta(hours=8))
    assert format_timestamp(datetime(2026, 11, 30, 18, 0, tzinfo=beijing)) == "2026-11-30T10:00:00.000000Z"
    with pytest.raises(ValueError):
        format_timestamp(datetime(2026, 11, 30, 18, 0))


def test_contact_fields_accept_none_given_but_not_a_bad_address():
    from marshmallow import ValidationError

    from leitai.contracts.registration import Contact

    assert Contact().load({})["email"] == ""
    assert Contact().load({"email": "pingwei@example.cn"})["email"] == "pingwei@example.cn"
    for bad in ({"email": "not-an-address"}, {"phone": "call me"}):
        with pytest.raises(ValidationError):
            Contact().load(bad)


def test_no_event_carries_contact_data_and_one_written_before_the_vault_hands_none_on():
    """Contact data lives in the vault (leitai/privacy.py): an event that carries some is
    refused, and a v1 event that did is read without it (docs/privacy.md)."""
    from leitai.contracts.product import REGISTRY as PRODUCT

    judge = {"contest_id": "c", "judge_id": "j", "name": "评委"}
    entry = {
        "contest_id": "c",
        "entry_id": "e",
        "contestant_id": "p",
        "name": "选手",
        "village_code": "v",
        "township_code": "t",
        "title": "题目",
        "stage_id": "s",
    }
    contest = {"contest_id": "c", "name": "比武", "tree_id": "t", "county_code": "k", "format": "knockout"}
    office = {"name": "县委组织部", "email": "zzb@example.cn", "phone": "13800000000"}
    contact = {"email": "pingwei@example.cn", "phone": "13912345678"}
    for kind, payload, v1 in (
        ("JudgeRegistered", judge, dict(judge, **contact)),
        ("EntrySubmitted", entry, dict(entry, **contact)),
        ("ContestCreated", dict(contest, organiser={"name": "县委组织部"}), dict(contest, organiser=office)),
    ):
        contract = PRODUCT.get(kind)
        assert contract.version == 2
        with pytest.raises(InvalidPayload):
            contract.load(v1)
        assert contract.load(v1, version=1) == contract.load(payload)
