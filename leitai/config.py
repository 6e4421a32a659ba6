"""Settings, read only from nameko config / the environment, validated at start-up."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from leitai.eventstore.checkpoints import Signing
from leitai.eventstore.notes import NoteError, Signer, Verifier
from leitai.messaging.topology import QUEUE_TYPES, RetryPolicy
from leitai.mongo import CONTRACT_OPTIONS, DURABILITY
from leitai.witness.client import WitnessEndpoint

ENVIRONMENTS = ("production", "development", "test", "bench")
# environments in which a weaker durability than the contract may be asked for, by name
WEAK_DURABILITY_ALLOWED = ("test", "bench")
# what production refuses at start-up and the other environments allow (a laptop's RabbitMQ)
DEFAULT_BROKER_CREDENTIALS = ("guest", "guest")


class ConfigurationError(Exception):
    """A setting is missing or malformed; the message names it."""


class _RetrySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    attempts = fields.Integer(load_default=8, validate=validate.Range(min=1, max=20))
    base_delay = fields.Decimal(load_default=Decimal("1"), validate=validate.Range(min=Decimal("0.01"), max=3600))
    factor = fields.Integer(load_default=2, validate=validate.Range(min=1, max=10))
    queue_type = fields.String(load_default="classic", validate=validate.OneOf(QUEUE_TYPES))

    @post_load
    def _policy(self, data: dict[str, Any], **kwargs: Any) -> RetryPolicy:
        return RetryPolicy(**data)


def _no_contract_options(url: str) -> None:
    clashing = sorted(k for k, _ in parse_qsl(urlsplit(url).query) if k.lower() in CONTRACT_OPTIONS)
    if clashing:
        raise ValidationError(
            f"sets {', '.join(clashing)}, which the durability contract decides; "
            "remove it (LEITAI_DURABILITY names the choice)"
        )


class _KeyList(fields.List[str]):
    """Verifier keys: a YAML list, or one string of them separated by spaces or commas (as an
    environment variable gives them: ``${LEITAI_VERIFIER_KEYS:}``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(), allow_none=True, **kwargs)  # `${VAR:}` reads as null: none

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[str | None]:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        return super()._deserialize(value, attr, data, **kwargs)


