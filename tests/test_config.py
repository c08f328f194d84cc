"""Config: a mistake ends in one line naming the file, the key and the problem, exit code 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from listener.cli import cli
from listener.config import load_config
from listener.errors import ConfigError
from tests.helpers import ROOT_EXAMPLE, write_config


def error_of(tmp_path, extra="", base=None, **env) -> str:
    path = write_config(tmp_path, extra, **({"base": base} if base is not None else {}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_example_config_loads_and_names_every_section(tmp_path):
    config = load_config(ROOT_EXAMPLE, check_secrets=False)
    assert config.brand_names() == ["Brightwave"]
    assert [c.name for c in config.competitors] == ["Lumacell"]
    assert "file" in config.sources


def test_empty_keywords_names_the_key(tmp_path):
    message = error_of(tmp_path, base='[[brands]]\nname = "Acme"\nkeywords = []\n')
    assert message == "overheard.toml: brands[0].keywords: must not be empty"


def test_unknown_key_is_an_error(tmp_path):
    message = error_of(tmp_path, "[sentiment]\nscorrer = 'vader'\n")
    assert message.startswith("overheard.toml: sentiment.scorrer: unknown key")


def test_wrong_type_says_what_was_expected(tmp_path):
    message = error_of(tmp_path, "[sentiment]\nnegative_threshold = 'low'\n")
    assert message.startswith("overheard.toml: sentiment.negative_threshold: expected a number, got str")


def test_missing_secret_env_var_names_key_and_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("OVERHEARD_TEST_TOKEN", raising=False)
    extra = """
    [[alerts.receivers]]
    name = "x"
    type = "file"
    """
    path = write_config(tmp_path, extra)
    load_config(path)  # a receiver without secrets loads

    from listener.config import Section, check_config_secrets

    class WithSecret(Section):
        name: str = "s"
        token_env: str = "OVERHEARD_TEST_TOKEN"

    config = load_config(path)
    config.receivers.append(WithSecret())
    with pytest.raises(ConfigError) as info:
        check_config_secrets(config)
    assert str(info.value) == (
        "overheard.toml: alerts.receivers[1].token_env: environment variable OVERHEARD_TEST_TOKEN "
        "is not set (it holds a secret)"
    )
    monkeypatch.setenv("OVERHEARD_TEST_TOKEN", "s3cret")
    check_config_secrets(config)


def test_unknown_source_lists_the_known_ones(tmp_path):
    message = error_of(tmp_path, "[sources.myspace]\nenabled = true\n")
    assert message.startswith("overheard.toml: sources.myspace: unknown source; known: ")
    assert "file" in message


def test_nested_source_error_has_full_path(tmp_path):
    message = error_of(tmp_path, "[sources.file]\n[[sources.file.imports]]\npaths = []\n")
    assert message == "overheard.toml: sources.file.imports[0].paths: must not be empty"


def test_rule_pointing_at_missing_receiver(tmp_path):
    message = error_of(tmp_path, "[[alerts.rules]]\nname = 'r'\nreceivers = ['slack']\n")
    assert message == "overheard.toml: alerts.rules[0].receivers: no receiver named 'slack' in [[alerts.receivers]]"


def test_undefined_competitor(tmp_path):
    base = '[[brands]]\nname = "Acme"\nkeywords = ["acme"]\ncompetitors = ["Nope"]\n'
    assert error_of(tmp_path, base=base) == (
        "overheard.toml: brands[0].competitors: 'Nope' is not defined in [[competitors]]"
    )


def test_bad_time_zone(tmp_path):
    message = error_of(tmp_path, "[trends]\ntimezone = 'Mars/Olympus'\n")
    assert message.startswith("overheard.toml: trends.timezone: unknown time zone 'Mars/Olympus'")


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "overheard.toml"
    path.write_text("[[brands]\nname=", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith("overheard.toml: not valid TOML")


@pytest.mark.parametrize("extra, key", [
    ("[sentiment]\nscorrer = 'vader'\n", "sentiment.scorrer"),
    ("[sentiment]\nnegative_threshold = 'low'\n", "sentiment.negative_threshold"),
])
def test_cli_prints_one_line_and_exits_2(tmp_path, extra, key):
    path = write_config(tmp_path, extra)
    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"overheard: overheard.toml: {key}: ")


def test_cli_missing_config_file_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["check", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "nope.toml: no such file" in result.output
    assert "overheard init" in result.output


def test_config_path_from_environment(tmp_path, monkeypatch):
    path = write_config(tmp_path)
    monkeypatch.setenv("OVERHEARD_CONFIG", str(path))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    assert "brands: Brightwave; competitors: Lumacell" in result.output
