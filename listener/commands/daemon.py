"""Daemon commands: `overheard run` (or `run --once`), `overheard status`, `overheard forget`."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from listener.cli import console, echo_json, json_option, open_store, with_config
from listener.display import local_time, plural
from listener.models import parse_iso
from listener.text import for_terminal, terminal_json

if TYPE_CHECKING:
    from listener.config import Config


@click.command()
@click.option("--once", is_flag=True, help="One pass over every source, print a summary and exit.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Daemon log lines (stderr): readable text, or one JSON object per line.")
@click.option("--quiet", "-q", is_flag=True, help="Log warnings and errors only (not every run and alert).")
@click.option("--join", is_flag=True,
              help="Run as one of several workers on this store (this host or others): they share the work.")
@json_option
@with_config()
def run(config: Config, once: bool, log_format: str, quiet: bool, join: bool, as_json: bool) -> None:
    """Run the daemon: collect every source on its schedule, score, flag, alert, write trend files.

    Runs in the foreground until SIGTERM or Ctrl-C (it finishes the current write, then exits).
    Everything it needs to resume is in the database, so a restart — even after kill -9 — loses
    nothing and sends no alert twice. Streams ([streams.*]) stay connected while it runs and
    their posts are alerted at once. With --once: one pass of the polling sources, then exit (status 1
    when a source failed; `overheard status` then shows it unhealthy). With --join: one of several
    workers on the store (start each with it), sharing sources and stages; none fetches or alerts twice.
    """
    if once:
        from listener.commands.core import print_errors, quiet_source_logs, summary_json, summary_table
        from listener.pipeline import run_pipeline

        quiet_source_logs()
        with open_store(config) as store:
            report = run_pipeline(config, store)
            counts = store.counts()
        if as_json:
            echo_json(summary_json(counts, report, report.trend_files))
        else:
            print_errors(report)
            console.print(summary_table(counts, report, report.trend_files))
        if report.collected.errors:
            sys.exit(1)
        return
    if as_json:
        raise click.UsageError("--json goes with --once (the daemon logs JSON with --log-format json)")
    from listener.logs import config_secrets, setup_logging
    from listener.scheduler import Daemon

    with open_store(config):
        pass  # a database that cannot be used ends here in one line, before the daemon takes its lock

    setup_logging(log_format, logging.WARNING if quiet else logging.INFO,  # type: ignore[arg-type]
                  secrets=config_secrets(config))
    daemon = Daemon(config, join=join)
    daemon.run()
    if daemon.stopping.is_set():
        # A job still stuck in a network call after the shutdown timeout must not keep us alive;
        # every write is a transaction, so leaving now is as safe as a crash.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@click.command()
@json_option
@with_config(check_secrets=False)
def status(config: Config, as_json: bool) -> None:
    """Show the daemon, each source (last success, next run, counts, errors), the queue and the outbox.

    Exit code 0 when everything is healthy, 1 when a source is unhealthy, a stream stays down (5 min
    with no event while it fails to reconnect), an alert was given up on,
    or an SLA is breached (handy for monitoring).
    """
    from listener.status import read_status

    with open_store(config) as store:
        st = read_status(store, config)
    if as_json:
        click.echo(terminal_json(json.dumps(st.to_dict(), indent=2, ensure_ascii=False)))
    else:
        _print_status(st, config.queue.timezone)
    sys.exit(0 if st.healthy else 1)


def _relative(stamp: str | None, now: datetime) -> str:
    """`12s ago`, `in 3m`: easier to read at a glance than a timestamp."""
    if not stamp:
        return "never" if stamp is None else "—"
    seconds = (parse_iso(stamp) - now).total_seconds()
    size = abs(seconds)
    text = (f"{size:.0f}s" if size < 90 else f"{size / 60:.0f}m" if size < 5400
            else f"{size / 3600:.1f}h" if size < 172800 else f"{size / 86400:.0f}d")
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _print_workers(st: object, now: datetime, tz_name: str) -> None:
    """The workers on the store (`run --join`, docs/running.md#several-workers) and what each holds."""
    from rich.table import Table

    from listener.status import Status

    assert isinstance(st, Status)
    table = Table(title="workers (from their leases)", title_justify="left")
    for col in ("host", "pid", "state", "started", "last renewal", "holds"):
        table.add_column(col)
    colours = {"live": "green", "expired": "red", "gone": "red"}
    for w in st.workers:
        state = w.state
        if w.state == "expired" and w.expires_at:
            state = f"expired {_relative(w.expires_at, now)}"
        elif w.state == "gone":
            state = "gone (process ended)"
        if not w.started_at:
            state += " (one-off pass)"
        holds = ", ".join(w.leases) or "—"
        if w.expired_leases:
            holds += f" (run out: {', '.join(w.expired_leases)})"
        table.add_row(escape(w.host), str(w.pid or "?"), f"[{colours.get(w.state, 'white')}]{escape(state)}[/]",
                      local_time(w.started_at, tz_name, seconds=True) if w.started_at else "—",
                      _relative(w.renewed_at, now),
                      escape(holds))
    console.print(table)


def _print_status(st: object, tz_name: str = "UTC") -> None:
    from rich.table import Table

    from listener.status import Status

    assert isinstance(st, Status)
    daemons = [w for w in st.workers if w.started_at]  # `run` workers, not one-off passes
    live = [w for w in daemons if w.state == "live"]
    if len(daemons) > 1 or (live and not st.daemon_running):  # several workers (`run --join`): listed below
        where = "" if st.daemon_running else "; none on this host"
        console.print(f"daemon: [green]{plural(len(live), 'worker')} live[/] on the store"
                      f"{f', [red]{len(daemons) - len(live)} not[/]' if len(daemons) > len(live) else ''}{where}")
    elif st.daemon_running:
        console.print(f"daemon: [green]running[/] (pid {st.daemon_pid or '?'}, since "
                      f"{local_time(st.daemon_started_at, tz_name)})")
    else:
        last = f"; last stopped {local_time(st.daemon_stopped_at, tz_name)}" if st.daemon_stopped_at else ""
        console.print(f"daemon: [yellow]not running[/]{last}")
    now = parse_iso(st.now)
    if st.workers:
        _print_workers(st, now, tz_name)
    table = Table(title="sources (last 24 h)", title_justify="left")
    for col in ("source", "health", "last success", "next run", "runs", "new", "dup", "quar", "err"):
        table.add_column(col, justify="right" if col in ("runs", "new", "dup", "quar", "err") else "left")
    colours = {"ok": "green", "failing": "red", "auth": "red", "quiet": "yellow"}
    for s in st.sources:
        health = s.state + (f" ×{s.consecutive_failures}" if s.consecutive_failures else "")
        if not s.enabled:
            health += " (off)"
        next_run = _relative(s.next_run_at, now) if s.next_run_at else "—"
        if s.backoff_until:
            next_run += " (backoff)"
        table.add_row(escape(s.source), f"[{colours.get(s.state, 'white')}]{escape(health)}[/]",
                      _relative(s.last_success_at, now),
                      next_run, str(s.runs_24h), str(s.new_24h), str(s.duplicates_24h), str(s.quarantined_24h),
                      str(s.errors_24h))
    console.print(table)
    for s in st.sources:
        if s.last_error and s.state != "ok":
            console.print(f"  {s.source}: {s.last_error[:200]}", markup=False)
    if st.streams:
        from rich.table import Table

        streams = Table(title="streams (since the daemon started)", title_justify="left")
        for col in ("stream", "state", "since", "last event", "lag", "events", "new", "reconnects", "errors"):
            streams.add_column(col, justify="right" if col in ("lag", "events", "new", "reconnects", "errors")
                               else "left")
        for x in st.streams:
            state = x.state + (f" (retry {_relative(x.retry_at, now)})" if x.state == "backoff" and x.retry_at else "")
            colour = {"connected": "green", "backoff": "red"}.get(x.state, "yellow")
            streams.add_row(x.stream, f"[{colour}]{state}[/]", _relative(x.connected_since, now) if x.connected_since
                            else "—", _relative(x.last_event_at, now),
                            "—" if x.lag_seconds is None else f"{x.lag_seconds:.1f}s", f"{x.events:,}",
                            str(x.mentions), str(x.reconnects), str(x.errors))
        console.print(streams)
        for x in st.streams:
            if x.last_error and x.state != "connected":
                console.print(f"  {x.stream}: {x.last_error[:200]}", markup=False)
    console.print(f"mentions stored: {st.mentions:,}")
    states = ", ".join(f"{k} {v}" for k, v in st.queue_by_state.items()) or "empty"
    # "open" as `overheard queue list` counts it: not resolved, dismissed or snoozed.
    console.print(f"support queue: {st.queue_open} open ({states}); "
                  f"SLA breaches: {'[red]' if st.sla_breaches else ''}{len(st.sla_breaches)}"
                  f"{'[/]' if st.sla_breaches else ''}")
    for b in st.sla_breaches[:10]:
        console.print(f"  item #{b.item_id} {b.priority}: {b.target} due {local_time(b.due, tz_name)} "
                      f"({plural(b.overdue_minutes, 'min', 'min')} overdue)")
    oldest = f", oldest from {local_time(st.outbox_oldest_pending_at, tz_name)}" if st.outbox_oldest_pending_at else ""
    console.print(f"outbox: {st.outbox_pending} waiting ({st.outbox_retrying} retrying{oldest}); "
                  f"{st.outbox_gave_up} given up")


@click.command()
@click.option("--author", required=True, help="The person's handle or user name, with or without @ (any case).")
@click.option("--source", "source_name", default=None, help="Only on this source (x, reddit, …); default: all.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_config(check_secrets=False)
def forget(config: Config, author: str, source_name: str | None, yes: bool) -> None:
    """Remove a person's data on request: mentions, scores, labels, author record, quoted text, links.

    Also their quarantined rows, their words and links in alerts and queue notes, and the file
    receivers' alert files (rewritten). Deleted text is overwritten in the database file. Threads and
    queue items they were part of stay, recomputed without them; their posts and bad rows are not
    collected again. Alerts already delivered (Slack, email, webhooks) cannot be recalled. Exit 2 when
    nothing stored matches (with the closest handles).
    """
    from listener.retention import forget_author
    from listener.threads import rollup_dirty

    where = f" on {source_name}" if source_name else " on every source"
    if not yes:
        click.confirm(f"Delete everything stored about {for_terminal(author, one_line=True)}{where}? "
                      "This cannot be undone", abort=True)
    files = [config.resolve(r.path) for r in config.receivers if getattr(r, "type", "") == "file"]
    with open_store(config) as store:
        result = forget_author(store, author, source_name, alert_files=files)
        rollup_dirty(store, config)
    console.print(escape(
        f"forgot {author}{where}: {result.mentions} mentions, {result.authors} author records, "
        f"{result.quarantined} quarantined rows (their handle blanked in {result.quarantine_scrubbed} more), "
        f"text removed from {result.events_scrubbed} queue events and {result.alerts_scrubbed} alerts; "
        f"{result.threads_recomputed} threads recomputed"), soft_wrap=True)
    for f in result.alert_files:
        if f.problem:
            console.print(escape(f"warning: could not clean the alert file {f.path} ({f.problem}); "
                                 "remove their lines from it by hand"), soft_wrap=True)
        elif f.lines:
            console.print(escape(f"alert file {f.path}: {f.lines} lines rewritten without them"), soft_wrap=True)
    if not result.wal_checkpointed:
        console.print("note: another process is reading the database; the deleted text leaves the -wal file "
                      "at its next checkpoint (stop `overheard run` and forget again to be sure now)", soft_wrap=True)
    if result.alerts_already_sent:
        console.print(f"note: {result.alerts_already_sent} alerts quoting them were already delivered; "
                      "delete those messages in Slack/email/webhook receivers by hand", soft_wrap=True)


def register(cli: click.Group) -> None:
    for command in (run, status, forget):
        cli.add_command(command)
