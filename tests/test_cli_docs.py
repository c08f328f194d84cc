"""Docs are checked like code: every command has help text, takes --config, and is in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

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


COMMANDS = list(_commands(cli))


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help_config_and_readme_entry(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert (command.help or "").strip(), f"overheard {' '.join(path)} has no help text"
    if path[-1] not in NO_CONFIG and path[0] not in ("demo",):
        assert "--config" in result.output, f"overheard {' '.join(path)} does not take --config"
    assert f"overheard {' '.join(path)}" in README, f"README does not mention `overheard {' '.join(path)}`"
