"""Foundation commands: demo, init, check, import (`run` is in listener.commands.daemon)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from listener.cli import config_option, console, echo_json, json_option, open_store, with_config
from listener.display import plural
from listener.errors import UserError

if TYPE_CHECKING:
    from rich.table import Table

    from listener.config import Config
    from listener.pipeline import PipelineReport

EXAMPLE = Path(__file__).resolve().parent.parent / "templates" / "config.example.toml"
# `# @sources-web`: where the docs tests find a block of the example; no use in a user's own config.
_TEMPLATE_MARKER = re.compile(r"^# @[\w-]+\n", re.M)


def alert_summary(counts: dict[str, int]) -> str:
    """`4 alerts to 2 receivers (8 messages, all delivered)`: an alert is one thread crossing one level
    for one rule; each receiver gets its own message."""
    alerts = counts.get("alerts_distinct", counts["alerts"])
    messages, delivered = counts["alerts"], counts["alerts_delivered"]
    if not messages:
        return "none"
    receivers = counts.get("alert_receivers", 0)
    sent = "all delivered" if delivered == messages else f"{delivered:,} delivered"
    return (f"{plural(alerts, 'alert')} to {plural(receivers, 'receiver')} "
            f"({plural(messages, 'message')}, {sent})")


def summary_rows(counts: dict[str, int], report: PipelineReport, files: list[Path]) -> list[tuple[str, str]]:
    mentions = counts["mentions"] or 0
    share = f"{100 * counts['negative'] / mentions:.1f}%" if mentions else "—"
    new = report.collected.new
    rows = [
        ("mentions stored", f"{mentions:,} ({new:,} new this run)"),
        ("negative share", share),
        ("detractors", f"{counts['detractors']:,}"),
        ("flagged threads", f"{counts['flagged_threads']:,} of {counts['threads']:,}"),
        ("alerts", alert_summary(counts)),
        ("support queue, open", f"{counts['queue_open']:,}"),
        ("quarantined items", f"{counts['quarantined']:,}"),
    ]
    return rows + files_by_kind(files)


def summary_table(counts: dict[str, int], report: PipelineReport, files: list[Path]) -> Table:
    from rich.table import Table

    table = Table(title="overheard summary", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for label, value in summary_rows(counts, report, files):
        table.add_row(escape(label), escape(value))
    return table


def summary_json(counts: dict[str, int], report: PipelineReport, files: list[Path]) -> dict[str, Any]:
    return {"counts": counts, "new_this_run": report.collected.new, "source_errors": report.collected.errors,
            "files": [str(f) for f in files]}


_KINDS = {".db": "database", ".csv": "trend CSV", ".json": "trend JSON", ".png": "chart", ".html": "report",
          ".jsonl": "alerts file"}


def files_by_kind(files: list[Path]) -> list[tuple[str, str]]:
    """One row per kind of file and folder: 'trend CSV (10)' -> 'overheard-demo/trends/'."""
    groups: dict[tuple[str, Path], list[Path]] = {}
    for path in files:
        groups.setdefault((_KINDS.get(path.suffix, "file"), path.parent), []).append(path)
    rows = []
    for (kind, folder), paths in groups.items():
        if len(paths) == 1:
            rows.append((kind, str(paths[0])))
        else:
            rows.append((f"{kind}s ({len(paths)})", f"{folder}/"))
    return rows


def quiet_source_logs() -> None:
    """One-off commands print each source error themselves; the collector's log line would say it twice
    (it stays for the daemon, and with --verbose)."""
    import logging

    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("overheard.collect").setLevel(logging.ERROR)


def print_errors(report: PipelineReport) -> None:
    for error in report.collected.errors:
        console.print(f"[yellow]source error:[/] {escape(error)}", markup=True, soft_wrap=True)


@click.command()
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=Path("overheard-demo"),
              show_default=True, help="Folder for the demo's config, data, database and output.")
@json_option
def demo(workspace: Path, as_json: bool) -> None:
    """Run the whole pipeline on bundled demo data (a fictional brand), safe to re-run."""
    from listener.demo import run_demo

    if as_json:
        result = run_demo(workspace, channels={})  # the console receiver would print into the JSON
        echo_json({**summary_json(result.counts, result.report, result.files),
                   "config": str(result.config.path), "login": result.login[0] if result.login else None})
        return
    with console.status("Running the demo pipeline…"):
        result = run_demo(workspace)
    print_errors(result.report)
    console.print(summary_table(result.counts, result.report, result.files))
    cfg = result.config.path
    lines = [f"Workspace: {workspace.resolve()}", "Next:"]
    if result.login:
        lines.append(f"  overheard serve --config {cfg}    # the support queue at "
                     f"http://{result.config.web.host}:{result.config.web.port}/")
        lines.append(f"      log in as {result.login[0]} / {result.login[1]}  (demo workspace only; "
                     f"also in {result.workspace / 'demo-login.txt'})")
    lines.append(f"  overheard report --since 7d --config {cfg}    # the marketers' report")
    lines.append(f"  overheard alerts backtest --since 14d --config {cfg}    # tune alert rules")
    console.print("\n".join(lines), markup=False, soft_wrap=True)


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=Path("overheard.toml"))
def init(path: Path, force: bool) -> None:
    """Write a starting config (the commented example) to PATH."""
    if path.exists() and not force:
        raise UserError(f"{path} exists; use --force to overwrite it")
    text = _TEMPLATE_MARKER.sub("", EXAMPLE.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    console.print(f"Wrote {path}. Edit [[brands]] and the sources, then `overheard check --config {path}`.",
                  markup=False, soft_wrap=True)


@click.command()
@json_option
@config_option
def check(config_path: Path, as_json: bool) -> None:
    """Validate the config: every key, type and secret env var; prints what it found."""
    from listener.config import load_config

    config = load_config(config_path)
    found = {"config": str(config.path), "ok": True, "brands": config.brand_names(),
             "competitors": [c.name for c in config.competitors], "sources": list(config.sources),
             "receivers": [r.name for r in config.receivers], "database": str(config.db_path)}
    if as_json:
        echo_json(found)
        return
    lines = [f"{config.path}: OK",
             f"  brands: {', '.join(found['brands'])}"
             + (f"; competitors: {', '.join(found['competitors'])}" if found["competitors"] else ""),
             f"  sources: {', '.join(found['sources']) or 'none'}",
             f"  receivers: {', '.join(found['receivers']) or 'none'}",
             f"  database: {config.db_path}"]
    console.print("\n".join(lines), markup=False, soft_wrap=True)


@click.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "source_name", default="file", show_default=True,
              help="Source name for rows that do not say (x, reddit, appstore, ...).")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv"]), default="auto", show_default=True)
@json_option
@with_config(check_secrets=False)
def import_(config: Config, files: tuple[Path, ...], source_name: str, fmt: str, as_json: bool = False) -> None:
    """Import JSONL or CSV exports (default field names; see [sources.file] for mapping) and process them.

    Prints `file:line: reason` for each row set aside (the first 20); exit 1 when any was, 2 when a
    file could not be read at all."""
    from listener.collect import collect_source
    from listener.commands.quarantine import echo_records
    from listener.models import iso, utcnow
    from listener.pipeline import process
    from listener.quarantine import count_in_files, list_records
    from listener.sources.file import FileImport, FileSource, FileSourceConfig

    section = FileSourceConfig(imports=[FileImport(paths=[str(f.resolve()) for f in files], format=fmt,
                                                    default_source=source_name)])
    source = FileSource(section, config)
    source.keep_set_aside = True
    started = iso(utcnow())
    with open_store(config) as store:
        last_id = store.scalar("SELECT COALESCE(MAX(id), 0) FROM quarantine")
        result, errors = collect_source(store, source)
        report = process(config, store)
        # What this import set aside: its rows, and mentions a later stage could not handle.
        rows = {q.location for q in source.set_aside}
        bad = [r for r in list_records(store, since=started)
               if (r.stage == "import" and r.location in rows) or (r.stage != "import" and r.id > last_id)]
        prefixes = tuple(f"{f.resolve()}:" for f in files)
        before = count_in_files(store, prefixes) if not bad else 0
    for error in errors:
        click.echo(f"overheard: {error}", err=True)
    bad.sort(key=lambda r: (r.stage != "import", _line_order(r.location)))
    if as_json:
        echo_json({"new": result.new, "duplicates": result.duplicates, "quarantined": len(bad),
                   "scored": report.scored, "alerts_queued": report.evaluation.alerts_enqueued, "errors": errors,
                   "set_aside": [{"id": r.id, "stage": r.stage, "where": r.location, "reason": r.reason}
                                 for r in bad],
                   "still_quarantined_from_earlier": before})
        if errors or bad:
            raise SystemExit(2 if errors else 1)
        return
    echo_records(bad, len(bad))
    console.print(f"imported {result.new} new, {result.duplicates} already stored, "
                  f"{len(bad)} quarantined; scored {report.scored}; "
                  f"{report.evaluation.alerts_enqueued} alerts queued")
    if before:
        console.print(f"{before:,} rows of these files are still in quarantine from an earlier import "
                      "(overheard quarantine list)")
    if errors:
        raise SystemExit(2)  # a file could not be read at all (say UTF-16): the user's to fix
    if bad:
        raise SystemExit(1)


def _line_order(location: str) -> tuple[str, int]:
    path, _, line = location.rpartition(":")
    return (path, int(line)) if line.isdigit() else (location, 0)


def register(cli: click.Group) -> None:
    for command in (demo, init, check, import_):
        cli.add_command(command)
