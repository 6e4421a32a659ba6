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
