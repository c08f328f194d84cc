"""Import mentions from JSONL or CSV exports (other tools' exports, the demo data).

A malformed row is quarantined with file:line and why; the rest of the file is imported.
"""

from __future__ import annotations

import csv
import glob
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from listener.config import Section
from listener.errors import SourceError
from listener.models import Batch, Mention, Quarantined
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
        yield from import_file(Path(query.key), self, spec, cursor)


def _missing(path: Path) -> str:
    """A glob that matched nothing is not a missing file: say which it was."""
    return "no file matches this pattern" if glob.has_magic(str(path)) else "no such file"


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def import_file(path: Path, source: FileSource, spec: FileImport, cursor: str | None) -> Iterator[Batch]:
    """Read one export file; yields batches of mentions and quarantined rows. Unchanged files are skipped."""
    if not path.exists():
        raise SourceError(_missing(path))
    stamp = _stamp(path)
    if cursor == stamp:
        return
    fmt = spec.format
    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl"
    rows = _read_csv(path) if fmt == "csv" else _read_jsonl(path)
    batch = Batch()
    for line_no, row, error in rows:
        where = f"{path.name}:{line_no}"
        if error:
            batch.quarantined.append(Quarantined(spec.default_source, where, error, str(row)[:2000]))
        else:
            try:
                batch.mentions.append(row_to_mention(row, source, spec))
            except (BadText, ValueError, TypeError) as exc:
                batch.quarantined.append(
                    Quarantined(str(row.get(spec.fields.source) or spec.default_source), where, str(exc),
                                json.dumps(row, ensure_ascii=False, default=str)[:2000])
                )
        if len(batch.mentions) + len(batch.quarantined) >= BATCH_SIZE:
            yield batch
            batch = Batch()
    batch.cursor = stamp  # only the last batch moves the cursor: a crash mid-file re-reads it harmlessly
    yield batch


def _read_jsonl(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, line, f"not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            if not isinstance(obj, dict):
                yield line_no, line, f"expected a JSON object, got {type(obj).__name__}"
                continue
            yield line_no, obj, None


def _read_csv(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        header_line = fh.readline()
        fh.seek(0)
        delimiter = "\t" if path.suffix.lower() == ".tsv" else export_delimiter(header_line)
        reader = csv.DictReader(fh, delimiter=delimiter)
        try:
            for row in reader:
                if None in row:  # more cells than header columns
                    yield reader.line_num, row, "more cells than the header has columns"
                    continue
                yield reader.line_num, row, None
        except csv.Error as exc:
            yield reader.line_num, "", f"unreadable CSV ({exc}); the rest of the file was skipped"


def _get(row: dict[str, Any], key: str) -> Any:
    value = row.get(key)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def parse_time(value: Any) -> datetime:
    """ISO 8601 (naive means UTC) or Unix seconds."""
    if value is None:
        raise ValueError("created_at is missing")
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.replace(".", "", 1).isdigit()):
        return datetime.fromtimestamp(float(value), tz=UTC)
    if not isinstance(value, str):
        raise ValueError(f"created_at {value!r} is not a time")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"created_at {value[:40]!r} is not an ISO 8601 time") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


def row_to_mention(row: dict[str, Any], source: FileSource, spec: FileImport) -> Mention:
    f = spec.fields
    native_id = _get(row, f.id)
    if native_id is None:
        raise ValueError(f"{f.id} is missing")
    text = clean_text(_get(row, f.text), field=f.text)
    title = _get(row, f.title)
    title = clean_text(title, field=f.title) if title else None
    brand_value = _get(row, f.brand)
    if brand_value is not None:
        brand = source.known_brands.get(str(brand_value).lower())
        if brand is None:
            raise ValueError(f"brand {str(brand_value)[:60]!r} is not a configured brand or competitor")
    else:
        brand = source.matcher.first(f"{title or ''}\n{text}")
        if brand is None:
            raise ValueError("mentions no configured brand (keywords, handles) and has no brand field")
    stars = _int(_get(row, f.stars), f.stars)
    if stars is not None and not 1 <= stars <= 5:
        raise ValueError(f"{f.stars} {stars} is not between 1 and 5")
    src = str(_get(row, f.source) or spec.default_source)
    return Mention(
        source=src,
        native_id=str(native_id),
        text=text,
        created_at=parse_time(_get(row, f.created_at)),
        brand=brand,
        url=_get(row, f.url),
        author=_get(row, f.author),
        author_id=None if _get(row, f.author_id) is None else str(_get(row, f.author_id)),
        author_followers=_int(_get(row, f.followers), f.followers),
        author_verified=_bool(_get(row, f.verified)),
        lang=_get(row, f.lang),
        thread_id=None if _get(row, f.thread) is None else str(_get(row, f.thread)),
        parent_id=None if _get(row, f.parent) is None else str(_get(row, f.parent)),
        engagement=_int(_get(row, f.engagement), f.engagement) or 0,
        title=title,
        stars=stars,
        is_brand_account=_bool(_get(row, f.brand_account)),
        raw=row,
    )

