"""Settings, read only from nameko config / the environment, validated at start-up."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping, Sequence

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from leitai.messaging.topology import RetryPolicy


class ConfigurationError(Exception):
    """A setting is missing or malformed; the message names it."""


class _RetrySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    attempts = fields.Integer(load_default=8, validate=validate.Range(min=1, max=20))
    base_delay = fields.Decimal(load_default=Decimal("1"), validate=validate.Range(min=Decimal("0.01"), max=3600))
    factor = fields.Integer(load_default=2, validate=validate.Range(min=1, max=10))

    @post_load
    def _policy(self, data, **kwargs):
        return RetryPolicy(**data)


class _SettingsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    AMQP_URI = fields.String(required=True, validate=validate.Regexp(
        r"^(amqps?|pyamqp|memory)://", error="must be an amqp:// (or memory://) URL"))
    MONGO_URL = fields.String(required=True, validate=validate.Regexp(
        r"^mongodb(\+srv)?://\S+$", error="must be a mongodb:// URL"))
    MONGO_DATABASE = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_-]{1,63}$", error="must be 1-63 letters, digits, '_' or '-'"))
    LEITAI_RETRY = fields.Nested(_RetrySchema, load_default=lambda: RetryPolicy())
    # source service -> its database, for rebuilding a read model from the source logs
    LEITAI_SOURCES = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Regexp(
        r"^[A-Za-z0-9_-]{1,63}$", error="must be a database name")), load_default=dict)


@dataclass(frozen=True)
class Settings:
    AMQP_URI: str = ""
    MONGO_URL: str = ""
    MONGO_DATABASE: str = ""
    LEITAI_RETRY: RetryPolicy = RetryPolicy()
    LEITAI_SOURCES: dict = field(default_factory=dict)


def load_settings(config: Mapping, only: Sequence[str] | None = None) -> Settings:
    """Validate the named settings (all by default) out of a nameko config mapping."""
    try:
        values = _SettingsSchema(only=only).load(dict(config))
    except ValidationError as exc:
        problems = "; ".join(f"{key}: {' '.join(map(str, _flatten(msg)))}" for key, msg in sorted(exc.messages.items()))
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    return Settings(**values)


def _flatten(messages) -> list:
    if isinstance(messages, dict):
        return [f"{k}: {' '.join(map(str, _flatten(v)))}" for k, v in messages.items()]
    return list(messages) if isinstance(messages, list) else [messages]
