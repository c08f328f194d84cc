"""The `overheard` command: thin click commands over the Python API (the composition root).

Each feature's commands live in a module under listener/commands/ with a `register(cli)` function,
listed once in COMMAND_MODULES. The modules are imported only when one of their commands runs:
`overheard --help`, `--version` and the queue/status commands must answer about as fast as Python
starts (benchmarks/startup.py measures it), so nothing heavy (pydantic, sqlite-utils, numpy, rich) is
imported at the top of this module.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from listener import __version__
from listener.errors import UserError

if TYPE_CHECKING:
    from rich.console import Console

    from listener.config import Config
    from listener.store import Store

CONFIG_ENV = "OVERHEARD_CONFIG"  # the same values as listener.config's, kept here so --help needs no pydantic
DEFAULT_CONFIG = "overheard.toml"

COMMAND_MODULES = [
    "listener.commands.core",
    "listener.commands.alerts",
    "listener.commands.collect",
    "listener.commands.queue",
    "listener.commands.trends",
    "listener.commands.sentiment",
    "listener.commands.daemon",
    "listener.commands.quarantine",
    "listener.commands.replies",
    "listener.commands.db",
]

# Which module registers each top-level command, and its one-line help for `overheard --help` (so the
# list needs no import; tests/test_cli_docs.py checks these lines against the commands themselves).
# A module in COMMAND_MODULES whose commands are not listed here is still found, just imported eagerly.
COMMANDS: dict[str, tuple[str, str]] = {
    'alerts': ('listener.commands.alerts',
              'Alerts: the outbox, silences, receiver tests and rule backtests.'),
    'check': ('listener.commands.core',
             'Validate the config: every key, type and secret env var; prints what it found.'),
    'connect': ('listener.commands.replies',
                'Connect the brand\'s accounts the queue replies as (tokens kept encrypted in the database).'),
    'collect': ('listener.commands.collect',
               'Collect mentions once from the configured sources into the store, with a progress bar.'),
    'db': ('listener.commands.db',
           'The store itself: copy a SQLite store to PostgreSQL and check the copy.'),
    'demo': ('listener.commands.core',
            'Run the whole pipeline on bundled demo data (a fictional brand), safe to re-run.'),
    'doctor': ('listener.commands.collect',
              "Check every configured source's credentials and reachability and say exactly what is wrong."),
    'forget': ('listener.commands.daemon',
              "Remove a person's data on request: mentions, scores, labels, author record, quoted text, links."),
    'import': ('listener.commands.core',
              'Import JSONL or CSV exports (default field names; see [sources.file] for mapping) and process them.'),
    'init': ('listener.commands.core',
            'Write a starting config (the commented example) to PATH.'),
    'quarantine': ('listener.commands.quarantine',
                   'Rows and mentions set aside with where they came from and why; list, show and retry them.'),
    'query': ('listener.commands.collect',
             'Try the shared query language: does a text match, and why.'),
    'queue': ('listener.commands.queue',
             'The support queue: flagged threads to claim, answer and resolve (same rules as the web UI).'),
    'report': ('listener.commands.trends',
              'Write one self-contained HTML report: headline figures, change, charts, threads, themes, queue.'),
    'run': ('listener.commands.daemon',
           'Run the daemon: collect every source on its schedule, score, flag, alert, write trend files.'),
    'score': ('listener.commands.sentiment',
             'Score texts from FILE (or stdin, `-`): one JSON line per text with id, label, compound, '
             'confidence, lang, model and themes.'),
    'sentiment': ('listener.commands.sentiment',
                 'Train, evaluate and correct the sentiment model.'),
    'serve': ('listener.commands.queue',
             'Serve the queue web UI and the Slack button endpoint (127.0.0.1 unless told otherwise).'),
    'status': ('listener.commands.daemon',
              'Show the daemon, each source (last success, next run, counts, errors), the queue and the outbox.'),
    'topics': ('listener.commands.trends',
               'Emerging topics: terms, phrases, hashtags and domains that grew most, and near-duplicate clusters.'),
    'trends': ('listener.commands.trends',
              'Write the trend files: tidy CSV and JSON per period (and PNG charts), times in [trends].timezone.'),
    'users': ('listener.commands.queue',
             'People who can log in to the queue web UI.'),
}


class _LazyConsole:
    """`console.print(...)` without importing rich until something is printed."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._console: Console | None = None
        self._columns: str | None = None

    @property
    def real(self) -> Console:
        # rich reads COLUMNS once, when the console is made: make it again when COLUMNS changed (a program
        # that runs several commands in one process, with different widths, as the tests do).
        if self._console is not None and os.environ.get("COLUMNS") != self._columns:
            self._console = None
        if self._console is None:
            self._columns = os.environ.get("COLUMNS")
            from rich.console import Console

            from listener.text import safe_console

            # Every field printed passes listener.text.for_terminal (no escape sequences, control or bidi
            # characters) and listener.masking.mask (no configured secret).
            self._console = safe_console(Console(**self._kwargs))
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


