"""Commands for marketers: `overheard trends` (CSV/JSON trend files, charts) and `overheard report`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from listener.cli import console, open_store, with_config
from listener.config import Config
from listener.errors import UserError
from listener.models import utcnow
from listener.trendfiles import write_trend_files
from listener.trends.since import parse_since


def _since(config: Config, text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_since(text, utcnow(), config.trends.timezone)
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None


@click.command()
@click.option("--period", "periods", multiple=True, type=click.Choice(["hour", "day", "week", "month"]),
              help="Period of the rows; repeat for several (default: [trends].periods).")
@click.option("--since", "since_text", default=None, metavar="90d|DATE",
              help="How far back: a duration (12h, 90d, 6w) or a date (default: [trends].since).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the files (default: [trends].out_dir).")
@click.option("--charts/--no-charts", default=None, help="Also draw the PNG charts (default: [trends].charts).")
@click.option("--rebuild", is_flag=True, help="Recompute the hourly rollup from every stored mention first.")
@with_config(check_secrets=False)
def trends(config: Config, periods: tuple[str, ...], since_text: str | None, out_dir: Path | None,
           charts: bool | None, rebuild: bool) -> None:
    """Write the trend files: tidy CSV and JSON per period (and PNG charts), times in [trends].timezone."""
    since = _since(config, since_text, "--since")
    with open_store(config) as store:
        if rebuild:
            from listener.trends.rollup import rebuild_rollup

            rebuild_rollup(store, config.trends.timezone)
        paths = write_trend_files(config, store, out_dir, since, periods=list(periods) or None,
                                  charts=charts, report=False)
    for p in paths:
        console.print(f"wrote {p}")


@click.command()
@click.option("--since", "since_text", default=None, metavar="30d|DATE",
              help="Start of the report: a duration back from now or a date (default: [trends].report_since).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="The HTML file to write.")
@with_config(check_secrets=False)
def report(config: Config, since_text: str | None, out_path: Path) -> None:
    """Write one self-contained HTML report: headline figures, change, charts, threads, themes, queue."""
    from listener.trends.report import write_report

    since = _since(config, since_text, "--since")
    with open_store(config) as store:
        path = write_report(config, store, out_path, since=since)
    console.print(f"wrote {path}")


def register(cli: click.Group) -> None:
    for command in (trends, report):
        cli.add_command(command)
