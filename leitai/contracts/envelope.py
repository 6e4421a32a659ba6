"""The event envelope every stored and published event carries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from leitai.contracts.registry import ContractError, ContractRegistry


class MalformedEnvelope(ContractError):
    def __init__(self, messages: Any) -> None:
        super().__init__(f"malformed event envelope: {messages}")
        self.messages = messages


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """One spelling of a UTC instant, so hashes and replays are byte-identical."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _UtcTimestamp(fields.Field[datetime]):
    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_timestamp(value)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Not a valid datetime.")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError("Not a valid datetime.") from exc
        if moment.tzinfo is None:
            raise ValidationError("Timestamp must carry a UTC offset.")
        return moment.astimezone(UTC)


class EnvelopeSchema(Schema):
    """Wire form: what the relay publishes and what consumers receive."""

    event_id = fields.UUID(required=True)
    stream_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    stream_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    schema_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = _UtcTimestamp(required=True)
    position = fields.Integer(required=True, strict=True, allow_none=True, validate=validate.Range(min=1))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    causation_id = fields.String(required=True, allow_none=True, validate=validate.Length(max=200))
    actor = fields.String(required=True, validate=validate.Length(min=1, max=200))
    payload = fields.Dict(required=True)


_ENVELOPE = EnvelopeSchema()


@dataclass(frozen=True)
class NewEvent:
    """What a producer hands to the store: the store assigns versions and positions."""

    type: str
    payload: dict[str, Any]
    actor: str
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    correlation_id: str | None = None
    causation_id: str | None = None
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class Event:
    event_id: uuid.UUID
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    occurred_at: datetime
    position: int | None
    correlation_id: str
    causation_id: str | None
    actor: str
    payload: dict[str, Any]  # validated, Python-typed (Decimal, datetime ...) at the current schema version

    def to_wire(self, registry: ContractRegistry) -> dict[str, Any]:
        contract = registry.get(self.type)
        data: dict[str, Any] = _ENVELOPE.dump(replace(self, payload={}))
        data["payload"] = contract.schema.dump(self.payload)
        data["schema_version"] = contract.version
        return data

    @classmethod
    def from_wire(cls, data: Any, registry: ContractRegistry) -> Event:
        """Parse and validate an envelope, upcasting its payload to the current version."""
        if not isinstance(data, dict):
            raise MalformedEnvelope("envelope must be a JSON object")
        try:
            fields_ = _ENVELOPE.load(data)
        except ValidationError as exc:
            raise MalformedEnvelope(exc.messages) from exc
        contract = registry.get(fields_["type"])
        fields_["payload"] = contract.load(fields_["payload"], fields_["schema_version"])
        fields_["schema_version"] = contract.version
        return cls(**fields_)
