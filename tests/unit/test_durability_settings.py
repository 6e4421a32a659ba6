"""The durability contract is the default, a weaker one needs a test or a benchmark asking by
name, and the one test of "the outcome is unknown" says yes to outages only."""

import pytest
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

from leitai.config import ConfigurationError, load_settings
from leitai.mongo import DURABILITY, is_outage

GOOD = {
    "AMQP_URI": "amqp://localhost",
    "MONGO_URL": "mongodb://localhost:27017/?replicaSet=rs0",
    "MONGO_DATABASE": "leitai_scoring",
}


def test_journaled_majority_writes_and_reads_are_the_default():
    settings = load_settings(GOOD, only=("MONGO_URL", "MONGO_DATABASE"))
    assert settings.LEITAI_DURABILITY == "journaled" and settings.LEITAI_ENVIRONMENT == "production"
    assert DURABILITY["journaled"] == {"w": "majority", "journal": True, "readConcernLevel": "majority"}


@pytest.mark.parametrize("environment", ["production", "development"])
def test_a_weaker_durability_is_refused_outside_tests_and_benchmarks_naming_the_setting(environment):
    with pytest.raises(ConfigurationError, match="LEITAI_DURABILITY: unjournaled is weaker"):
        load_settings(
            dict(GOOD, LEITAI_DURABILITY="unjournaled", LEITAI_ENVIRONMENT=environment),
            only=("MONGO_URL", "MONGO_DATABASE"),
        )


def test_a_benchmark_may_ask_for_unjournaled_writes_by_name():
    settings = load_settings(dict(GOOD, LEITAI_DURABILITY="unjournaled", LEITAI_ENVIRONMENT="bench"))
    assert settings.LEITAI_DURABILITY == "unjournaled"


@pytest.mark.parametrize("option", ["w=1", "journal=false", "readConcernLevel=local", "W=majority"])
def test_a_url_that_sets_its_own_write_or_read_concern_is_refused(option):
    with pytest.raises(ConfigurationError, match="MONGO_URL: sets"):
        load_settings(dict(GOOD, MONGO_URL=f"mongodb://db/?replicaSet=rs0&{option}"))


@pytest.mark.parametrize(
    "error, outage",
    [
        (AutoReconnect("closed"), True),
        (NotPrimaryError("stepped down"), True),
        (ServerSelectionTimeoutError("none"), True),
        (WriteConcernError("wc", 64, {}), True),
        (OperationFailure("shutting down", 91), True),
        (BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64}]}), True),
        (BulkWriteError({"writeErrors": [{"code": 11000}], "writeConcernErrors": []}), False),
        (DuplicateKeyError("dup", 11000), False),
        (OperationFailure("bad query", 2), False),
        (ValueError("bug"), False),
    ],
)
def test_only_an_unknown_outcome_counts_as_an_outage(error, outage):
    assert is_outage(error) is outage
