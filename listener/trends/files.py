"""Trend tables as files: tidy CSV (spreadsheet-safe) and the same rows as JSON.

File names state the table, the period and the time zone: `overview_day_Europe-London.csv`.
Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import json
import os
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


def file_stem(table: TrendTable, tz_name: str) -> str:
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


def write_csv(table: TrendTable, path: Path) -> Path:
    """Write one table as CSV: a header row of column names, then one row per key."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([csv_cell(c, row.get(c)) for c in table.columns])
    os.replace(tmp, path)
    return path


def write_json(table: TrendTable, window: TrendWindow, path: Path, generated_at: datetime) -> Path:
    """Write one table as JSON: what it covers, its columns in order, and the rows as objects."""
    head = {
        "table": table.name,
        "period": table.period,
        "timezone": window.tz_name,
        "since": iso(window.since),
        "until": iso(window.until),
        "generated_at": iso(generated_at),
        "columns": table.columns,
    }
    # One row per line: readable and diffable, and each line goes through the fast (C) encoder.
    rows = ",\n".join(json.dumps({c: row.get(c) for c in table.columns}, ensure_ascii=False) for row in table.rows)
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [\n' + rows + "\n]}\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_tables(tables: list[TrendTable], window: TrendWindow, out_dir: Path, generated_at: datetime) -> list[Path]:
    """Write each table as CSV and JSON under out_dir; returns the paths, CSV first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for table in tables:
        stem = file_stem(table, window.tz_name)
        paths.append(write_csv(table, out_dir / f"{stem}.csv"))
        paths.append(write_json(table, window, out_dir / f"{stem}.json", generated_at))
    return paths


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A trend CSV as (columns, rows of text): what a spreadsheet would load."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)
