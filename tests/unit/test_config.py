import json
import logging
import logging.config
from decimal import Decimal
from pathlib import Path

import pytest

from leitai.config import ConfigurationError, Settings, load_settings, service_settings
from leitai.eventstore.notes import Signer
from leitai.messaging.topology import RetryPolicy
from leitai.witness.cosignature import Cosigner

GOOD = {
    "AMQP_URI": "amqp://guest:guest@localhost:5672/",
    "MONGO_URL": "mongodb://localhost:27017",
    "MONGO_DATABASE": "leitai_scoring",
}


def test_good_settings_load_with_a_default_retry_policy():
    settings = load_settings(GOOD)
    assert settings.MONGO_DATABASE == "leitai_scoring"
    assert settings.LEITAI_RETRY == RetryPolicy(8, Decimal("1"), 2)


@pytest.mark.parametrize("key", ["AMQP_URI", "MONGO_URL", "MONGO_DATABASE"])
def test_a_missing_setting_is_named(key):
    config = {k: v for k, v in GOOD.items() if k != key}
    with pytest.raises(ConfigurationError, match=key):
        load_settings(config)


@pytest.mark.parametrize(
    "key, value",
    [
        ("MONGO_URL", "postgres://x"),
        ("AMQP_URI", ""),
        ("MONGO_DATABASE", "a b"),
        ("LEITAI_RETRY", {"attempts": 0}),
        ("LEITAI_RETRY", {"queue_type": "stream"}),
    ],
)
def test_a_malformed_setting_is_named(key, value):
    with pytest.raises(ConfigurationError, match=key):
        load_settings(dict(GOOD, **{key: value}))


def test_only_the_settings_a_component_needs_are_required():
    assert load_settings({"AMQP_URI": "amqp://localhost"}, only=("AMQP_URI",)).AMQP_URI == "amqp://localhost"


def test_retry_delays_grow_geometrically():
    policy = RetryPolicy(attempts=4, base_delay=Decimal("0.2"), factor=2)
    assert [policy.delay_ms(n) for n in (1, 2, 3)] == [200, 400, 800]


def test_a_consumers_queues_say_quorum_when_told_and_nothing_when_classic():
    """Nothing for classic, as every queue declared before the setting was: a declaration with
    other arguments than the queue's is refused by the broker."""
    quorum = load_settings(dict(GOOD, LEITAI_RETRY={"queue_type": "quorum"})).LEITAI_RETRY
    assert quorum.queue_arguments == {"x-queue-type": "quorum"}
    assert RetryPolicy().queue_arguments == {}


def test_checkpoint_keys_come_as_a_list_or_one_string_and_a_bad_one_is_named(tmp_path):
    from leitai.eventstore.notes import Signer

    old, new = Signer.generate("leitai.test"), Signer.generate("leitai.test")
    spelled = f"{old.verifier.encoded()}, {new.verifier.encoded()}"
    for given in (spelled, [old.verifier.encoded(), new.verifier.encoded()]):
        settings = load_settings({"LEITAI_VERIFIER_KEYS": given}, only=("LEITAI_VERIFIER_KEYS",))
        assert settings.verifiers() == [old.verifier, new.verifier]
    assert load_settings({"LEITAI_VERIFIER_KEYS": ""}, only=("LEITAI_VERIFIER_KEYS",)).verifiers() == []
    with pytest.raises(ConfigurationError, match="LEITAI_VERIFIER_KEYS: a verifier key reads"):
        load_settings({"LEITAI_VERIFIER_KEYS": "nonsense"}, only=("LEITAI_VERIFIER_KEYS",)).verifiers()
    # without them: the relay's own key, and those it trusts from before a rotation
    new.write(tmp_path / "key")
    settings = load_settings(
        {
            "LEITAI_SIGNING_KEY": str(tmp_path / "key"),
            "LEITAI_TRUSTED_KEYS": old.verifier.encoded(),
            "LEITAI_ENVIRONMENT": "test",
        },
        only=("LEITAI_SIGNING_KEY", "LEITAI_TRUSTED_KEYS", "LEITAI_ENVIRONMENT"),
    )
    assert settings.verifiers() == [new.verifier, old.verifier]


