"""The gateway's one settings schema: the tokens, the RPC deadline, the rate limit, the key that
seals read-your-writes tokens and what one client may hold at once, the proxies whose
X-Forwarded-For is believed, how long a minted token's look-up is kept, the language answers
are in unless a request asks for another, and the worker pool;
checked at start-up; a bad value stops the process with its key named (and never prints a token
or a key)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields, validate

from leitai.config import ENVIRONMENTS, ConfigurationError, load_settings, refuse_weak_broker
from leitai.consistency import MIN_KEY_BYTES
from leitai.grants import GrantSchema
from leitai.i18n import DEFAULT_LANGUAGE, Languages, catalogues
from leitai.roles import ROLES

KEYS = (
    "LEITAI_TOKENS",
    "LEITAI_RPC_TIMEOUT",
    "LEITAI_RATE_LIMIT",
    "LEITAI_ENVIRONMENT",
    "LEITAI_CONSISTENCY_KEY",
    "LEITAI_READ_YOUR_WRITES",
    "LEITAI_STREAMS_PER_CLIENT",
    "LEITAI_TRUSTED_PROXIES",
    "LEITAI_GRANT_CACHE_S",
    "LEITAI_LANGUAGE",
    "LEITAI_GATEWAY_EDGE",
    "max_workers",
)


DIGEST = "sha256:"
# The gateways one image runs as (LEITAI_GATEWAY_EDGE), each serving its routes (http.py:
# endpoint's edges): the internal one (organisers, judges, supervisors, screens: the intranet)
# and the public one (published results, their page, certificates and checkpoints for auditors:
# read-only and cacheable, facing the internet); on one machine (`leitai up`) one serves all.
INTERNAL_EDGE, PUBLIC_EDGE, ALL_EDGES = "internal", "public", "all"
EDGES = (INTERNAL_EDGE, PUBLIC_EDGE, ALL_EDGES)


def _token_or_digest(key: str) -> None:
    if not re.fullmatch(r"sha256:[0-9a-f]{64}|(?!sha256:).{16,}", key, re.DOTALL):
        raise ValidationError("a token of 16 or more characters, or sha256:<64 hex digits>")


class _Tokens(fields.Dict):
    """token -> holder: a mapping, or its JSON text (config/gateway.yaml takes it raw from the
    environment: nameko's own YAML error would quote the text, tokens and all). A problem with
    the text names where it is, never what it holds."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = _parsed_tokens(value)
        return super()._deserialize(value, attr, data, **kwargs)


def _parsed_tokens(text: str) -> Any:
    if not text.strip():
        raise ValidationError('not set: a JSON object {"<token>": {"role": …, "id": …}, …}')
    try:
        return yaml.safe_load(text)  # JSON, or YAML's flow mapping
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)  # YAML's words for what it expected: no text of the value
        raise ValidationError(
            f"not valid JSON{where}{f': {problem}' if problem else ''} (the text is not shown: it holds tokens)"
        ) from None


def _token_problems(messages: Any, configured: Any) -> Any:
    """marshmallow's messages for LEITAI_TOKENS, keyed by each token's place in the mapping
    (and its holder's role) instead of the token itself."""
    if not isinstance(messages, Mapping):
        return messages  # about the whole setting ("not set", "not a valid mapping"): no token in it
    if isinstance(configured, str):
        try:
            configured = yaml.safe_load(configured)
        except yaml.YAMLError:
            configured = None
    tokens = list(configured.items()) if isinstance(configured, Mapping) else []

    def label(key: Any) -> str:
        place = next((n for n, (token, _) in enumerate(tokens, 1) if token == key), None)
        holder = next((h for token, h in tokens if token == key), None)
        role = holder.get("role") if isinstance(holder, Mapping) else None
        return f"token #{place or '?'}" + (f" (role {role})" if role in ROLES else "")

    return {label(key): problems for key, problems in messages.items()}


class _RateLimit(Schema):
    per_second = fields.Float(load_default=20.0, validate=validate.Range(min=0.1, max=100_000))
    burst = fields.Integer(load_default=60, validate=validate.Range(min=1, max=1_000_000))


class _ReadYourWrites(Schema):
    # how long a Leitai-Written token is waited for; after it, a request that sends it back runs
    # without waiting (a write that old has been seen, unless something is broken)
    token_ttl_s = fields.Integer(load_default=900, validate=validate.Range(min=10, max=86_400))
    # the longest one request waits for the writes its Leitai-After names (the services' own
    # LEITAI_CATCH_UP_S and the request's deadline bound it too)
    wait_s = fields.Float(load_default=5.0, validate=validate.Range(min=0, max=60))
    # requests of one token holder that may wait at once; beyond, and for callers without a
    # token, a request is answered at once: run if the writes were seen, 503 "not yet" if not
    waits_per_client = fields.Integer(load_default=2, validate=validate.Range(min=0, max=1000))


