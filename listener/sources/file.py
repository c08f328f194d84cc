"""Import mentions from JSONL or CSV exports (other tools' exports, the demo data).

A malformed row is quarantined with file:line and why; the rest of the file is imported. Nothing is
guessed: a value that is not what its field needs (an object as an id, `true` as a time, -5 likes,
"maybe" as verified) quarantines the row rather than being coerced into something it did not say.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import Field

from listener.config import Section
from listener.errors import SourceError
from listener.models import Batch, Mention, Quarantined, utcnow
from listener.quarantine import implausible_time
from listener.query import BrandMatcher
from listener.scorefile import export_delimiter
from listener.sources.base import Source, SourceConfig, SourceQuery
from listener.text import BadText, clean_text

BATCH_SIZE = 500


class FieldMap(Section):
    """Column (CSV) or key (JSONL) that holds each mention field. Only id, text and created_at are required."""

    id: str = "id"
    text: str = "text"
    created_at: str = "created_at"
    source: str = "source"
    brand: str = "brand"
    url: str = "url"
    author: str = "author"
    author_id: str = "author_id"
    followers: str = "followers"
    verified: str = "verified"
    lang: str = "lang"
    thread: str = "thread_id"
    parent: str = "parent_id"
    engagement: str = "engagement"
    title: str = "title"
    stars: str = "stars"
    brand_account: str = "is_brand_account"


class FileImport(Section):
    """One kind of export: which files, their format, and how their columns map to mention fields."""

    # Files or glob patterns, relative to the config file's folder.
    paths: list[str] = Field(min_length=1)
    format: Literal["auto", "jsonl", "csv"] = "auto"
    # Source name for rows without a `source` field (e.g. "x" for an X export, "appstore" for reviews).
    default_source: str = Field(default="file", min_length=1)
    fields: FieldMap = FieldMap()


class FileSourceConfig(SourceConfig):
    imports: list[FileImport] = Field(min_length=1)


class FileSource(Source):
    name = "file"
    Config = FileSourceConfig
    config: FileSourceConfig

    def __init__(self, config: FileSourceConfig, app: Any) -> None:
        super().__init__(config, app)
        self.matcher = BrandMatcher(app.all_tracked())
        self.known_brands = {t.name.lower(): t.name for t in app.all_tracked()}
        # The rows this instance quarantined, kept only when asked (`overheard import` prints them); a
        # daemon's long-lived source must not hold every bad row it ever read.
        self.keep_set_aside = False
        self.set_aside: list[Quarantined] = []

    def files(self) -> list[tuple[Path, FileImport]]:
        found: list[tuple[Path, FileImport]] = []
        for spec in self.config.imports:
            for pattern in spec.paths:
                full = self.app.resolve(pattern)
                hits = sorted(Path(p) for p in glob.glob(str(full)))
                found.extend((p, spec) for p in (hits or [full]))
        return found

    def queries(self) -> list[SourceQuery]:
        return [SourceQuery(key=str(p), brand=None, text=str(p)) for p, _ in self.files()]

    def check(self) -> list[str]:
        return [f"{p}: {_missing(p)}" for p, _ in self.files() if not p.exists()]

    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        spec = next((s for p, s in self.files() if str(p) == query.key), self.config.imports[0])
        for batch in import_file(Path(query.key), self, spec, cursor):
            if self.keep_set_aside:
                self.set_aside.extend(batch.quarantined)
            yield batch


def _missing(path: Path) -> str:
    """A glob that matched nothing is not a missing file: say which it was."""
    return "no file matches this pattern" if glob.has_magic(str(path)) else "no such file"


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


# Limits that keep one hostile row from costing the rest of the file. A physical line longer than
# MAX_LINE_BYTES is no post (the text limit is 50,000 characters); a CSV cell over MAX_CELL_CHARS is
# over Python's csv default limit; a quoted CSV cell running over MAX_RECORD_LINES lines is an
# unclosed quote, not a post with paragraphs. MAX_DEPTH: a real export nests a few levels.
MAX_LINE_BYTES = 2_000_000
MAX_CELL_CHARS = 131_072
MAX_RECORD_LINES = 100
MAX_DEPTH = 64
MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
BOM = b"\xef\xbb\xbf"


@dataclass
class RowRead:
    """One row of an export as read: its line, the row (a dict) or why it could not be read, its raw text."""

    line: int
    row: dict[str, Any] | None
    error: str | None
    raw: str


def location_of(path: Path, line: int) -> str:
    """Where a row came from: the file's full path and the row's first line."""
    return f"{path.resolve()}:{line}"


def import_file(path: Path, source: FileSource, spec: FileImport, cursor: str | None,
                only_lines: set[int] | None = None) -> Iterator[Batch]:
    """Read one export file; yields batches of mentions and quarantined rows. Unchanged files are skipped.

    `only_lines`: read only the rows starting on these lines (a quarantine retry); the cursor stays.
    Every row ends up either a mention or a quarantine record, so the last batch may mark the file done.
    """
    if not path.exists():
        raise SourceError(_missing(path))
    stamp = _stamp(path)
    if cursor == stamp and only_lines is None:
        return
    with open(path, "rb") as fh:
        if fh.read(2) in UTF16_BOMS:
            raise SourceError("is UTF-16 encoded; save it as UTF-8 (in Excel: 'CSV UTF-8')")
    fmt = spec.format
    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl"
    rows = _read_csv(path) if fmt == "csv" else _read_jsonl(path)
    now = utcnow()
    full = path.resolve()
    batch = Batch()
    for read in rows:
        if only_lines is not None and read.line not in only_lines:
            continue
        where = f"{full}:{read.line}"
        if read.row is None:
            batch.quarantined.append(Quarantined(spec.default_source, where, read.error or "unreadable", read.raw))
        else:
            try:
                batch.mentions.append(row_to_mention(read.row, source, spec, now))
            except (BadText, ValueError, TypeError, OverflowError, RecursionError) as exc:
                src = _get(read.row, spec.fields.source)
                batch.quarantined.append(Quarantined(src if isinstance(src, str) and not _surrogates(src)
                                                     else spec.default_source, where, str(exc), read.raw))
        if len(batch.mentions) + len(batch.quarantined) >= BATCH_SIZE:
            yield batch
            batch = Batch()
    if only_lines is None:
        batch.cursor = stamp  # only the last batch moves the cursor: a crash mid-file re-reads it harmlessly
    yield batch


def _lines(fh: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """Physical lines with their numbers; None for a line over MAX_LINE_BYTES (read past, not kept)."""
    number = 0
    while True:
        line = fh.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if number == 1 and line.startswith(BOM):
            line = line[len(BOM):]  # a byte-order mark belongs to the file, not to the first row
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = fh.readline(MAX_LINE_BYTES)
            yield number, None
            continue
        yield number, line


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (iteratively: a hostile row must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _bad_utf8(exc: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at column {exc.start + 1})"


def _read_jsonl(path: Path) -> Iterator[RowRead]:
    with open(path, "rb") as fh:
        for line_no, data in _lines(fh):
            if data is None:
                yield RowRead(line_no, None, f"line is longer than {MAX_LINE_BYTES:,} bytes", "")
                continue
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RowRead(line_no, None, _bad_utf8(exc), data.decode("utf-8", "backslashreplace"))
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_constant=_reject_constant)
            except json.JSONDecodeError as exc:
                yield RowRead(line_no, None, f"not valid JSON ({exc.msg} at column {exc.colno})", line)
                continue
            except RecursionError:
                yield RowRead(line_no, None, f"JSON nested deeper than {MAX_DEPTH} levels", line[:2000])
                continue
            except ValueError as exc:  # Infinity, NaN
                yield RowRead(line_no, None, f"not valid JSON ({exc})", line)
                continue
            if not isinstance(obj, dict):
                yield RowRead(line_no, None, f"expected a JSON object, got {_kind(obj)}", line)
                continue
            if _depth(obj) > MAX_DEPTH:
                yield RowRead(line_no, None, f"JSON nested deeper than {MAX_DEPTH} levels", line[:2000])
                continue
            yield RowRead(line_no, obj, None, line)


class _PhysicalLines:
    """A CSV file's lines (undecodable bytes kept as surrogates, to be reported), with push-back:
    after an unclosed quote the reader starts again on the line after the quote."""

    def __init__(self, fh: BinaryIO) -> None:
        self._lines = _lines(fh)
        self._back: list[tuple[int, str | None]] = []

    def next(self) -> tuple[int, str | None] | None:
        if self._back:
            return self._back.pop()
        got = next(self._lines, None)
        if got is None:
            return None
        number, data = got
        return number, None if data is None else data.decode("utf-8", "surrogateescape")

    def push_back(self, lines: list[tuple[int, str | None]]) -> None:
        self._back.extend(reversed(lines))


def _record(lines: _PhysicalLines, delimiter: str) -> tuple[list[tuple[int, str | None]], list[str] | None, str]:
    """The next CSV record: the physical lines it took, its cells (None when unreadable) and why.

    A quoted cell is allowed MAX_RECORD_LINES lines; the caller decides whether a long one is real.
    """
    taken: list[tuple[int, str | None]] = []
    problem = ""

    def feed() -> Iterator[str]:
        nonlocal problem
        while len(taken) < MAX_RECORD_LINES:
            got = lines.next()
            if got is None:
                return
            if got[1] is None:
                taken.append(got)
                problem = f"line {got[0]} is longer than {MAX_LINE_BYTES:,} bytes"
                return
            taken.append(got)
            yield got[1]
        problem = f"a quoted cell runs over {MAX_RECORD_LINES} lines"

    try:
        cells = next(csv.reader(feed(), delimiter=delimiter, strict=False), None)
    except csv.Error as exc:
        return taken, None, f"unreadable CSV ({exc})"
    if problem:
        return taken, None, problem
    return taken, cells, ""


def _looks_like_a_row(line: str, delimiter: str, columns: int) -> bool:
    """A line that, read on its own, has the header's number of cells and a first cell: a row of its own."""
    cells = next(csv.reader([line], delimiter=delimiter, strict=False), [])
    return len(cells) == columns and bool(cells[0].strip())


