"""`overheard db copy` (move a SQLite store to PostgreSQL, resumably) and `overheard db check`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from listener.cli import console, echo_json, json_option, with_config
from listener.errors import UserError

if TYPE_CHECKING:
    from listener.config import Config


@click.group()
def db() -> None:
    """The store itself: copy a SQLite store to PostgreSQL and check the copy."""


def _target(config: Config, to: str | None) -> str:
    from listener.backends import is_url

    url = to or (config.database if isinstance(config.database, str) else None)
    if not url:
        raise UserError("--to: give the PostgreSQL database to copy into (postgresql://user@host/db), or set "
                        "[store] url")
    if not is_url(url):
        raise UserError(f"--to {url!r}: must be a postgresql:// URL")
    return url


@db.command("copy")
@click.option("--to", "to", default=None, metavar="postgresql://…",
              help="The PostgreSQL database to copy into (default: [store] url). Password: [store] password_env.")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100000),
              help="Rows per committed batch.")
@with_config(check_secrets=False)
def copy_command(config: Config, to: str | None, batch: int) -> None:
    """Copy the SQLite store ([store] path) into PostgreSQL; run it again to resume a copy that stopped."""
    from listener.daemonlock import daemon_pid
    from listener.dbcopy import check_stores, copy_store
    from listener.masking import mask
    from listener.store import Store

    url = _target(config, to)
    pid = daemon_pid(config)
    if pid:
        raise UserError(f"{config.db_path}: `overheard run` (pid {pid}) is writing this store; stop it before copying")
    if not config.db_path.exists():
        raise UserError(f"{config.db_path}: no SQLite store there to copy ([store] path)")
    with Store(config.db_path, file=True) as source, Store(url) as target:
        def shown(table: str, rows: int) -> None:
            if sys.stderr.isatty():
                console.print(f"  {table}: {rows:,} rows", end="\r", markup=False)

        result = copy_store(source, target, batch=batch, on_batch=shown)
        counts = check_stores(source, target)
    for table in result.resumed:
        console.print(f"resumed {table} where the last copy stopped", markup=False)
    total = sum(result.copied.values())
    differ = [c for c in counts if not c.same]
    console.print(f"copied {total:,} rows in {len(result.copied)} tables to {mask(url)}", markup=False)
    if differ:
        raise UserError("after the copy these tables differ: " + ", ".join(
            f"{c.table} ({c.source:,} here, {c.target:,} there)" for c in differ) + "; was the store written "
            "during the copy? run `overheard db copy` again")
    console.print(f"every table has the same count on both sides ({sum(c.source for c in counts):,} rows)",
                  markup=False)


@db.command("check")
@click.option("--to", "to", default=None, metavar="postgresql://…",
              help="The PostgreSQL database to compare with (default: [store] url).")
@json_option
@with_config(check_secrets=False)
def check_command(config: Config, to: str | None, as_json: bool) -> None:
    """Compare the SQLite store with its PostgreSQL copy, table by table (exit 1 when any count differs)."""
    from listener.dbcopy import check_stores
    from listener.store import Store

    url = _target(config, to)
    if not config.db_path.exists():
        raise UserError(f"{config.db_path}: no SQLite store there to compare ([store] path)")
    with Store(config.db_path, file=True) as source, Store(url) as target:
        counts = check_stores(source, target)
    differ = [c for c in counts if not c.same]
    if as_json:
        echo_json({"same": not differ, "tables": [
            {"table": c.table, "sqlite": c.source, "postgresql": c.target, "sqlite_max_id": c.source_max_id,
             "postgresql_max_id": c.target_max_id, "same": c.same} for c in counts]})
    else:
        from rich.table import Table

        table = Table("table", "sqlite", "postgresql", "")
        for c in counts:
            table.add_row(c.table, f"{c.source:,}", f"{c.target:,}", "" if c.same else "DIFFERS")
        console.print(table)
        if differ:
            console.print(f"{len(differ)} tables differ: " + ", ".join(
                f"{c.table} ({c.source:,} vs {c.target:,}" + (
                    f", largest id {c.source_max_id} vs {c.target_max_id}" if c.source == c.target else "") + ")"
                for c in differ), markup=False)
        else:
            console.print("every table has the same count on both sides", markup=False)
    if differ:
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    cli.add_command(db)
