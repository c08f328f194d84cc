"""Source commands: `overheard collect`, `overheard doctor`, `overheard query test|show`."""

from __future__ import annotations

import logging
import socket
import threading
import warnings
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
from rich.markup import escape

from listener.cli import config_option, console, echo_json, json_option, open_store, with_config
from listener.errors import ConfigError, UserError
from listener.sources import available_sources
from listener.store import SaveResult
from listener.timeparse import DURATION_HELP
from listener.timeparse import parse_duration as _parse_duration

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from listener.config import Config
    from listener.sources.base import Source, SourceQuery


def parse_duration(value: str) -> timedelta:
    """'90m', '12h', '7d', '2w' as a timedelta; UserError otherwise (the one grammar: listener.timeparse)."""
    return _parse_duration(value, "--backfill")


# ---------------------------------------------------------------- collect
@dataclass
class SourceRun:
    name: str
    result: SaveResult
    errors: list[str] = field(default_factory=list)


def pick_sources(config: Config, names: tuple[str, ...]) -> list[Source]:
    """The named sources (even when disabled), or every enabled one; UserError for an unknown name."""
    from listener.collect import build_sources

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
    from listener.collect import collect_source

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
              help=f"Collect from this configured source (repeatable; default: every enabled source). "
                   f"Sources: {', '.join(available_sources())}.")
@click.option("--brand", default=None, help="Only the queries of this brand or competitor.")
@click.option("--backfill", default=None, metavar="DURATION",
              help=f"Ignore the cursors and reach back this far ({DURATION_HELP}; X recent search: at most 7d).")
@json_option
@with_config(check_secrets=False)
def collect(config: Config, sources: tuple[str, ...], brand: str | None, backfill: str | None,
            as_json: bool) -> None:
    """Collect mentions once from the configured sources into the store, with a progress bar.

    Each source resumes from its stored cursor; a re-run stores nothing twice. Exit status 1 when a
    source reported an error (rate limit, refused credential, unreachable API).
    """
    from listener.commands.core import quiet_source_logs

    span = parse_duration(backfill) if backfill else None
    quiet_source_logs()
    if as_json:
        runs = run_collect(config, sources, brand=brand, backfill=span)
        echo_json([{"source": r.name, **asdict(r.result), "errors": r.errors} for r in runs])
        if any(r.errors for r in runs):
            raise SystemExit(1)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("[dim]{task.fields[counts]}"),
                  TextColumn("pages: {task.completed:.0f}"), TimeElapsedColumn(), console=console.real,
                  transient=False) as progress:
        runs = run_collect(config, sources, brand=brand, backfill=span, progress=progress)
    failed = False
    for run in runs:
        r = run.result
        console.print(f"{run.name}: {r.fetched:,} fetched, {r.new:,} new, {r.duplicates:,} already stored, "
                      f"{r.quarantined:,} quarantined", markup=False)
        for error in run.errors:
            failed = True
            console.print(f"  [yellow]error:[/] {escape(error)}", markup=True, soft_wrap=True)
    if not runs:
        console.print("No enabled sources; add a [sources.<name>] section or name one with --source.")
    if failed:
        raise SystemExit(1)


# ---------------------------------------------------------------- doctor
DOCTOR_TIMEOUT_S = 5.0  # per request; a doctor that hangs for 30 s on a dead network helps nobody
_RETRY_PHRASES = ("; the next run retries from the cursor", " (the next run retries from the cursor)")


def _hosts(section: Any) -> list[str]:
    """The hosts a source section talks to: every URL among its keys (api_url, oauth_url, base_url, feeds…)."""
    hosts: list[str] = []
    for key in type(section).model_fields:
        if key == "web_url":  # only for links shown to people, never requested
            continue
        value = getattr(section, key)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str) and v.startswith(("http://", "https://")):
                host = urlsplit(v).hostname
                if host and host not in hosts:
                    hosts.append(host)
    return hosts


def _unresolvable(host: str, timeout: float = 3.0) -> bool:
    """True when DNS cannot resolve `host` (one try, bounded: getaddrinfo has no timeout of its own)."""
    answer: list[bool] = []

    def look_up() -> None:
        try:
            socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
            answer.append(False)
        except Exception:  # noqa: BLE001 - gaierror, or anything else: either way not resolvable now
            answer.append(True)

    worker = threading.Thread(target=look_up, daemon=True)
    worker.start()
    worker.join(timeout)
    return answer[0] if answer else True


def _fail_fast(section: Any) -> Any:
    """The section with one try and short timeouts, so a dead network is reported in seconds."""
    fields = type(section).model_fields
    update = {k: v for k, v in (("max_retries", 0), ("retry_backoff_seconds", 0.0)) if k in fields}
    if "timeout_seconds" in fields:
        current = section.timeout_seconds
        update["timeout_seconds"] = type(current)(min(current, DOCTOR_TIMEOUT_S))
    return section.model_copy(update=update)


def _plain(problem: str) -> str:
    for phrase in _RETRY_PHRASES:
        problem = problem.replace(phrase, "")
    return problem


def diagnose(config: Config) -> dict[str, list[str]]:
    """Per configured source: the problems found with its credentials and reachability (empty: fine)."""
    from listener.sources import source_class

    found: dict[str, list[str]] = {}
    dead: dict[str, bool] = {}
    for name, section in config.sources.items():
        cls = source_class(name)
        assert cls is not None
        hosts = _hosts(section)
        for host in hosts:
            if host not in dead:
                dead[host] = _unresolvable(host)
        unresolved = [h for h in hosts if dead[h]]
        if unresolved:
            found[name] = [f"cannot resolve {h} (no network, or DNS is down?)" for h in unresolved]
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # prawcore and urllib3 warn about what the problem line says
                found[name] = [_plain(p) for p in cls(_fail_fast(section), config).check()]
        except UserError as exc:
            found[name] = [str(exc)]
    return found