def _read_csv(path: Path) -> Iterator[RowRead]:
    with open(path, "rb") as fh:
        lines = _PhysicalLines(fh)
        first = lines.next()
        if first is None:
            return
        header_line = first[1] or ""
        delimiter = "\t" if path.suffix.lower() == ".tsv" else export_delimiter(header_line)
        header = next(csv.reader([header_line], delimiter=delimiter), [])
        header = [h.strip() for h in header]
        if any(_surrogates(h) for h in header):
            raise SourceError("the header line is not valid UTF-8; save the file as UTF-8")
        while True:
            taken, cells, problem = _record(lines, delimiter)
            if not taken:
                return
            start = taken[0][0]
            raw = "".join(text or "" for _, text in taken)[:10000]
            if cells is None or (len(taken) > 1 and (
                    len(cells) != len(header)
                    or any(_looks_like_a_row(t or "", delimiter, len(header)) for _, t in taken[1:]))):
                if len(taken) > 1:
                    # An unclosed quote swallowed what follows: report the row it opened on and read the
                    # following lines again, each on its own.
                    lines.push_back(taken[1:])
                    problem = ("unclosed quote: a quoted cell opens here and runs into the rows below; "
                               "those rows were read on their own")
                yield RowRead(start, None, problem, raw)
                continue
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            if len(cells) > len(header):
                yield RowRead(start, None, "more cells than the header has columns", raw)
                continue
            bad = _cell_problem(header, cells)
            if bad:
                yield RowRead(start, None, bad, raw)
                continue
            yield RowRead(start, dict(zip(header, cells, strict=False)), None, raw)


