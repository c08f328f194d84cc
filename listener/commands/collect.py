"""Source commands: `overheard collect`, `overheard doctor`, `overheard query test|show`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from listener.cli import config_option, console, open_store, with_config
from listener.collect import build_sources, collect_source
from listener.config import Config, load_config
from listener.errors import ConfigError, UserError
from listener.query import brand_query, explain, parse, to_reddit, to_x
from listener.sources.base import Source, SourceQuery
from listener.store import SaveResult

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$", re.IGNORECASE)
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str) -> timedelta:
    """'90m', '12h', '7d', '2w' as a timedelta; UserError otherwise."""
    m = _DURATION.match(value or "")
    if not m:
        raise UserError(f"--backfill {value!r}: use a number and a unit, e.g. 90m, 12h, 7d or 2w")
    return timedelta(**{_UNIT[m.group(2).lower()]: float(m.group(1))})


# ---------------------------------------------------------------- collect
@dataclass
class SourceRun:
    name: str
    result: SaveResult
    errors: list[str] = field(default_factory=list)


def pick_sources(config: Config, names: tuple[str, ...]) -> list[Source]:
    """The named sources (even when disabled), or every enabled one; UserError for an unknown name."""
    for name in names:
        if name not in config.sources:
            configured = ", ".join(config.sources) or "none"
            raise ConfigError(config.path.name, f"sources.{name}",
                              f"no [sources.{name}] section (configured: {configured})")
    for name in names or [n for n, s in config.sources.items() if getattr(s, "enabled", True)]:
        section = config.sources[name]
        for key in type(section).model_fields:
            if key.endswith("_env") and getattr(section, key):
                config.secret(f"sources.{name}.{key}", getattr(section, key))
    return build_sources(config, list(names) or None)


def run_collect(config: Config, names: tuple[str, ...] = (), *, brand: str | None = None,
                backfill: timedelta | None = None, progress: Progress | None = None) -> list[SourceRun]:
    """Collect once from the chosen sources into the store; what the `collect` command does."""
    if brand and brand not in [t.name for t in config.all_tracked()]:
        raise UserError(f"--brand {brand!r}: not a name from [[brands]] or [[competitors]]")
    runs = []
    with open_store(config) as store:
        for source in pick_sources(config, names):
            shown = _QueryProgress(progress, source.name)
            result, errors = collect_source(store, source, backfill=backfill, brand=brand,
                                            on_batch=shown.on_batch, on_query=shown.on_query)
            runs.append(SourceRun(source.name, result, errors))
    return runs


class _QueryProgress:
    """One progress line per query: pages stored so far and what they held."""

    def __init__(self, progress: Progress | None, source: str) -> None:
        self.progress, self.source = progress, source
        self.task: TaskID | None = None
        self.totals = SaveResult()

    def on_query(self, query: SourceQuery) -> None:
        self.totals = SaveResult()
        if self.progress is not None:
            self.task = self.progress.add_task(f"{self.source} · {query.key}", total=None, counts="")

    def on_batch(self, saved: SaveResult) -> None:
        for attr in ("fetched", "new", "duplicates", "quarantined"):
            setattr(self.totals, attr, getattr(self.totals, attr) + getattr(saved, attr))
        if self.progress is not None and self.task is not None:
            t = self.totals
            self.progress.update(self.task, advance=1,
                                 counts=f"{t.fetched} fetched, {t.new} new, {t.quarantined} quarantined")


@click.command()
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Collect from this configured source (repeatable; default: every enabled source).")
@click.option("--brand", default=None, help="Only the queries of this brand or competitor.")
@click.option("--backfill", default=None, metavar="DURATION",
              help="Ignore the cursors and reach back this far, e.g. 7d, 12h (X recent search: at most 7d).")
@with_config(check_secrets=False)
def collect(config: Config, sources: tuple[str, ...], brand: str | None, backfill: str | None) -> None:
    """Collect mentions once from the configured sources into the store, with a progress bar.

    Each source resumes from its stored cursor; a re-run stores nothing twice. Exit status 1 when a
    source reported an error (rate limit, refused credential, unreachable API).
    """
    span = parse_duration(backfill) if backfill else None
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("[dim]{task.fields[counts]}"),
                  TextColumn("pages: {task.completed:.0f}"), TimeElapsedColumn(), console=console,
                  transient=False) as progress:
        runs = run_collect(config, sources, brand=brand, backfill=span, progress=progress)
    failed = False
    for run in runs:
        r = run.result
        console.print(f"{run.name}: {r.fetched} fetched, {r.new} new, {r.duplicates} already stored, "
                      f"{r.quarantined} quarantined")
        for error in run.errors:
            failed = True
            console.print(f"  [yellow]error:[/] {escape(error)}", markup=True, soft_wrap=True)
    if not runs:
        console.print("No enabled sources; add a [sources.<name>] section or name one with --source.")
    if failed:
        raise SystemExit(1)


# ---------------------------------------------------------------- doctor
def diagnose(config: Config) -> dict[str, list[str]]:
    """Per configured source: the problems found with its credentials and reachability (empty: fine)."""
    from listener.sources import source_class

    found: dict[str, list[str]] = {}
    for name, section in config.sources.items():
        cls = source_class(name)
        assert cls is not None
        try:
            found[name] = cls(section, config).check()
        except UserError as exc:
            found[name] = [str(exc)]
    return found


@click.command()
@config_option
def doctor(config_path: Path) -> None:
    """Check every configured source's credentials and reachability and say exactly what is wrong.

    Makes one or two cheap requests per source (a user or subreddit lookup). Exit status 1 when a
    problem was found.
    """
    config = load_config(config_path, check_secrets=False)
    console.print(f"{config.path}: config OK", soft_wrap=True)
    results = diagnose(config)
    bad = False
    for name, problems in results.items():
        enabled = getattr(config.sources[name], "enabled", True)
        label = name if enabled else f"{name} (disabled)"
        if not problems:
            console.print(f"[green]✓[/] {label}: OK", markup=True)
            continue
        bad = bad or enabled
        console.print(f"[red]✗[/] {label}:", markup=True)
        for problem in problems:
            console.print(f"    {problem}", markup=False, soft_wrap=True)
    if not results:
        console.print("No sources configured.")
    if bad:
        raise SystemExit(1)


# ---------------------------------------------------------------- query
@click.group()
def query() -> None:
    """Try the shared query language: does a text match, and why."""


@query.command(name="test")
@click.argument("args", nargs=-1, required=True, metavar='["QUERY"] "TEXT"')
@click.option("--brand", default=None, help="Test against this brand's configured query (with its exclusions).")
@config_option
def query_test(args: tuple[str, ...], brand: str | None, config_path: Path) -> None:
    """Show whether TEXT matches QUERY and why, part by part; exit status 0 on a match, 1 otherwise.

    QUERY uses AND, OR, NOT or -, "phrases" and parentheses, e.g.
    overheard query test '(brightwave OR "bright wave") -festival' "Brightwave is down again".
    With --brand, the brand's own query from the config is used and only TEXT is given.
    A query that starts with - goes after a -- (overheard query test -- '-festival brightwave' "TEXT").
    """
    if brand:
        if len(args) != 1:
            raise UserError('with --brand give only the text: overheard query test --brand NAME "TEXT"')
        config = load_config(config_path, check_secrets=False)
        tracked = next((t for t in config.all_tracked() if t.name == brand), None)
        if tracked is None:
            raise UserError(f"--brand {brand!r}: not a name from [[brands]] or [[competitors]]")
        node, text = brand_query(tracked), args[0]
    else:
        if len(args) != 2:
            raise UserError('give a query and a text: overheard query test "QUERY" "TEXT"')
        node, text = parse(args[0]), args[1]
    result = explain(node, text)
    console.print(f"[bold]{'MATCH' if result.matched else 'NO MATCH'}[/]  query: {escape(str(node))}", markup=True,
                  soft_wrap=True)
    for line in result.lines:
        console.print("  " + line, markup=False, soft_wrap=True)
    console.print(f"  sent to X as:      {to_x(node)}", markup=False, soft_wrap=True)
    console.print(f"  sent to Reddit as: {to_reddit(node)}  (then matched here as above)", markup=False,
                  soft_wrap=True)
    if not result.matched:
        raise SystemExit(1)


@query.command(name="show")
@with_config(check_secrets=False)
def query_show(config: Config) -> None:
    """Print each brand's and competitor's query, and what the X and Reddit collectors send for it."""
    from listener.sources.x import XSource

    x = config.sources.get("x")
    for tracked in config.all_tracked():
        node = brand_query(tracked)
        console.print(f"[bold]{tracked.name}[/]", markup=True)
        console.print(f"  query:  {node}", markup=False, soft_wrap=True)
        sent = XSource(x, config).search_query(tracked) if x is not None else to_x(node)
        console.print(f"  X:      {sent}  ({len(sent)} characters)", markup=False, soft_wrap=True)
        console.print(f"  Reddit: {to_reddit(node)}", markup=False, soft_wrap=True)


def register(cli: click.Group) -> None:
    for command in (collect, doctor, query):
        cli.add_command(command)
