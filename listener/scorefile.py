"""`overheard score`: texts from a JSONL or CSV file in, one JSON line of scores per text out.

Bad lines (not JSON, no text) are reported with their line number and skipped; the rest are scored.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from sentiment import Score, Scorer

BATCH = 2000
csv.field_size_limit(10_000_000)  # a 100 KB review is a real (if odd) input, not an error


@dataclass(frozen=True)
class TextToScore:
    id: str | int
    text: str
    lang: str | None = None


@dataclass
class ScoreFileReport:
    scored: int = 0
    skipped: list[str] = field(default_factory=list)  # one line per skipped input, naming where and why


def pick_column(header: list[str], wanted: str | None, default: str) -> str | None:
    """The header's name for column `wanted` (or `default`), matched in any case; None when absent.
    A byte-order mark before the first name (spreadsheet exports start with one) is ignored."""
    target = (wanted or default).strip().lower()
    for name in header:
        if name.lstrip("\ufeff").strip().lower() == target:
            return name
    return None


def read_jsonl(stream: IO[str], report: ScoreFileReport, where: str = "input") -> Iterator[TextToScore]:
    """Objects with `text` (and optional `id`, `lang`), one per line; blank lines are ignored."""
    for number, line in enumerate(stream, start=1):
        if number == 1:
            line = line.lstrip("\ufeff")  # a byte-order mark belongs to the file, not to the first line
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            report.skipped.append(f"{where} line {number}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            report.skipped.append(f"{where} line {number}: needs an object with a string \"text\"")
            continue
        ident = obj.get("id", number)
        lang = obj.get("lang")
        yield TextToScore(ident if isinstance(ident, (str, int)) else str(ident), obj["text"],
                          lang if isinstance(lang, str) else None)


def read_lines(stream: IO[str], report: ScoreFileReport, where: str = "input") -> Iterator[TextToScore]:
    """Plain text, one text per line (`echo "..." | overheard score`); the id is the line number."""
    for number, line in enumerate(stream, start=1):
        if number == 1:
            line = line.lstrip("\ufeff")
        text = line.rstrip("\r\n")
        if text.strip():
            yield TextToScore(number, text)


def looks_like_header(line: str, text_column: str | None) -> bool:
    """Whether a first line is a CSV header with the text column (`text`, or the one named), any case."""
    first = next(csv.reader([line.lstrip("\ufeff")], delimiter=export_delimiter(line)), [])
    return pick_column(first, text_column, "text") is not None


def export_delimiter(header_line: str) -> str:
    """What separates an export's columns: a comma, or a semicolon or tab when the header line has one of
    those and no comma (a spreadsheet set to a European locale saves CSV with semicolons)."""
    if "," in header_line:
        return ","
    return next((d for d in (";", "\t") if d in header_line), ",")


def csv_reader(stream: IO[str]) -> Iterator[list[str]]:
    """A CSV reader for an export, its separator read off the header line (see export_delimiter)."""
    first = stream.readline()
    return csv.reader(itertools.chain([first], stream), delimiter=export_delimiter(first))


def require_column(header: list[str], wanted: str | None, default: str, where: str) -> int:
    """The index of column `wanted` (or `default`) in the header; a UserError naming the
    `--<default>-column` option when it is not there."""
    found = pick_column(header, wanted, default)
    if found is None:
        from listener.errors import UserError

        raise UserError(f"{where}: no column {(wanted or default)!r} in the CSV header "
                        f"({', '.join(header[:12])}); name it with --{default}-column")
    return header.index(found)


def read_csv(stream: IO[str], report: ScoreFileReport, where: str = "input",
             text_column: str | None = None, id_column: str | None = None) -> Iterator[TextToScore]:
    """Rows of a CSV with a header; the text column is `text` unless named (any case)."""
    reader = csv_reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return
    text_at = require_column(header, text_column, "text", where)
    id_col = pick_column(header, id_column, "id")
    lang_col = pick_column(header, None, "lang")
    for number, row in enumerate(reader, start=2):
        if len(row) <= text_at:
            if row:
                report.skipped.append(f"{where} line {number}: has {len(row)} cells, no {header[text_at]!r}")
            continue
        ident: str | int = row[header.index(id_col)] if id_col and len(row) > header.index(id_col) else number
        lang = row[header.index(lang_col)] if lang_col and len(row) > header.index(lang_col) else None
        yield TextToScore(ident, row[text_at], lang or None)


def score_line(item: TextToScore, score: Score) -> str:
    """The JSON line written for one input."""
    return json.dumps({"id": item.id, "label": score.label, "compound": score.compound,
                       "confidence": score.confidence, "lang": score.lang, "model": score.model,
                       "themes": list(score.themes), "theme_sentiment": dict(score.theme_sentiment),
                       "needs_reply": score.needs_reply},
                      ensure_ascii=False)


def score_stream(items: Iterator[TextToScore], scorer: Scorer, out: IO[str] = sys.stdout,
                 report: ScoreFileReport | None = None) -> ScoreFileReport:
    """Score `items` in batches and write one JSON line per item to `out`, in input order."""
    report = report or ScoreFileReport()
    batch: list[TextToScore] = []

    def flush() -> None:
        scores = scorer.score_many([b.text for b in batch], [b.lang for b in batch])
        for item, score in zip(batch, scores, strict=False):
            out.write(score_line(item, score) + "\n")
        report.scored += len(batch)
        batch.clear()

    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return report
