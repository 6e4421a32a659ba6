import pytest

from composition.cli import main
from leitai.eventstore.notes import Signer
from leitai.witness.cosignature import CosignatureVerifier, Cosigner


def test_a_missing_setting_stops_the_command_naming_it(monkeypatch, capsys):
    monkeypatch.delenv("AMQP_URI", raising=False)
    assert main(["dlq", "list", "some-queue"]) == 2
    assert "AMQP_URI" in capsys.readouterr().err


def test_an_unreachable_broker_is_one_clear_line_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("AMQP_URI", "amqp://guest:guest@127.0.0.1:1/")
    monkeypatch.setattr("kombu.utils.functional.sleep", lambda seconds: None)  # kombu's pause before it retries
    assert main(["dlq", "list", "some-queue"]) == 3
    err = capsys.readouterr().err
    assert "RabbitMQ did not answer" in err and "Traceback" not in err


@pytest.mark.parametrize("sources", ["not json", '{"registration": "bad name!"}'])
def test_replay_sources_from_the_environment_are_validated(monkeypatch, capsys, sources):
    monkeypatch.setenv("MONGO_URL", "mongodb://127.0.0.1:1")
    monkeypatch.setenv("MONGO_DATABASE", "leitai_ranking")
    monkeypatch.setenv("LEITAI_SOURCES", sources)
    assert main(["replay", "ranking"]) == 2
    assert "LEITAI_SOURCES" in capsys.readouterr().err


def test_an_unknown_catalogue_is_a_configuration_error(monkeypatch, capsys):
    monkeypatch.setenv("MONGO_URL", "mongodb://127.0.0.1:1")
    monkeypatch.setenv("MONGO_DATABASE", "leitai_scoring")
    assert main(["verify", "--catalogue", "no.such.module:CATALOGUE"]) == 2
    assert "--catalogue no.such.module" in capsys.readouterr().err


def test_a_missing_or_malformed_config_file_is_a_configuration_error_naming_it(tmp_path, capsys):
    missing = tmp_path / "missing.yaml"
    assert main(["--config", str(missing), "verify"]) == 2
    err = capsys.readouterr().err
    assert f"--config {missing}" in err and "RabbitMQ" not in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("MONGO_URL: [unclosed\n")
    assert main(["--config", str(broken), "verify"]) == 2
    assert f"--config {broken}: not valid YAML" in capsys.readouterr().err
    listed = tmp_path / "list.yaml"
    listed.write_text("- MONGO_URL\n")
    assert main(["--config", str(listed), "verify"]) == 2
    assert "must hold a mapping" in capsys.readouterr().err


def test_migrate_needs_the_source_databases_and_names_a_missing_broker_setting(monkeypatch, capsys):
    monkeypatch.delenv("AMQP_URI", raising=False)
    monkeypatch.setenv("MONGO_URL", "mongodb://127.0.0.1:1")
    monkeypatch.setenv("MONGO_DATABASE", "leitai_ranking")
    assert main(["migrate"]) == 2
    assert "AMQP_URI" in capsys.readouterr().err


# -- leitai grant: what is wrong is said by the option, before the store is reached -----------
@pytest.fixture
def unreachable_store(monkeypatch):
    """A store that would not answer: every refusal below comes before it is asked."""
    monkeypatch.setenv("MONGO_URL", "mongodb://127.0.0.1:1/")
    monkeypatch.setenv("MONGO_DATABASE", "leitai_registration")


JUDGE_J1 = ["grant", "mint", "--role", "judge", "--id", "J1", "--contest", "boai-2026"]


