"""`overheard quarantine list|show|retry`: what the pipeline set aside, why, and trying it again."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from listener.cli import console, open_store, with_config
from listener.config import Config
from listener.errors import UserError
from listener.quarantine import (
    STAGES,
    QuarantineRecord,
    count_records,
    get_record,
    list_records,
)
from listener.retry import RetryReport, retry

SHOWN_IN_IMPORT = 20  # bad rows an import prints before "… and N more"


def shown_location(location: str) -> str:
    """A record's location as printed: a file path relative to the working folder when it is inside it."""
    path, sep, rest = location.rpartition(":")
    if sep and rest.isdigit() and path.startswith("/"):
        try:
            return f"{Path(path).relative_to(Path.cwd())}:{rest}"
        except ValueError:
            return location
    return location


def printable(text: str) -> str:
    """One line, without control characters (a reason can quote a hostile value)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in " ".join(text.split()))


def echo_records(records: list[QuarantineRecord], total: int, limit: int = SHOWN_IN_IMPORT) -> None:
    """`where: reason` per record (the stage too, when not the import), capped with a count of the rest."""
    for rec in records[:limit]:
        stage = "" if rec.stage == "import" else f"[{rec.stage}] "
        click.echo(f"{printable(shown_location(rec.location))}: {stage}{printable(rec.reason)}")
    if total > min(limit, len(records)):
        click.echo(f"… and {total - min(limit, len(records)):,} more (overheard quarantine list)")


@click.group()
def quarantine() -> None:
    """Rows and mentions set aside with where they came from and why; list, show and retry them."""


@quarantine.command("list")
@click.option("--stage", type=click.Choice(STAGES), help="Only records set aside at this stage.")
@click.option("--source", help="Only records of this source (file, x, reddit, ...).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest records to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines.")
@with_config(check_secrets=False)
def list_(config: Config, stage: str | None, source: str | None, limit: int, as_json: bool) -> None:
    """List quarantine records, newest first: id, stage, where and why."""
    with open_store(config) as store:
        records = list_records(store, stage, source, limit)
        total = count_records(store, stage, source)
    if as_json:
        for rec in records:
            click.echo(json.dumps(rec.as_dict(), ensure_ascii=False))
        return
    if not records:
        console.print("Nothing is quarantined.")
        return
    table = Table(title=f"quarantine ({len(records):,} of {total:,})", title_justify="left")
    for column in ("id", "stage", "source", "where", "why", "at"):
        table.add_column(column, overflow="fold")
    for rec in records:
        table.add_row(str(rec.id), rec.stage, escape(printable(rec.source)),
                      escape(printable(shown_location(rec.location))), escape(printable(rec.reason)), rec.at)
    console.print(table)


@quarantine.command()
@click.argument("record_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@with_config(check_secrets=False)
def show(config: Config, record_id: int, as_json: bool) -> None:
    """Show one quarantine record in full, with the raw row or item as it arrived."""
    with open_store(config) as store:
        rec = get_record(store, record_id)
    if rec is None:
        raise UserError(f"no quarantine record with id {record_id} (see `overheard quarantine list`)")
    if as_json:
        click.echo(json.dumps(rec.as_dict(), ensure_ascii=False, indent=2))
        return
    for label, value in (("id", str(rec.id)), ("stage", rec.stage), ("source", rec.source),
                         ("where", rec.location), ("why", rec.reason), ("at", rec.at),
                         ("mention", "" if rec.mention_id is None else str(rec.mention_id))):
        if value:
            click.echo(f"{label + ':':8} {printable(value)}")
    if rec.raw:
        click.echo("raw:")
        click.echo(printable(rec.raw[:4000]) + (" …" if len(rec.raw) > 4000 else ""))


@quarantine.command("retry")
@click.argument("record_ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Retry every record (of --stage / --source, when given).")
@click.option("--stage", type=click.Choice(STAGES), help="With --all: only records of this stage.")
@click.option("--source", help="With --all: only records of this source.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_config(check_secrets=False)
def retry_(config: Config, record_ids: tuple[int, ...], every: bool, stage: str | None, source: str | None,
           as_json: bool) -> None:
    """Try records again with today's code and config: an export row is read again from its file and
    line, a mention a stage set aside goes through the pipeline again. Exit 1 if some are still bad."""
    if not record_ids and not every:
        raise UserError("name the records to retry (ids from `overheard quarantine list`) or use --all")
    with open_store(config) as store:
        if every:
            records = list_records(store, stage, source)
        else:
            records = []
            for record_id in record_ids:
                rec = get_record(store, record_id)
                if rec is None:
                    raise UserError(f"no quarantine record with id {record_id} (see `overheard quarantine list`)")
                records.append(rec)
        report = retry(config, store, records)
    _print_retry(report, as_json)
    if report.still_quarantined:
        raise SystemExit(1)


def _print_retry(report: RetryReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    still = report.still_quarantined or []
    click.echo(f"retried {report.tried:,}: {report.came_back:,} came back, {len(still):,} still quarantined")
    echo_records(still, len(still))
    for rec, why in report.not_retried or []:
        click.echo(f"not retried: {printable(shown_location(rec.location))}: {printable(why)}")


def register(cli: click.Group) -> None:
    cli.add_command(quarantine)