def test_a_log_origin_that_is_not_the_keys_name_and_a_log_is_refused(tmp_path):
    """Auditors accept a checkpoint of log <log> signed by key <name> only if it names
    <name>/<log> (docs/audit.md, checkpoint rules): a relay must not sign another."""
    from leitai.eventstore.notes import Signer

    Signer.generate("leitai.test").write(tmp_path / "key")
    only = ("LEITAI_SIGNING_KEY", "LEITAI_LOG_ORIGIN", "LEITAI_ENVIRONMENT")
    for origin in ("leitai.other/scoring", "leitai.test/scoring\u200b", "leitai.test/"):
        settings = load_settings(
            {"LEITAI_SIGNING_KEY": str(tmp_path / "key"), "LEITAI_LOG_ORIGIN": origin, "LEITAI_ENVIRONMENT": "test"},
            only=only,
        )
        with pytest.raises(ConfigurationError, match="LEITAI_LOG_ORIGIN: .* must be the signing key's name"):
            settings.signing()
    good = {"LEITAI_SIGNING_KEY": str(tmp_path / "key"), "LEITAI_LOG_ORIGIN": "leitai.test/scoring"}
    signing = load_settings(dict(good, LEITAI_ENVIRONMENT="test"), only=only).signing()
    assert signing is not None and signing.origin == "leitai.test/scoring"


# -- what production refuses at start-up, naming the setting and never showing a secret -------
SERVICE = dict(GOOD, AMQP_URI="amqp://leitai:a-broker-password-never-shown@broker:5672/")


@pytest.mark.parametrize(
    "uri, problem",
    [
        ("amqp://guest:guest@broker:5672/", "default guest:guest"),
        ("amqp://broker:5672/", "no user and password"),
        ("amqp://leitai@broker:5672/", "no user and password"),
        ("amqp://:a-broker-password-never-shown@broker:5672/", "no user and password"),
        ("memory://", "no user and password"),
    ],
)
def test_production_refuses_a_broker_reached_without_credentials_of_its_own(uri, problem):
    with pytest.raises(ConfigurationError, match=f"AMQP_URI: .*{problem}") as refused:
        service_settings(dict(SERVICE, AMQP_URI=uri))
    assert "a-broker-password-never-shown" not in str(refused.value) and "broker:5672" not in str(refused.value)
    for environment in ("development", "test", "bench"):
        assert service_settings(dict(SERVICE, AMQP_URI=uri, LEITAI_ENVIRONMENT=environment)).AMQP_URI == uri
    assert service_settings(SERVICE).LEITAI_ENVIRONMENT == "production"  # credentials of its own: started


def test_the_relay_and_the_gateway_refuse_the_default_broker_credentials_in_production(monkeypatch, capsys):
    from composition.cli import main
    from services.gateway.settings import load as gateway_settings

    for name, value in dict(GOOD, LEITAI_ENVIRONMENT="production").items():
        monkeypatch.setenv(name, value)
    assert main(["relay"]) == 2
    assert "AMQP_URI: uses RabbitMQ's default guest:guest" in capsys.readouterr().err
    gateway = {
        "AMQP_URI": "amqp://guest:guest@broker:5672/",
        "LEITAI_TOKENS": {"an-organiser-token-of-16+": {"role": "organiser", "id": "org1", "office": "boai"}},
        "LEITAI_CONSISTENCY_KEY": "k" * 64,
    }
    with pytest.raises(ConfigurationError, match="AMQP_URI: uses RabbitMQ's default guest:guest"):
        gateway_settings(gateway)
    assert gateway_settings(dict(gateway, LEITAI_ENVIRONMENT="development"))


def test_a_production_relay_without_a_signing_key_stops_naming_the_setting(monkeypatch, capsys, tmp_path):
    from composition.cli import main

    for name, value in dict(GOOD, AMQP_URI="amqp://leitai:a-real-password@broker:5672/").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LEITAI_ENVIRONMENT", "production")
    monkeypatch.delenv("LEITAI_SIGNING_KEY", raising=False)
    assert main(["relay"]) == 2  # before it connects to anything: no store or broker runs here
    assert "LEITAI_SIGNING_KEY: a production relay signs its log's checkpoints" in capsys.readouterr().err
    # development may run unsigned; a key that is not a key is named too
    assert Settings(LEITAI_ENVIRONMENT="development").signing() is None
    (tmp_path / "key").write_text("not a key")
    with pytest.raises(ConfigurationError, match="^invalid configuration: LEITAI_SIGNING_KEY: "):
        Settings(LEITAI_SIGNING_KEY=str(tmp_path / "key")).signing()