class _Witnesses(fields.List[WitnessEndpoint]):
    """Witnesses, each ``URL VKEY``: a YAML list, or one string of them separated by newlines or
    commas (as an environment variable gives them: ``${LEITAI_WITNESSES:}``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(_Witness(), allow_none=True, **kwargs)  # `${VAR:}` reads as null: none

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[WitnessEndpoint | None]:
        if isinstance(value, str):
            value = [entry for entry in value.replace(",", "\n").splitlines() if entry.strip()]
        return super()._deserialize(value, attr, data, **kwargs)


class _Witness(fields.Field[WitnessEndpoint]):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> WitnessEndpoint:
        if not isinstance(value, str):
            raise ValidationError("a witness reads 'URL VKEY'")
        try:
            return WitnessEndpoint.parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class _SettingsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    AMQP_URI = fields.String(
        required=True,
        validate=validate.Regexp(r"^(amqps?|pyamqp|memory)://", error="must be an amqp:// (or memory://) URL"),
    )
    MONGO_URL = fields.String(
        required=True,
        validate=[validate.Regexp(r"^mongodb(\+srv)?://\S+$", error="must be a mongodb:// URL"), _no_contract_options],
    )
    MONGO_DATABASE = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,63}$", error="must be 1-63 letters, digits, '_' or '-'"),
    )
    LEITAI_DURABILITY = fields.String(load_default="journaled", validate=validate.OneOf(sorted(DURABILITY)))
    LEITAI_ENVIRONMENT = fields.String(load_default="production", validate=validate.OneOf(ENVIRONMENTS))
    LEITAI_RETRY = fields.Nested(_RetrySchema, load_default=lambda: RetryPolicy())
    # the ops port (/healthz, /readyz, /metrics); 0: not served
    LEITAI_OPS_PORT = fields.Integer(load_default=0, validate=validate.Range(min=0, max=65535))
    # the address it listens on: this machine only, unless LEITAI_OPS_PUBLIC says that it is
    # to be reached from outside (Kubernetes' probes and Prometheus reach a pod on its IP)
    LEITAI_OPS_HOST = fields.String(load_default="127.0.0.1", validate=validate.Length(max=255))
    LEITAI_OPS_PUBLIC = fields.Boolean(load_default=False)
    # how long a request sent with Leitai-After waits for this service to see those writes
    LEITAI_CATCH_UP_S = fields.Float(load_default=10.0, validate=validate.Range(min=0, max=60))
    # the relay's checkpoint signing key (a file: in Kubernetes a mounted Secret), the origin
    # its checkpoints name, and the verifier keys of keys it replaced (see docs/audit.md)
    LEITAI_SIGNING_KEY = fields.String(load_default="", allow_none=True)
    LEITAI_LOG_ORIGIN = fields.String(
        load_default="",
        allow_none=True,
        validate=validate.Regexp(r"^[^\s+]*$", error="must hold no spaces or '+' (e.g. leitai.example.gov.cn/scoring)"),
    )
    LEITAI_TRUSTED_KEYS = _KeyList(load_default=list)
    # the witnesses the relay sends each new checkpoint to for cosigning (docs/audit.md), and
    # how long it waits for each call
    LEITAI_WITNESSES = _Witnesses(load_default=list)
    LEITAI_WITNESS_TIMEOUT_S = fields.Float(load_default=5.0, validate=validate.Range(min=0.1, max=60))
    # the public keys `verify` and `audit` require every checkpoint to be signed by
    LEITAI_VERIFIER_KEYS = _KeyList(load_default=list)
    # the personal-data vault's database (leitai/privacy.py): registration writes it, notify
    # reads it, `leitai privacy` erases and exports from it; never one of the services' own
    LEITAI_PERSONAL_DATABASE = fields.String(
        load_default="leitai_personal",
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,63}$", error="must be 1-63 letters, digits, '_' or '-'"),
    )
    # source service -> its database, for rebuilding a read model from the source logs
    LEITAI_SOURCES = fields.Dict(
        keys=fields.String(),
        values=fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,63}$", error="must be a database name")),
        load_default=dict,
    )


@dataclass(frozen=True)
class Settings:
    AMQP_URI: str = ""
    MONGO_URL: str = ""
    MONGO_DATABASE: str = ""
    LEITAI_DURABILITY: str = "journaled"
    LEITAI_ENVIRONMENT: str = "production"
    LEITAI_RETRY: RetryPolicy = RetryPolicy()
    LEITAI_OPS_PORT: int = 0
    LEITAI_OPS_HOST: str = "127.0.0.1"
    LEITAI_OPS_PUBLIC: bool = False
    LEITAI_CATCH_UP_S: float = 10.0
    LEITAI_SOURCES: dict[str, str] = field(default_factory=dict)
    LEITAI_PERSONAL_DATABASE: str = "leitai_personal"
    LEITAI_SIGNING_KEY: str = ""
    LEITAI_LOG_ORIGIN: str = ""
    LEITAI_TRUSTED_KEYS: list[str] = field(default_factory=list)
    LEITAI_VERIFIER_KEYS: list[str] = field(default_factory=list)
    LEITAI_WITNESSES: list[WitnessEndpoint] = field(default_factory=list)
    LEITAI_WITNESS_TIMEOUT_S: float = 5.0

    def verifiers(self) -> list[Verifier]:
        """The keys checkpoints are checked with: LEITAI_VERIFIER_KEYS, or else the relay's own
        signing key and the keys it trusts (empty when neither is set: signatures unchecked)."""
        try:
            if self.LEITAI_VERIFIER_KEYS:
                return [Verifier.decode(key) for key in self.LEITAI_VERIFIER_KEYS]
        except NoteError as exc:
            raise ConfigurationError(f"invalid configuration: LEITAI_VERIFIER_KEYS: {exc}") from None
        if not self.LEITAI_SIGNING_KEY:
            return []
        signing = self.signing()
        assert signing is not None  # a signing key is set
        return [signing.signer.verifier, *signing.trusted]

    @property
    def log_origin(self) -> str:
        """The origin the relay's checkpoints name its log by."""
        return self.LEITAI_LOG_ORIGIN or f"leitai/{self.MONGO_DATABASE}"

    def signing(self) -> Signing | None:
        """The relay's signing setup: None when no key is configured, which only a test or
        development may do; ConfigurationError naming the setting when a key is unusable."""
        if not self.LEITAI_SIGNING_KEY:
            if self.LEITAI_ENVIRONMENT == "production":
                raise ConfigurationError(
                    "invalid configuration: LEITAI_SIGNING_KEY: a production relay signs its "
                    "log's checkpoints; give the key file (leitai audit keygen makes one)"
                )
            return None
        try:
            signer = Signer.from_file(self.LEITAI_SIGNING_KEY)
            trusted = [Verifier.decode(key) for key in self.LEITAI_TRUSTED_KEYS]
        except NoteError as exc:
            raise ConfigurationError(f"invalid configuration: LEITAI_SIGNING_KEY: {exc}") from None
        # an origin is pinned to its key: auditors accept a checkpoint of the log <log> signed
        # by the key <name> only if it names <name>/<log> (docs/audit.md, checkpoint rules)
        origin = self.LEITAI_LOG_ORIGIN or f"{signer.name}/{self.MONGO_DATABASE or 'log'}"
        log_name = origin.removeprefix(f"{signer.name}/")
        if log_name == origin or not log_name.isascii() or not log_name.isidentifier():
            raise ConfigurationError(
                f"invalid configuration: LEITAI_LOG_ORIGIN: {origin!r} must be the signing key's name "
                f"{signer.name!r}, '/', and the log's name (e.g. {signer.name}/scoring)"
            )
        return Signing(signer, origin, tuple(trusted), tuple(self.LEITAI_WITNESSES), self.LEITAI_WITNESS_TIMEOUT_S)