def _cell_problem(header: list[str], cells: list[str]) -> str | None:
    for name, cell in zip(header, cells, strict=False):
        if len(cell) > MAX_CELL_CHARS:
            return f"cell {name!r} is {len(cell):,} characters, over the {MAX_CELL_CHARS:,} limit"
        if _surrogates(cell):
            byte = next(ord(c) - 0xDC00 for c in cell if "\udc80" <= c <= "\udcff")
            return f"not valid UTF-8 (byte 0x{byte:02x} in column {name!r})"
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogates(value: str) -> bool:
    return _SURROGATE.search(value) is not None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", type(None): "null",
            str: "text", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _get(row: dict[str, Any], key: str) -> Any:
    value = row.get(key)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def parse_time(value: Any, now: datetime | None = None) -> datetime:
    """ISO 8601 (naive means UTC) or Unix seconds, inside the plausible window (listener.quarantine)."""
    if value is None:
        raise ValueError("created_at is missing")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"created_at is {_kind(value)}, not a time")
    if isinstance(value, (int, float)) or value.replace(".", "", 1).isdigit():
        seconds = float(value)
        try:
            dt = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"created_at {value!r} is not a plausible Unix time in seconds") from None
    else:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
            dt = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"created_at {value[:40]!r} is not an ISO 8601 time") from None
        except OverflowError:
            raise ValueError(f"created_at {value[:40]!r} is outside the range of dates that can be stored") \
                from None
    reason = implausible_time(dt, now)
    if reason:
        raise ValueError(f"created_at {reason}")
    return dt


