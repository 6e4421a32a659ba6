"""Notify's one settings schema: the settings every service shares (leitai/config.py,
SERVICE_KEYS) and LEITAI_NOTIFY, validated at start-up, its errors naming the key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from leitai.config import ConfigurationError, Settings, service_settings
from services.notify.messages import CHANNELS


class _Smtp(Schema):
    host = fields.String(required=True)
    port = fields.Integer(load_default=25, validate=validate.Range(min=1, max=65535))
    sender = fields.String(load_default="leitai@localhost")
    starttls = fields.Boolean(load_default=False)
    user = fields.String(load_default="")
    password = fields.String(load_default="")

    @pre_load
    def _empty_is_none(self, data, **kwargs):
        # an empty Secret value arrives as ${SMTP_USER:""} -> "" -> YAML null: no login
        return (
            {k: ("" if k in ("user", "password") and v is None else v) for k, v in data.items()}
            if isinstance(data, dict)
            else data
        )


class _Sms(Schema):
    url = fields.Url(required=True, require_tld=False)
    api_key = fields.String(required=True, validate=validate.Length(min=1))


class NotifySettings(Schema):
    """LEITAI_NOTIFY: the channels, their pace, the retry policy, the reminder window."""

    smtp = fields.Nested(_Smtp, required=True)
    sms = fields.Nested(_Sms, required=True)
    rates = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CHANNELS)),
        values=fields.Float(validate=validate.Range(min=0.1)),
        load_default=dict,
    )
    max_attempts = fields.Integer(load_default=8, validate=validate.Range(min=1, max=50))
    base_delay = fields.Float(load_default=1.0, validate=validate.Range(min=0.01, max=3600))
    lease_seconds = fields.Float(load_default=60.0, validate=validate.Range(min=0.5, max=3600))
    reminder_hours = fields.Float(load_default=24.0, validate=validate.Range(min=0.1, max=24 * 14))


def notify_settings(raw: dict) -> dict:
    """LEITAI_NOTIFY, validated, with its defaults."""
    try:
        return NotifySettings().load(raw)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid configuration: LEITAI_NOTIFY: {exc.messages}") from None


# what config/notify.yaml says when SMS_API_KEY is not given: never a key production may use
PLACEHOLDER_KEYS = ("change-me",)


def load(config: Mapping[str, Any]) -> tuple[Settings, dict]:
    """Everything notify reads, checked at start-up; production refuses an SMS gateway key
    that is empty or the example config's placeholder (named, its value never shown)."""
    settings, notify = service_settings(config), notify_settings(config.get("LEITAI_NOTIFY") or {})
    key = notify["sms"]["api_key"].strip()
    if settings.LEITAI_ENVIRONMENT == "production" and (not key or key.lower() in PLACEHOLDER_KEYS):
        raise ConfigurationError(
            "invalid configuration: LEITAI_NOTIFY: sms: api_key (SMS_API_KEY) is empty or the example "
            "config's placeholder; production sends SMS with the gateway's real key (a Secret)"
        )
    return settings, notify
