import pytest

from composition.cli import main


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
