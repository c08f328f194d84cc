"""Foundation commands: demo, init, check, import (`run` is in listener.commands.daemon)."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
from rich.table import Table

from listener.cli import config_option, console, open_store, with_config
from listener.config import Config, load_config
from listener.pipeline import PipelineReport, process

EXAMPLE = Path(__file__).resolve().parent.parent / "templates" / "config.example.toml"


def summary_table(counts: dict[str, int], report: PipelineReport, files: list[Path]) -> Table:
    table = Table(title="overheard summary", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    mentions = counts["mentions"] or 0
    share = f"{100 * counts['negative'] / mentions:.1f}%" if mentions else "—"
    new = report.collected.new
    table.add_row("mentions stored", f"{mentions:,} ({new:,} new this run)")
    table.add_row("negative share", share)
    table.add_row("detractors", f"{counts['detractors']:,}")
    table.add_row("flagged threads", f"{counts['flagged_threads']:,} of {counts['threads']:,}")
    table.add_row("alerts (delivered)", f"{counts['alerts']:,} ({counts['alerts_delivered']:,})")
    table.add_row("support queue, open", f"{counts['queue_open']:,}")
    table.add_row("quarantined items", f"{counts['quarantined']:,}")
    for label, where in files_by_kind(files):
        table.add_row(label, where)
    return table


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


def print_errors(report: PipelineReport) -> None:
    for error in report.collected.errors:
        console.print(f"[yellow]source error:[/] {error}", markup=True)


@click.command()
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=Path("overheard-demo"),
              show_default=True, help="Folder for the demo's config, data, database and output.")
def demo(workspace: Path) -> None:
    """Run the whole pipeline on bundled demo data (a fictional brand), safe to re-run."""
    from listener.demo import run_demo

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
        raise click.ClickException(f"{path} exists; use --force to overwrite")
    shutil.copyfile(EXAMPLE, path)
    console.print(f"Wrote {path}. Edit [[brands]] and the sources, then `overheard check --config {path}`.")


@click.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the config: every key, type and secret env var; prints what it found."""
    config = load_config(config_path)
    console.print(f"{config.path}: OK")
    console.print(f"  brands: {', '.join(config.brand_names())}"
                  + (f"; competitors: {', '.join(c.name for c in config.competitors)}" if config.competitors else ""))
    console.print(f"  sources: {', '.join(config.sources) or 'none'}")
    console.print(f"  receivers: {', '.join(r.name for r in config.receivers) or 'none'}")
    console.print(f"  database: {config.db_path}")


@click.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "source_name", default="file", show_default=True,
              help="Source name for rows that do not say (x, reddit, appstore, ...).")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv"]), default="auto", show_default=True)
@with_config(check_secrets=False)
def import_(config: Config, files: tuple[Path, ...], source_name: str, fmt: str) -> None:
    """Import JSONL or CSV exports (default field names; see [sources.file] for mapping) and process them.

    Prints `file:line: reason` for each row set aside (the first 20); exit 1 when any was, 2 when a
    file could not be read at all."""
    from listener.collect import collect_source
    from listener.commands.quarantine import echo_records
    from listener.models import iso, utcnow
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
