"""Commands for marketers: `overheard trends` (CSV/JSON trend files, charts) and `overheard report`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from listener.cli import console, echo_json, json_option, open_store, with_config
from listener.errors import UserError
from listener.models import utcnow
from listener.timeparse import parse_since

if TYPE_CHECKING:
    from listener.config import Config


def _since(config: Config, text: str | None, option: str) -> datetime | None:
    """A duration back from now (30m, 12h, 90d, 2w) or a date/time in [trends] timezone."""
    if text is None:
        return None
    return parse_since(text, utcnow(), config.trends.timezone, option)


@click.command()
@click.option("--period", "periods", multiple=True, type=click.Choice(["hour", "day", "week", "month"]),
              help="Period of the rows; repeat for several (default: [trends].periods).")
@click.option("--since", "since_text", default=None, metavar="90d|DATE",
              help="How far back: a duration (30m, 12h, 90d, 2w) or a date (default: [trends].since).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the files (default: [trends].out_dir).")
@click.option("--charts/--no-charts", default=None, help="Also draw the PNG charts (default: [trends].charts).")
@click.option("--rebuild", is_flag=True, help="Recompute the hourly rollup from every stored mention first.")
@json_option
@with_config(check_secrets=False)
def trends(config: Config, periods: tuple[str, ...], since_text: str | None, out_dir: Path | None,
           charts: bool | None, rebuild: bool, as_json: bool) -> None:
    """Write the trend files: tidy CSV and JSON per period (and PNG charts), times in [trends].timezone."""
    from listener.trendfiles import write_trend_files

    since = _since(config, since_text, "--since")
    with open_store(config) as store:
        if rebuild:
            from listener.trends.rollup import rebuild_rollup

            rebuild_rollup(store, config.trends.timezone)
        paths = write_trend_files(config, store, out_dir, since, periods=list(periods) or None,
                                  charts=charts, report=False)
    if as_json:
        echo_json({"written": [str(p) for p in paths]})
        return
    for p in paths:
        console.print(f"wrote {p}", markup=False, soft_wrap=True)


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


@click.command()
@click.option("--since", "since_text", default="7d", show_default=True, metavar="7d|DATE",
              help="The period to look at, back from now; compared with the same length before it "
                   "and with [topics].baseline_periods such lengths before that.")
@click.option("--brand", "brands", multiple=True, help="Only this brand (repeat for several; default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_config(check_secrets=False)
def topics(config: Config, since_text: str, brands: tuple[str, ...], as_json: bool) -> None:
    """Emerging topics: terms, phrases, hashtags and domains that grew most, and near-duplicate clusters."""
    import json as json_module

    from rich.table import Table

    from listener.topics import period_topics

    now = utcnow()
    since = _since(config, since_text, "--since")
    assert since is not None
    if since >= now:
        raise UserError(f"--since {since_text}: that is not in the past")
    known = [b.name for b in config.all_tracked()]
    unknown = [b for b in brands if b not in known]
    if unknown:
        raise UserError(f"--brand {unknown[0]}: not a brand in the config (known: {', '.join(known)})")
    span = now - since
    n = config.topics.baseline_periods + 2
    bounds = [(now - (n - i) * span, now - (n - i - 1) * span) for i in range(n)]
    out: dict[str, list[dict]] = {}
    with open_store(config) as store:
        for brand in brands or known:
            out[brand] = [vars(r) for r in period_topics(config, store, brand, bounds, n - 1)]
    if as_json:
        click.echo(json_module.dumps({"since": since.isoformat(), "until": now.isoformat(), "brands": out},
                                     ensure_ascii=False, indent=2))
        return
    for brand, rows in out.items():
        if not rows:
            console.print(f"{brand}: nothing emerging (fewer than {config.topics.min_posts} posts, or no term "
                          f"in {config.topics.min_count}+ posts that grew significantly)")
            continue
        table = Table(title=f"{brand}: since {since:%Y-%m-%d %H:%M} UTC")
        for col in ("kind", "term", "mentions", "share %", "before", "baseline/period", "G² vs before",
                    "G² vs baseline"):
            if col == "term":
                table.add_column(col, min_width=24, max_width=60, overflow="ellipsis", no_wrap=True)
            else:
                table.add_column(col, justify="left" if col == "kind" else "right", no_wrap=True)
        for r in rows:
            table.add_row(r["kind"], r["term"], str(r["mentions"]), f"{r['share_pct']:.1f}",
                          *("" if r[k] is None else str(r[k]) for k in ("previous_mentions", "baseline_per_period",
                                                                         "growth_llr", "baseline_llr")))
        console.print(table)


def register(cli: click.Group) -> None:
    for command in (trends, report, topics):
        cli.add_command(command)