@pytest.mark.parametrize(
    "args, said",
    [
        ([*JUDGE_J1, "--days", "0"], "--days 0: a whole number of days from 1 to 366"),
        ([*JUDGE_J1, "--days", "367"], "--days 367: a whole number of days from 1 to 366"),
        ([*JUDGE_J1, "--days", "thirty"], "--days thirty: a whole number of days"),
        ([*JUDGE_J1, "--days", "-5"], "--days -5: a whole number of days"),
        (["grant", "mint", "--role", "judge", "--id", "J1", "--office", "boai"], "--contest: a judge's grant names"),
        (["grant", "mint", "--role", "judge", "--id", "J 1!", "--contest", "c"], "--id: "),
        ([*JUDGE_J1, "--base-url", "ftp://host"], "--base-url ftp://host: give the gateway's address"),
        ([*JUDGE_J1, "--base-url", "leitai.example.gov.cn"], "--base-url leitai.example.gov.cn: give"),
        ([*JUDGE_J1, "--base-url", "https://h", "--qr", "code.gif"], "--qr code.gif: give a file name ending in .png"),
        ([*JUDGE_J1, "--qr", "code.png"], "--qr: give --base-url too"),
        (
            [
                "grant",
                "mint",
                "--role",
                "screen",
                "--id",
                "hall",
                "--contest",
                "c",
                "--base-url",
                "https://h",
                "--qr",
                "s.svg",
            ],
            "--qr: a screen has no sign-in link",
        ),
        ([*JUDGE_J1, "--base-url", "https://h", "--qr", "/no/such/folder/code.png"], "no folder /no/such/folder"),
        ([*JUDGE_J1, "--by", " "], "--by: say who you are"),
        (["grant", "revoke", "grant-0123456789ab", "--reason", "  "], "--reason: say why"),
    ],
)
def test_grant_refuses_in_plain_words_naming_the_option(unreachable_store, capsys, args, said):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and "MongoDB" not in err


@pytest.mark.parametrize(
    "args, said",
    [
        (["grant", "mint", "--role", "judge", "--id", "J1"], "one of the arguments --contest --office --deployment"),
        ([*JUDGE_J1, "--office", "boai"], "--office: not allowed with argument --contest"),
        (["grant", "mint", "--role", "chair", "--id", "J1", "--contest", "c"], "--role: invalid choice: 'chair'"),
        (["grant", "list", "--contest", "c", "--office", "o"], "--office: not allowed with argument --contest"),
        (["grant", "revoke", "grant-0123456789ab"], "the following arguments are required: --reason"),
    ],
)
def test_grant_usage_errors_name_the_option_and_exit_2(unreachable_store, capsys, args, said):
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2 and said in capsys.readouterr().err


def test_witness_keygen_writes_a_private_file_once_and_prints_the_vkey(tmp_path, capsys):
    key = tmp_path / "witness.key"
    assert main(["witness", "keygen", "witness.jijian.test", "-o", str(key)]) == 0
    printed = capsys.readouterr().out.splitlines()[-1]
    assert CosignatureVerifier.decode(printed) == Cosigner.from_file(key).verifier
    assert key.stat().st_mode & 0o077 == 0
    assert main(["witness", "keygen", "other", "-o", str(key)]) == 2
    assert "never overwritten" in capsys.readouterr().err


def _serve_args(tmp_path, **given: str) -> list[str]:
    key = tmp_path / "witness.key"
    if not key.exists():
        Cosigner.generate("witness.jijian.test").write(key)
    options = {
        "--key": str(key),
        "--log": f"leitai.test/scoring {Signer.generate('leitai.test').verifier.encoded()}",
        "--state": str(tmp_path / "state.json"),
        "--listen": "127.0.0.1:0",
    }
    options.update(given)
    return ["witness", "serve", *(word for option, value in options.items() for word in (option, value))]


@pytest.mark.parametrize(
    "option, value, said",
    [
        ("--key", "/no/such/file", "--key /no/such/file: witness key file"),
        ("--log", "leitai.test/scoring", "--log #1: reads 'ORIGIN VERIFIER_KEY'"),
        ("--log", "leitai.test/scoring not+a+key", "--log #1 (leitai.test/scoring): the verifier key"),
        ("--listen", "8380", "--listen 8380: reads HOST:PORT"),
        ("--listen", "127.0.0.1:99999", "--listen 127.0.0.1:99999: reads HOST:PORT"),
    ],
)
def test_witness_serve_checks_its_options_before_it_listens(tmp_path, capsys, option, value, said):
    assert main(_serve_args(tmp_path, **{option: value})) == 2
    assert said in capsys.readouterr().err


def test_witness_serve_refuses_a_state_file_that_is_no_witness_s(tmp_path, capsys):
    (tmp_path / "state.json").write_text("[]")
    assert main(_serve_args(tmp_path)) == 2
    assert "--state " in capsys.readouterr().err


def test_a_log_s_key_is_no_witness_key(tmp_path, capsys):
    Signer.generate("leitai.test").write(tmp_path / "witness.key")
    assert main(_serve_args(tmp_path)) == 2
    assert "not an Ed25519 witness key" in capsys.readouterr().err