def _int(value: Any, name: str) -> int | None:
    """A count (followers, engagement, stars): a whole number from 0 to SQLite's largest integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{name} is {_kind(value)}, not a number")
    number: int | float = value
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{name} {value[:40]!r} is not a number") from None
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"{name} {str(value)[:40]!r} is not a finite number")
        if not number.is_integer():
            raise ValueError(f"{name} {value!r} is not a whole number")
        if abs(number) > MAX_INTEGER:
            raise ValueError(f"{name} {str(value)[:40]} is larger than can be stored")
        number = int(number)
    if number < 0:
        raise ValueError(f"{name} {number} is negative")
    if number > MAX_INTEGER:
        raise ValueError(f"{name} {str(value)[:40]} is larger than can be stored")
    return number


_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def _bool(value: Any, name: str = "flag") -> bool:
    """true/false, 1/0, yes/no (any case); missing is false; anything else is not guessed at."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    raise ValueError(f"{name} {str(value)[:40]!r} is not true or false")


def _text(value: Any, name: str, limit: int = 2000, numbers: bool = False) -> str | None:
    """A short text field (author, url, lang, ids): text, or a whole number where `numbers` allows."""
    if value is None:
        return None
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} is {_kind(value)}, not text")
    if _surrogates(value):
        raise ValueError(f"{name} is not valid Unicode (a lone surrogate such as \\ud800)")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value):,} characters; the limit is {limit:,}")
    return value


def row_to_mention(row: dict[str, Any], source: FileSource, spec: FileImport,
                   now: datetime | None = None) -> Mention:
    f = spec.fields
    native_id = _text(_get(row, f.id), f.id, 200, numbers=True)
    if native_id is None:
        raise ValueError(f"{f.id} is missing")
    text = clean_text(_get(row, f.text), field=f.text)
    title = _get(row, f.title)
    title = clean_text(title, field=f.title) if title else None
    brand_value = _text(_get(row, f.brand), f.brand, 200)
    if brand_value is not None:
        brand = source.known_brands.get(brand_value.lower())
        if brand is None:
            raise ValueError(f"brand {brand_value[:60]!r} is not a configured brand or competitor")
    else:
        brand = source.matcher.first(f"{title or ''}\n{text}")
        if brand is None:
            raise ValueError("mentions no configured brand (keywords, handles) and has no brand field")
    stars = _int(_get(row, f.stars), f.stars)
    if stars is not None and not 1 <= stars <= 5:
        raise ValueError(f"{f.stars} {stars} is not between 1 and 5")
    src = _text(_get(row, f.source), f.source, 100) or spec.default_source
    return Mention(
        source=src,
        native_id=native_id,
        text=text,
        created_at=parse_time(_get(row, f.created_at), now),
        brand=brand,
        url=_text(_get(row, f.url), f.url, 4000),
        author=_text(_get(row, f.author), f.author, 500),
        author_id=_text(_get(row, f.author_id), f.author_id, 200, numbers=True),
        author_followers=_int(_get(row, f.followers), f.followers),
        author_verified=_bool(_get(row, f.verified), f.verified),
        lang=_text(_get(row, f.lang), f.lang, 35),
        thread_id=_text(_get(row, f.thread), f.thread, 200, numbers=True),
        parent_id=_text(_get(row, f.parent), f.parent, 200, numbers=True),
        engagement=_int(_get(row, f.engagement), f.engagement) or 0,
        title=title,
        stars=stars,
        is_brand_account=_bool(_get(row, f.brand_account), f.brand_account),
        raw=row,
    )
