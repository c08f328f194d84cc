"""The `overheard` command: thin click commands over the Python API (the composition root).

Each feature's commands live in a module under listener/commands/ with a `register(cli)` function,
listed once in COMMAND_MODULES.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from listener.config import CONFIG_ENV, DEFAULT_CONFIG, Config, load_config
from listener.errors import UserError
from listener.store import Store

COMMAND_MODULES = [
    "listener.commands.core",
    "listener.commands.alerts",
    "listener.commands.collect",
    "listener.commands.queue",
    "listener.commands.trends",
    "listener.commands.sentiment",
    "listener.commands.daemon",
    "listener.commands.quarantine",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class UserFacingError(click.ClickException):
    """A UserError shown as one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"overheard: {self.format_message()}", err=True)


class OverheardGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            raise UserFacingError(str(exc)) from None


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--config PATH` on every command (env OVERHEARD_CONFIG, default ./overheard.toml)."""
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar=CONFIG_ENV,
        default=DEFAULT_CONFIG, show_default=True, show_envvar=True, help="The config file.",
    )(func)


def with_config(check_secrets: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Load the config once and pass it as `config` (errors become one line, exit 2)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @config_option
        @functools.wraps(func)
        def wrapper(*args: Any, config_path: Path, **kwargs: Any) -> Any:
            return func(*args, config=load_config(config_path, check_secrets=check_secrets), **kwargs)

        return wrapper

    return decorate


def open_store(config: Config) -> Store:
    return Store(config.db_path)


@click.group(cls=OverheardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="overheard")
@click.option("--verbose", "-v", is_flag=True, help="Log what each stage does.")
def cli(verbose: bool) -> None:
    """overheard: hear what customers say about your brand, catch unhappy ones early, answer them."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(cli)


def main() -> None:
    cli(prog_name="overheard")