# the settings loaded with another whenever it is (load_settings)
_GOES_WITH = {
    "MONGO_URL": ("LEITAI_DURABILITY", "LEITAI_ENVIRONMENT"),
    "AMQP_URI": ("LEITAI_ENVIRONMENT",),
    "LEITAI_OPS_PORT": ("LEITAI_OPS_HOST", "LEITAI_OPS_PUBLIC", "LEITAI_ENVIRONMENT"),
}


def load_settings(config: Mapping[str, Any], only: Sequence[str] | None = None) -> Settings:
    """Validate the named settings (all by default) out of a nameko config mapping.

    Whoever needs MONGO_URL also gets LEITAI_DURABILITY and LEITAI_ENVIRONMENT: the store is
    never reached without the durability contract checked. Whoever needs AMQP_URI also gets
    LEITAI_ENVIRONMENT (``refuse_weak_broker`` asks it); whoever needs LEITAI_OPS_PORT also
    gets where it listens, checked: in production, on this machine only unless
    LEITAI_OPS_PUBLIC says otherwise."""
    if only is not None:
        for needed, with_it in _GOES_WITH.items():
            if needed in only:
                only = (*only, *(k for k in with_it if k not in only))
    try:
        values = _SettingsSchema(only=only).load(dict(config))
    except ValidationError as exc:
        problems = "; ".join(
            f"{key}: {' '.join(map(str, _flatten(msg)))}" for key, msg in sorted(exc.messages_dict.items())
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    settings = Settings(**{k: v for k, v in values.items() if v is not None})
    if settings.LEITAI_DURABILITY != "journaled" and settings.LEITAI_ENVIRONMENT not in WEAK_DURABILITY_ALLOWED:
        raise ConfigurationError(
            f"invalid configuration: LEITAI_DURABILITY: {settings.LEITAI_DURABILITY} is weaker than the durability "
            f"contract; only a test or a benchmark may ask for it (LEITAI_ENVIRONMENT is "
            f"{settings.LEITAI_ENVIRONMENT})"
        )
    if only is None or "LEITAI_OPS_PORT" in only:
        _refuse_public_ops_port(settings)
    return settings


def _refuse_public_ops_port(settings: Settings) -> None:
    """/metrics and /readyz tell whoever asks how the process is doing: in production they
    listen on this machine only, unless LEITAI_OPS_PUBLIC: true says they are to be reached
    from outside (a pod's probes, on its IP)."""
    if not settings.LEITAI_OPS_PORT or settings.LEITAI_ENVIRONMENT != "production" or settings.LEITAI_OPS_PUBLIC:
        return
    if not _loopback(settings.LEITAI_OPS_HOST):
        raise ConfigurationError(
            f"invalid configuration: LEITAI_OPS_HOST: {settings.LEITAI_OPS_HOST or '(every interface)'} serves "
            "/healthz, /readyz and /metrics beyond this machine; production listens on 127.0.0.1 unless "
            "LEITAI_OPS_PUBLIC: true says the ops port is to be reached from outside (as Kubernetes' probes do)"
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name, or "" (every interface): reachable from elsewhere, as far as we can tell


def refuse_weak_broker(settings: Settings) -> None:
    """In production the broker is reached as a user of the deployment's own: never without
    credentials, never as RabbitMQ's default guest:guest. The message names the setting and
    never shows the URI (it holds the password)."""
    if settings.LEITAI_ENVIRONMENT != "production":
        return
    parts = urlsplit(settings.AMQP_URI)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if not user or not password:
        problem = "gives no user and password"
    elif (user, password) == DEFAULT_BROKER_CREDENTIALS:
        problem = "uses RabbitMQ's default guest:guest credentials"
    else:
        return
    raise ConfigurationError(
        f"invalid configuration: AMQP_URI: {problem}; production reaches the broker as a user of its own "
        "(LEITAI_ENVIRONMENT=development or test allows it on one machine)"
    )


def _flatten(messages: Any) -> list[Any]:
    if isinstance(messages, dict):
        return [f"{k}: {' '.join(map(str, _flatten(v)))}" for k, v in messages.items()]
    return list(messages) if isinstance(messages, list) else [messages]


# what every service reads: its broker, its database, retries, the ops port, catching up
SERVICE_KEYS = ("AMQP_URI", "MONGO_URL", "MONGO_DATABASE", "LEITAI_RETRY", "LEITAI_OPS_PORT", "LEITAI_CATCH_UP_S")


def service_settings(config: Mapping[str, Any]) -> Settings:
    """The settings every service shares, validated together at start-up (SERVICE_KEYS), and
    refused in production when weak (``refuse_weak_broker``, the ops port's address)."""
    settings = load_settings(config, only=SERVICE_KEYS)
    refuse_weak_broker(settings)
    return settings