NOTIFY = {
    "smtp": {"host": "smtp.example.cn"},
    "sms": {"url": "https://sms.example.cn/send", "api_key": "a-real-sms-key-never-shown"},
}


@pytest.mark.parametrize("key", ["change-me", "  ", "CHANGE-ME"])
def test_production_refuses_an_empty_or_placeholder_sms_key_naming_it(key):
    from services.notify.settings import load as notify_settings

    config = dict(SERVICE, LEITAI_NOTIFY=dict(NOTIFY, sms=dict(NOTIFY["sms"], api_key=key)))
    with pytest.raises(ConfigurationError, match=r"api_key \(SMS_API_KEY\)") as refused:
        notify_settings(config)
    assert "change-me" not in str(refused.value).lower()  # named, not shown
    assert notify_settings(dict(config, LEITAI_ENVIRONMENT="development"))[1]["sms"]["api_key"] == key
    assert notify_settings(dict(SERVICE, LEITAI_NOTIFY=NOTIFY))[1]["sms"]["api_key"] == "a-real-sms-key-never-shown"
    with pytest.raises(ConfigurationError, match="LEITAI_NOTIFY: .*api_key"):  # empty: refused everywhere
        notify_settings(dict(config, LEITAI_NOTIFY=dict(NOTIFY, sms=dict(NOTIFY["sms"], api_key=""))))


OPS = ("LEITAI_OPS_PORT",)


def test_the_ops_port_listens_on_this_machine_unless_a_deployment_says_it_is_public():
    import inspect

    from leitai.ops import OpsServer

    defaults = (
        load_settings({"LEITAI_OPS_PORT": 9100}, only=OPS).LEITAI_OPS_HOST,
        Settings().LEITAI_OPS_HOST,
        inspect.signature(OpsServer).parameters["host"].default,
    )
    assert defaults == ("127.0.0.1",) * 3
    for host in ("0.0.0.0", "", "10.1.2.3", "::", "ops.example.cn"):
        with pytest.raises(ConfigurationError, match="LEITAI_OPS_HOST: .*LEITAI_OPS_PUBLIC: true"):
            load_settings({"LEITAI_OPS_PORT": 9100, "LEITAI_OPS_HOST": host}, only=OPS)
        public = load_settings(
            {"LEITAI_OPS_PORT": 9100, "LEITAI_OPS_HOST": host, "LEITAI_OPS_PUBLIC": "true"}, only=OPS
        )
        assert (public.LEITAI_OPS_HOST, public.LEITAI_OPS_PUBLIC) == (host, True)
        for environment in ("development", "test", "bench"):
            given = {"LEITAI_OPS_PORT": 9100, "LEITAI_OPS_HOST": host, "LEITAI_ENVIRONMENT": environment}
            assert load_settings(given, only=OPS).LEITAI_OPS_HOST == host
        assert load_settings({"LEITAI_OPS_PORT": 0, "LEITAI_OPS_HOST": host}, only=OPS).LEITAI_OPS_PORT == 0
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert load_settings({"LEITAI_OPS_PORT": 9100, "LEITAI_OPS_HOST": host}, only=OPS).LEITAI_OPS_HOST == host
    with pytest.raises(ConfigurationError, match="LEITAI_OPS_HOST"):  # every service checks it at start-up
        service_settings(dict(SERVICE, LEITAI_OPS_PORT=9100, LEITAI_OPS_HOST="0.0.0.0"))


SERVICE_CONFIGS = ("registration", "scoring", "ranking", "notify")


@pytest.mark.parametrize("service", SERVICE_CONFIGS)
def test_the_example_configs_defaults_start_in_development_and_are_refused_in_production(service, monkeypatch):
    from composition.cli import read_config
    from services.notify.settings import load as notify_settings

    load = notify_settings if service == "notify" else service_settings
    for name in ("AMQP_URI", "LEITAI_ENVIRONMENT", "SMS_API_KEY", "LEITAI_OPS_HOST", "LEITAI_OPS_PUBLIC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEITAI_OPS_PORT", "9100")
    with pytest.raises(ConfigurationError, match="AMQP_URI"):
        load(read_config(f"config/{service}.yaml"))
    monkeypatch.setenv("AMQP_URI", "amqp://leitai:a-broker-password@broker:5672/")
    if service == "notify":
        with pytest.raises(ConfigurationError, match="SMS_API_KEY"):
            load(read_config(f"config/{service}.yaml"))
        monkeypatch.setenv("SMS_API_KEY", "a-real-sms-key")
    load(read_config(f"config/{service}.yaml"))
    monkeypatch.setenv("LEITAI_OPS_HOST", "0.0.0.0")
    with pytest.raises(ConfigurationError, match="LEITAI_OPS_HOST"):
        load(read_config(f"config/{service}.yaml"))
    monkeypatch.setenv("LEITAI_OPS_PUBLIC", "true")
    load(read_config(f"config/{service}.yaml"))
    for name in ("AMQP_URI", "SMS_API_KEY", "LEITAI_OPS_PUBLIC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEITAI_ENVIRONMENT", "development")
    load(read_config(f"config/{service}.yaml"))