def diagnose_replies(config: Config) -> dict[str, list[str]]:
    """Each [replies.<platform>] section's problems (a secret not set, X not connected), in words."""
    if not config.replies:
        return {}
    from alerts.replies.send import replier_for

    found: dict[str, list[str]] = {}
    with open_store(config) as store:
        for source, section in config.replies.items():
            if not getattr(section, "enabled", True):
                found[source] = []
                continue
            try:
                replier = replier_for(config, source, store)
                preflight = getattr(replier, "preflight", None)
                if preflight is not None:
                    preflight()
                found[source] = [_plain(p) for p in replier.check()]
            except UserError as exc:
                found[source] = [str(exc)]
    return found


@click.command()
@json_option
@config_option
def doctor(config_path: Path, as_json: bool) -> None:
    """Check every configured source's credentials and reachability and say exactly what is wrong.

    Each [replies.*] platform's credentials are checked too (a secret not set, X not connected).

    Makes one or two cheap requests per source (a user or subreddit lookup), one try each with short
    timeouts; a host that does not resolve is named without waiting. Exit status 1 when a problem was found.
    """
    from listener.config import load_config

    config = load_config(config_path, check_secrets=False)
    for noisy in ("prawcore", "praw", "urllib3", "tweepy"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    results = diagnose(config)
    replies = diagnose_replies(config)
    bad = any(problems and getattr(config.sources[name], "enabled", True) for name, problems in results.items())
    bad = bad or any(replies.values())
    if as_json:
        echo_json({"config": str(config.path), "ok": not bad,
                   "sources": [{"source": name, "enabled": getattr(config.sources[name], "enabled", True),
                                "problems": problems} for name, problems in results.items()],
                   "replies": [{"platform": name, "enabled": getattr(config.replies[name], "enabled", True),
                                "problems": problems} for name, problems in replies.items()]})
        if bad:
            raise SystemExit(1)
        return
    console.print(f"{config.path}: config OK", soft_wrap=True, markup=False)
    for name, problems in results.items():
        enabled = getattr(config.sources[name], "enabled", True)
        label = name if enabled else f"{name} (disabled)"
        if not problems:
            console.print(f"[green]✓[/] {escape(label)}: OK", markup=True)
            continue
        console.print(f"[red]✗[/] {escape(label)}:", markup=True)
        for problem in problems:
            console.print(f"    {problem}", markup=False, soft_wrap=True)
    if not results:
        console.print("No sources configured.")
    for name, problems in replies.items():
        label = f"replies.{name}" + ("" if getattr(config.replies[name], "enabled", True) else " (disabled)")
        if not problems:
            console.print(f"[green]✓[/] {escape(label)}: OK", markup=True)
            continue
        console.print(f"[red]✗[/] {escape(label)}:", markup=True)
        for problem in problems:
            console.print(f"    {problem}", markup=False, soft_wrap=True)
    if bad:
        raise SystemExit(1)


# ---------------------------------------------------------------- query
@click.group()
def query() -> None:
    """Try the shared query language: does a text match, and why."""


@query.command(name="test")
@click.argument("args", nargs=-1, required=True, metavar='["QUERY"] "TEXT"')
@click.option("--brand", default=None, help="Test against this brand's configured query (with its exclusions).")
@json_option
@config_option
def query_test(args: tuple[str, ...], brand: str | None, config_path: Path, as_json: bool) -> None:
    """Show whether TEXT matches QUERY and why, part by part; exit status 0 on a match, 1 otherwise.

    QUERY uses AND, OR, NOT or -, "phrases" and parentheses, e.g.
    overheard query test '(brightwave OR "bright wave") -festival' "Brightwave is down again".
    With --brand, the brand's own query from the config is used and only TEXT is given.
    A query that starts with - goes after a -- (overheard query test -- '-festival brightwave' "TEXT").
    """
    from listener.query import brand_query, explain, parse, to_reddit, to_x

    if brand:
        if len(args) != 1:
            raise UserError('with --brand give only the text: overheard query test --brand NAME "TEXT"')
        from listener.config import load_config

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
    if as_json:
        echo_json({"query": str(node), "text": text, "matched": result.matched, "why": result.lines,
                   "x": to_x(node), "reddit": to_reddit(node)})
        raise SystemExit(0 if result.matched else 1)
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
@json_option
@with_config(check_secrets=False)
def query_show(config: Config, as_json: bool) -> None:
    """Print each brand's and competitor's query, and what the X and Reddit collectors send for it."""
    from listener.query import brand_query, to_reddit, to_x
    from listener.sources.x import XSource

    x = config.sources.get("x")
    shown = []
    for tracked in config.all_tracked():
        node = brand_query(tracked)
        sent = XSource(x, config).search_query(tracked) if x is not None else to_x(node)
        shown.append({"name": tracked.name, "query": str(node), "x": sent, "reddit": to_reddit(node)})
    if as_json:
        echo_json(shown)
        return
    for s in shown:
        console.print(f"[bold]{escape(s['name'])}[/]", markup=True)
        console.print(f"  query:  {s['query']}", markup=False, soft_wrap=True)
        console.print(f"  X:      {s['x']}  ({len(s['x'])} characters)", markup=False, soft_wrap=True)
        console.print(f"  Reddit: {s['reddit']}", markup=False, soft_wrap=True)


def register(cli: click.Group) -> None:
    for command in (collect, doctor, query):
        cli.add_command(command)