console: Any = _LazyConsole(highlight=False)
err_console: Any = _LazyConsole(stderr=True, highlight=False)


class UserFacingError(click.ClickException):
    """A UserError shown as one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        from listener.masking import mask
        from listener.text import for_terminal

        # A config with several problems names each on its own line.
        for line in self.format_message().splitlines() or [""]:
            click.echo(f"overheard: {for_terminal(mask(line), one_line=True)}", err=True)


class OverheardGroup(click.Group):
    """The root group: user errors become one line and exit 2; commands load on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()

    def _load(self, module: str) -> None:
        if module not in self._loaded:
            self._loaded.add(module)
            importlib.import_module(module).register(self)

    def _load_unlisted(self) -> None:
        listed = {m for m, _ in COMMANDS.values()}
        for module in COMMAND_MODULES:
            if module not in listed:
                self._load(module)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_unlisted()
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            if cmd_name in COMMANDS:
                self._load(COMMANDS[cmd_name][0])
            else:
                self._load_unlisted()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        for name in names:
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append((name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def load_all(self) -> None:
        """Import every command module (tests and docs checks walk the whole tree)."""
        for module in COMMAND_MODULES:
            self._load(module)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            raise UserFacingError(str(exc)) from None


def _config_from_root(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """A subcommand's --config not given after it takes `overheard --config X ...` from before it (an
    option typed on the command line beats $OVERHEARD_CONFIG wherever it was typed)."""
    source = ctx.get_parameter_source(param.name or "")
    if source in (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.ENVIRONMENT, None):
        root = ctx.find_root().meta.get("overheard.config")
        if root is not None:
            return Path(root)
    return value


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--config PATH` on every command (env OVERHEARD_CONFIG, default ./overheard.toml)."""
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar=CONFIG_ENV,
        default=DEFAULT_CONFIG, show_default=True, show_envvar=True, help="The config file.",
        callback=_config_from_root,
    )(func)


def with_config(check_secrets: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Load the config once and pass it as `config` (errors become one line, exit 2)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @config_option
        @functools.wraps(func)
        def wrapper(*args: Any, config_path: Path, **kwargs: Any) -> Any:
            from listener.config import load_config

            return func(*args, config=load_config(config_path, check_secrets=check_secrets), **kwargs)

        return wrapper

    return decorate


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--json`: the same data as the table, for scripts (every command that prints data has it)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def echo_json(data: Any) -> None:
    import json

    from listener.text import terminal_json

    # Decodes to the same values; C1 controls and bidi characters are written as \uXXXX escapes.
    click.echo(terminal_json(json.dumps(data, ensure_ascii=False, indent=2, default=str)))


def open_store(config: Config) -> Store:
    from listener.store import Store

    return Store(config.database)


def _root_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None:
        ctx.meta["overheard.config"] = value
    return value


@click.group(cls=OverheardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="overheard")
@click.option("--config", "root_config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              expose_value=False, is_eager=True, callback=_root_config,
              help="The config file, for whichever command follows (same as its own --config).")
@click.option("--verbose", "-v", is_flag=True, help="Log what each stage does.")
def cli(verbose: bool) -> None:
    """overheard: hear what customers say about your brand, catch unhappy ones early, answer them."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from listener.masking import install_on_root

    install_on_root()  # the secrets of the config loaded next are masked in these lines too


def main() -> None:
    cli(prog_name="overheard")