# -- logging ----------------------------------------------------------------------------------
@pytest.fixture
def logging_restored():
    manager = logging.root.manager
    loggers = [logging.root, *(lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    saved = [(lg, lg.disabled, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    yield
    for lg, disabled, level, handlers, propagate in saved:
        lg.disabled, lg.level, lg.handlers, lg.propagate = disabled, level, handlers, propagate


def _logging_blocks() -> dict[str, dict]:
    from composition.cli import read_config
    from testkit.stack import LOGGING

    return {
        **{path.name: read_config(str(path))["LOGGING"] for path in sorted(Path("config").glob("*.yaml"))},
        "testkit/stack.py": LOGGING,
    }


@pytest.mark.parametrize("name", list(_logging_blocks()))
def test_every_configs_logging_keeps_the_loggers_made_before_it_and_a_workers_error_is_logged(
    name, logging_restored, capsys
):
    block = _logging_blocks()[name]
    assert block.get("disable_existing_loggers") is False, f"{name}: LOGGING must keep the loggers made before it"
    containers = logging.getLogger("nameko.containers")  # made when nameko is imported, before the config
    logging.config.dictConfig(block)
    assert not containers.disabled
    try:
        raise ValueError("a handler's bug")
    except ValueError as exc:
        containers.exception("error handling worker %s: %s", "<WorkerContext [scoring.on_entry_scored]>", exc)
    [line] = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "error handling worker" in line]
    assert line["level"] == "ERROR" and "scoring.on_entry_scored" in line["msg"]
    assert "ValueError: a handler's bug" in line["exc"]


def test_a_refusal_a_service_answers_with_is_one_log_line_without_a_traceback():
    from leitai.errors import NotFound
    from leitai.logs import JsonFormatter

    try:
        raise NotFound("session s9 does not exist")
    except NotFound:
        import sys

        record = logging.LogRecord("nameko.containers", logging.WARNING, "", 0, "(expected) error", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["refused"] == "NotFound: session s9 does not exist" and "exc" not in line


def test_witnesses_come_as_a_list_or_one_string_and_a_bad_one_is_named(tmp_path):
    one, two = (Cosigner.generate(f"witness.{n}").verifier for n in ("a", "b"))
    entries = [f"http://127.0.0.1:8380/w {one.encoded()}", f"https://witness.example/ {two.encoded()}"]
    for given in (entries, ",".join(entries), "\n".join(entries) + "\n", None):
        settings = load_settings({**GOOD, "LEITAI_WITNESSES": given})
        assert [(w.url, w.key) for w in settings.LEITAI_WITNESSES] == (
            [("http://127.0.0.1:8380/w", one), ("https://witness.example", two)] if given else []
        )
    Signer.generate("leitai.test").write(tmp_path / "signing.key")
    signing = load_settings(
        {**GOOD, "LEITAI_SIGNING_KEY": str(tmp_path / "signing.key"), "LEITAI_WITNESSES": entries[0]}
    ).signing()
    assert signing is not None and [w.key for w in signing.witnesses] == [one] and signing.witness_timeout == 5.0
    log_key = Signer.generate("leitai.test").verifier.encoded()
    for bad, said in [
        ("http://127.0.0.1:8380", "reads 'URL VKEY'"),
        (f"ftp://x {one.encoded()}", "not an http:// or https:// URL"),
        (f"http://x {log_key}", "not an Ed25519 witness verifier key"),
    ]:
        with pytest.raises(ConfigurationError, match=f"LEITAI_WITNESSES: .*{said}"):
            load_settings({**GOOD, "LEITAI_WITNESSES": bad})
    with pytest.raises(ConfigurationError, match="LEITAI_WITNESS_TIMEOUT_S"):
        load_settings({**GOOD, "LEITAI_WITNESS_TIMEOUT_S": 0})
