"""Trend tables as files: tidy CSV (spreadsheet-safe) and the same rows as JSON.

File names state the table, the period and the time zone: `overview_day_Europe-London.csv`.
Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from listener.models import iso
from listener.trends.tables import TEXT_COLUMNS, TrendTable, TrendWindow

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def zone_slug(tz_name: str) -> str:
    """A time zone name fit for a file name: Europe/London -> Europe-London."""
    return tz_name.replace("/", "-")


def file_stem(table: TrendTable | TableText, tz_name: str) -> str:
    """The file name without extension: <table>_<period>_<zone>."""
    return f"{table.name}_{table.period}_{zone_slug(tz_name)}"


def neutralise(value: str) -> str:
    """Make text inert in a spreadsheet: a leading apostrophe stops =, +, -, @ starting a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_cell(column: str, value: Any) -> str:
    """One CSV cell: empty for no value, true/false, numbers as written, people's text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return neutralise(value) if column in TEXT_COLUMNS else value
    return str(value)


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Rows as CSV lines (no header), exactly as they appear in the file."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(c, row.get(c)) for c in columns])
    return buffer.getvalue()


def json_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Rows as JSON objects in column order, one a line, joined by ",\n", exactly as in the file."""
    # One row per line: readable and diffable, and each line goes through the fast (C) encoder.
    return ",\n".join(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) for row in rows)


@dataclass
class TableText:
    """One trend file's rows already serialised: CSV lines and JSON row lines, in pieces (by period
    and brand) that are joined as they are, so kept pieces can be reused as they are."""

    name: str
    period: str
    columns: list[str]
    csv: list[str] = field(default_factory=list)
    json: list[str] = field(default_factory=list)

    def add(self, csv_piece: str, json_piece: str) -> None:
        if csv_piece:
            self.csv.append(csv_piece)
        if json_piece:
            self.json.append(json_piece)


def table_text(table: TrendTable) -> TableText:
    """A table's rows serialised for the files."""
    text = TableText(table.name, table.period, table.columns)
    text.add(csv_text(table.columns, table.rows), json_text(table.columns, table.rows))
    return text


def write_csv(table: TrendTable | TableText, path: Path) -> Path:
    """Write one table as CSV: a header row of column names, then one row per key."""
    text = table if isinstance(table, TableText) else table_text(table)
    header = io.StringIO(newline="")
    csv.writer(header).writerow(text.columns)
    _replace(path, header.getvalue() + "".join(text.csv))
    return path


def write_json(table: TrendTable | TableText, window: TrendWindow, path: Path, generated_at: datetime) -> Path:
    """Write one table as JSON: what it covers, its columns in order, and the rows as objects."""
    text = table if isinstance(table, TableText) else table_text(table)
    head = {
        "table": text.name,
        "period": text.period,
        "timezone": window.tz_name,
        "since": iso(window.since),
        "until": iso(window.until),
        "generated_at": iso(generated_at),
        "columns": text.columns,
    }
    body = ",\n".join(text.json)
    _replace(path, json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [\n' + body + "\n]}\n")
    return path


def _replace(path: Path, content: str) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(content)
    os.replace(tmp, path)


def write_tables(tables: list[TrendTable] | list[TableText], window: TrendWindow, out_dir: Path,
                 generated_at: datetime) -> list[Path]:
    """Write each table as CSV and JSON under out_dir; returns the paths, CSV first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for table in tables:
        text = table if isinstance(table, TableText) else table_text(table)
        stem = file_stem(text, window.tz_name)
        paths.append(write_csv(text, out_dir / f"{stem}.csv"))
        paths.append(write_json(text, window, out_dir / f"{stem}.json", generated_at))
    return paths


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A trend CSV as (columns, rows of text): what a spreadsheet would load."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)
