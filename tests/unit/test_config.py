from decimal import Decimal

import pytest

from leitai.config import ConfigurationError, load_settings
from leitai.messaging.topology import RetryPolicy

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
