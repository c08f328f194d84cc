"""Docs are checked like code: every command has help text, takes --config, and is in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from listener.cli import COMMANDS as LISTED
from listener.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
NO_CONFIG = {"init"}  # writes a config; takes a path instead


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        path = prefix + (name,)
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path, command


cli.load_all()
COMMANDS = list(_commands(cli))


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help_config_and_readme_entry(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert (command.help or "").strip(), f"overheard {' '.join(path)} has no help text"
    if path[-1] not in NO_CONFIG and path[0] not in ("demo",):
        assert "--config" in result.output, f"overheard {' '.join(path)} does not take --config"
    assert f"overheard {' '.join(path)}" in README, f"README does not mention `overheard {' '.join(path)}`"


def test_top_level_help_lines_match_the_commands():
    """`overheard --help` lists commands without importing them: its lines must be the commands' own."""
    for name, command in cli.commands.items():
        assert name in LISTED, f"add {name!r} to listener.cli.COMMANDS"
        module, short = LISTED[name]
        assert command.get_short_help_str(1000) == short, f"listener.cli.COMMANDS[{name!r}] is out of date"
        assert (command.callback.__module__ if command.callback else module) == module
    assert set(LISTED) <= set(cli.commands)


# Commands that print data a script may want take --json; the rest only act and say what they did.
# A new command goes in one of the two sets, so nobody adds a data command and forgets --json.
PRINTS_DATA = {
    "alerts backtest", "alerts deliver", "alerts list", "alerts silence list", "check", "collect", "demo", "doctor",
    "import", "query show", "query test", "queue list", "queue show", "queue stats", "queue dashboard", "run",
    "sentiment eval", "queue route", "db check",
    "status", "trends", "users list", "quarantine list", "quarantine show", "quarantine retry", "topics",
    # the one-item queue actions print the item they changed
    "queue assign", "queue claim", "queue dismiss", "queue note", "queue reopen", "queue reply", "queue resolve",
    "queue snooze", "queue tag", "queue unassign", "queue wait", "queue wake",
    # the reply action prints the attempt and its outcome
    "queue approve", "queue reject", "queue retry", "queue replies",
}
ONLY_ACTS = {
    "alerts silence add", "alerts silence expire", "alerts test", "forget", "init", "queue relabel", "report",
    "sentiment label", "sentiment train", "serve", "users add", "users disable", "users passwd",
    "db copy",
    "score",  # its output is JSON lines already
    "connect x",
}


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_data_command_has_json(path, command):
    name = " ".join(path)
    assert (name in PRINTS_DATA) != (name in ONLY_ACTS), f"put `overheard {name}` in PRINTS_DATA or ONLY_ACTS"
    has_json = any("--json" in p.opts for p in command.params if isinstance(p, click.Option))
    assert has_json == (name in PRINTS_DATA), f"overheard {name}: --json is {'missing' if not has_json else 'extra'}"