def _consistency_key(key: str) -> None:
    if len(key.encode()) < MIN_KEY_BYTES:
        raise ValidationError(f"at least {MIN_KEY_BYTES} bytes (e.g. openssl rand -hex 32)")


def _language(locale: str) -> None:
    try:
        Languages(catalogues(), locale)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class _Networks(fields.List):
    """CIDRs: a YAML list, or one string of them separated by spaces or commas (as an
    environment variable gives them: ``${LEITAI_TRUSTED_PROXIES:}``, null: none)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(), allow_none=True, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kwargs: Any):
        return [] if value is None else super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> list:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        networks = []
        for cidr in super()._deserialize(value, attr, data, **kwargs):
            try:
                networks.append(ipaddress.ip_network(str(cidr), strict=False))
            except ValueError:
                raise ValidationError(f"{cidr!r} is no address or CIDR (e.g. 10.0.0.0/8)") from None
        return networks


class GatewaySettingsSchema(Schema):
    LEITAI_TOKENS = _Tokens(
        keys=fields.String(validate=_token_or_digest),
        values=fields.Nested(GrantSchema),
        required=True,
    )
    LEITAI_RPC_TIMEOUT = fields.Float(load_default=30.0, validate=validate.Range(min=0.5, max=600))
    # per client (a token's holder, or the address of a caller without one), per gateway process
    LEITAI_RATE_LIMIT = fields.Nested(_RateLimit, load_default=lambda: _RateLimit().load({}))
    LEITAI_ENVIRONMENT = fields.String(load_default="production", validate=validate.OneOf(ENVIRONMENTS))
    # seals the Leitai-Written tokens (HMAC-SHA256); every replica of the gateway has the same.
    # Required in production (a Secret); elsewhere, when empty, each process makes its own
    LEITAI_CONSISTENCY_KEY = fields.String(load_default="", allow_none=True, validate=_consistency_key)
    LEITAI_READ_YOUR_WRITES = fields.Nested(_ReadYourWrites, load_default=lambda: _ReadYourWrites().load({}))
    # live streams (the big screen's) one client may hold open at once: 429 beyond
    LEITAI_STREAMS_PER_CLIENT = fields.Integer(load_default=4, validate=validate.Range(min=1, max=1000))
    # the proxies (ingress) whose X-Forwarded-For is believed: CIDRs; none by default
    LEITAI_TRUSTED_PROXIES = _Networks(load_default=list)
    # seconds a minted token's look-up (registration's grant_holder) is kept, found or not: a
    # revocation takes this long to reach this process; 0: looked up on every request
    LEITAI_GRANT_CACHE_S = fields.Float(load_default=10.0, validate=validate.Range(min=0, max=300))
    # the language of the messages a client reads when its Accept-Language names none we have a
    # catalogue for (leitai/locale/): a catalogue's, or "en", the messages' own
    LEITAI_LANGUAGE = fields.String(load_default=DEFAULT_LANGUAGE, validate=_language)
    # the routes this process serves (http.py: EDGES): the internal gateway's, the public one's, or
    # on one machine all of them
    LEITAI_GATEWAY_EDGE = fields.String(load_default=ALL_EDGES, validate=validate.OneOf(EDGES))
    # nameko's: requests handled at once (each holds one while it waits for its services)
    max_workers = fields.Integer(load_default=10, validate=validate.Range(min=1, max=10_000))


def load(config: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's settings out of a nameko config mapping; ConfigurationError naming the key."""
    try:
        loaded: dict[str, Any] = GatewaySettingsSchema().load({k: config[k] for k in KEYS if k in config})
    except ValidationError as exc:
        found = dict(exc.messages_dict)
        if "LEITAI_TOKENS" in found:  # marshmallow keys a mapping's problems by the key: here, a token
            found["LEITAI_TOKENS"] = _token_problems(found["LEITAI_TOKENS"], config.get("LEITAI_TOKENS"))
        problems = "; ".join(f"{key}: {messages}" for key, messages in sorted(found.items()))
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    # the public gateway takes no token (its routes are anyone's) and writes nothing to seal
    public = loaded["LEITAI_GATEWAY_EDGE"] == PUBLIC_EDGE
    if not loaded["LEITAI_TOKENS"] and not public:
        raise ConfigurationError("invalid configuration: LEITAI_TOKENS: no token: nobody could sign in")
    if not loaded["LEITAI_CONSISTENCY_KEY"] and loaded["LEITAI_ENVIRONMENT"] == "production" and not public:
        raise ConfigurationError(
            "invalid configuration: LEITAI_CONSISTENCY_KEY: a production gateway seals its read-your-writes "
            "tokens with a key every replica shares; give one of at least 32 bytes (openssl rand -hex 32)"
        )
    refuse_weak_broker(load_settings(config, only=("AMQP_URI",)))  # in production, credentials of its own
    return loaded
