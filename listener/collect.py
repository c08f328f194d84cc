"""The collect stage: ask each enabled source from its cursor on, store each batch with its cursor."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from listener.config import Config
from listener.errors import SourceError
from listener.models import iso, utcnow
from listener.sources import source_class
from listener.sources.base import Source, SourceQuery
from listener.store import SaveResult, Store

log = logging.getLogger("overheard.collect")


@dataclass
class CollectReport:
    per_source: dict[str, SaveResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.per_source.values())


def build_sources(config: Config, only: list[str] | None = None) -> list[Source]:
    sources = []
    for name, section in config.sources.items():
        if only and name not in only:
            continue
        if not getattr(section, "enabled", True) and not only:
            continue
        cls = source_class(name)
        assert cls is not None  # validated with the config
        sources.append(cls(section, config))
    return sources


def collect_source(store: Store, source: Source, *, backfill: timedelta | None = None,
                   brand: str | None = None,
                   on_batch: Callable[[SaveResult], None] | None = None,
                   on_query: Callable[[SourceQuery], None] | None = None) -> tuple[SaveResult, list[str]]:
    """Run every query of one source once; a failing query is recorded and the others still run.

    After a refused credential or a rate limit the source's remaining queries are skipped this run:
    they would only be refused too (and spend requests); the next run resumes each from its cursor.
    Only queries in the same `limit_scope` are skipped: one blocked feed host or Mastodon instance
    does not hold back the others.
    """
    total = SaveResult()
    errors: list[str] = []
    stopped: set[str] = set()
    for query in source.queries():
        if brand and query.brand not in (None, brand):
            continue
        scope = source.limit_scope(query)
        if scope in stopped:
            continue
        if on_query:
            on_query(query)
        started, t0 = iso(utcnow()), time.monotonic()
        result, error = SaveResult(), None
        try:
            cursor = None if backfill else store.get_cursor(source.name, query.key)
            for batch in source.collect(query, cursor, backfill=backfill):
                saved = store.save_batch(source.name, query.key, batch)
                for attr in ("fetched", "new", "duplicates", "quarantined"):
                    setattr(result, attr, getattr(result, attr) + getattr(saved, attr))
                if on_batch:
                    on_batch(saved)
        except SourceError as exc:
            error = f"{source.name} {query.key}: {exc}"
            stop = exc.auth or exc.retry_after is not None
        else:
            stop = False
        store.record_run(source.name, query.key, started, result, errors=int(error is not None), error=error,
                         duration_s=round(time.monotonic() - t0, 3))
        if error:
            errors.append(error)
            log.warning("%s", error)
        for attr in ("fetched", "new", "duplicates", "quarantined"):
            setattr(total, attr, getattr(total, attr) + getattr(result, attr))
        if stop:
            stopped.add(scope)
    return total, errors


def collect(config: Config, store: Store, *, only: list[str] | None = None,
            backfill: timedelta | None = None, brand: str | None = None) -> CollectReport:
    report = CollectReport()
    for source in build_sources(config, only):
        result, errors = collect_source(store, source, backfill=backfill, brand=brand)
        report.per_source[source.name] = result
        report.errors.extend(errors)
    return report
