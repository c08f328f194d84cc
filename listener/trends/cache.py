"""The rows of finished periods, kept in the store, so the trend files are regenerated in proportion
to what changed.

Writing 90 days of daily files from scratch sums every hour of the window, counts distinct authors
per period and key, and formats every row: seconds at 200,000 mentions. Yet a finished period's
rows only change when an hour inside it changes in the rollup. So the rows of each finished period
are kept, already formatted as the files' CSV and JSON lines (table trend_period_text, one piece
per table and brand), with a row in trend_period_cache vouching for them:

- listener.trends.rollup marks each hour it recomputes (new mentions, a late score, a re-label) in
  trend_changed_hours, and drops every kept period on a rebuild or a new zone (all writes to these
  tables are listener.trends.kept's functions, which the rollup, this module and the terms table call);
- a trigger marks the hour when an author is removed from the rollup's author sets (forget --author);
- each write first drops the kept periods holding a marked hour, in the transaction it reads them in;
- each row carries a fingerprint of everything else its text depends on (the brands and their
  kinds, the competitor sets, the code that makes and formats the rows), so a config change or an
  upgrade redoes every period once.

The period still running is always redone, and so is the queue table (items change state and SLAs
fall due without any new mention). Brands in the store that are no longer in the config come after
the config's brands in every period of the window; which of them the window holds is worked out
each time from the kept brand lists, and a brand with no kept overview row gets its zero row.

What comes out is exactly what building the tables from scratch gives (tests compare the files).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from listener.config import Config
from listener.models import iso
from listener.store import Store
from listener.trends.files import TableText, csv_text, json_text, table_text
from listener.trends.kept import drop_old_pieces, forget_changed_periods, keep_pieces
from listener.trends.since import parse_duration
from listener.trends.tables import (
    COLUMNS,
    TrendTable,
    TrendWindow,
    brand_kinds,
    brand_order,
    overview_row,
    period_prefix,
    period_sums,
    queue_table,
    sentiment_tables,
)
from sentiment.trends import period_bounds, period_text

log = logging.getLogger("overheard.trends")

KEPT_TABLES = ("overview", "breakdown", "themes", "share_of_voice")  # the queue table is always redone
BY_BRAND = ("overview", "breakdown", "themes")  # kept in one piece per brand; share of voice per period
WHOLE_PERIOD = ""  # the brand key of a piece that holds the whole period
# Bump when what a kept row means changes in a way the code digest cannot see (e.g. a new rollup column).
CACHE_FORMAT = 1


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """A digest of the code that makes and formats the rows: an upgrade that changes it redoes every period."""
    import listener.trends.files
    import listener.trends.tables
    import sentiment.trends

    digest = hashlib.sha256()
    for file in (listener.trends.tables.__file__, listener.trends.files.__file__, sentiment.trends.__file__, __file__):
        try:
            digest.update(Path(file or "").read_bytes())
        except OSError:  # no source to read (a frozen build): the package version has to do
            from importlib.metadata import PackageNotFoundError, version

            try:
                digest.update(version("overheard").encode())
            except PackageNotFoundError:
                pass
    return digest.hexdigest()


def fingerprint(config: Config) -> str:
    """What a finished period's rows depend on besides the rollup: brands, kinds, competitor sets, code."""
    what = [CACHE_FORMAT, list(brand_kinds(config).items()),
            [[own.name, list(own.competitors)] for own in config.brands], _code_digest()]
    return hashlib.sha256(json.dumps(what, ensure_ascii=False).encode()).hexdigest()[:32]


Piece = tuple[str, str]  # (CSV lines, JSON lines) of some rows
PieceKey = tuple[str, str, str]  # (table, period_start text, brand or WHOLE_PERIOD)


def window_texts(config: Config, store: Store, window: TrendWindow, now: datetime | None = None) -> list[TableText]:
    """The window's five trend tables as file text, in file order, reusing the kept rows of finished
    periods and keeping those of the periods it had to redo.

    Kept periods the configured files and report no longer reach (see keep_horizon) are dropped.
    """
    with store.transaction() as conn:
        forget_changed_periods(conn)
        texts = _sentiment_texts(config, store, conn, window)
        _drop_old(conn, window, min(keep_horizon(config, window.until), window.since))
    return [*texts, table_text(queue_table(config, store, window, now))]


def window_tables(config: Config, store: Store, window: TrendWindow, now: datetime | None = None) -> list[TrendTable]:
    """The window's trend tables as rows (for the charts and the report), through the kept periods."""
    tables = []
    for text in window_texts(config, store, window, now):
        rows = json.loads("[" + ",\n".join(text.json) + "]")
        tables.append(TrendTable(text.name, text.period, text.columns, rows))
    return tables


def keep_horizon(config: Config, until: datetime) -> datetime:
    """Kept periods ending before this are of no use to the configured files and report: [trends].since
    or report_since back from `until` (the longer, and the report compares with the span before it),
    plus a month so the first, partly covered period stays."""
    longest = max(parse_duration(config.trends.since), 2 * parse_duration(config.trends.report_since))
    return until - longest - timedelta(days=31)


def _sentiment_texts(config: Config, store: Store, conn: Any, window: TrendWindow) -> list[TableText]:
    periods = window.periods()
    bounds = {p: period_bounds(p, window.period, window.tz) for p in periods}
    spans = {p: (iso(start), iso(stop)) for p, (start, stop) in bounds.items()}
    finished = [p for p in periods if bounds[p][1] <= window.until]
    key = (window.period, window.tz_name)
    mark = fingerprint(config)

    # The kept periods still good for this window: same fingerprint and the same UTC span (a tz
    # database update can move a period's bounds).
    kept: dict[str, list[str]] = {}
    for text, start, stop, brands in conn.execute(
        "SELECT period_start, start_utc, stop_utc, brands FROM trend_period_cache "
        "WHERE period = ? AND zone = ? AND fingerprint = ? AND stop_utc > ? AND start_utc < ?",
        (*key, mark, iso(window.since), iso(window.until)),
    ):
        kept[text] = [start, stop, brands]
    reused = {period_text(p) for p in finished if kept.get(period_text(p), [None])[:2] == list(spans[p])}
    redo = [p for p in periods if period_text(p) not in reused]

    sums = period_sums(store, window, redo)
    redo_brands = {period_text(p): sorted(b) for p, b in sums.brands().items()}
    seen: set[str] = set()
    for text in reused:
        seen.update(json.loads(kept[text][2]))
    for brands in redo_brands.values():
        seen.update(brands)
    order = brand_order(config, seen)

    log.debug("trend files (%s, %s): %d of %d periods redone", window.period, window.tz_name, len(redo), len(periods))
    pieces = dict(_pieces(sentiment_tables(config, window, sums, redo, order)))
    redo_finished = [p for p in finished if period_text(p) not in reused]
    _keep(conn, key, mark, redo_finished, spans, redo_brands, pieces)
    if reused:
        for text, table, brand, csv_piece, json_piece in conn.execute(
            "SELECT t.period_start, t.table_name, t.brand, t.csv, t.json FROM trend_period_cache c "
            "JOIN trend_period_text t ON t.period = c.period AND t.zone = c.zone AND t.period_start = c.period_start "
            "WHERE c.period = ? AND c.zone = ? AND c.fingerprint = ? AND c.stop_utc > ? AND c.start_utc < ?",
            (*key, mark, iso(window.since), iso(window.until)),
        ):
            if text in reused:
                pieces[(table, text, brand)] = (csv_piece, json_piece)
    return _assemble(config, window, periods, order, pieces)


def _pieces(tables: list[TrendTable]) -> Iterator[tuple[PieceKey, Piece]]:
    """Cut freshly built tables into pieces: per period and brand, or per period for share of voice."""
    for table in tables:
        group: list[dict[str, Any]] = []
        group_key: PieceKey | None = None
        for row in [*table.rows, None]:
            row_key = None if row is None else (
                table.name, row["period_start"], row["brand"] if table.name in BY_BRAND else WHOLE_PERIOD)
            if row_key != group_key and group:
                assert group_key is not None
                yield group_key, (csv_text(table.columns, group), json_text(table.columns, group))
                group = []
            if row is not None:
                group.append(row)
                group_key = row_key


def _keep(conn: Any, key: tuple[str, str], mark: str, periods: list[datetime | date],
          spans: dict[Any, tuple[str, ...]], brands: dict[str, list[str]], pieces: dict[PieceKey, Piece]) -> None:
    """Store the redone finished periods' pieces and vouch for them."""
    if not periods:
        return
    texts = {period_text(p) for p in periods}
    keep_pieces(conn, key, texts,
                [(text, table, brand, *piece) for (table, text, brand), piece in pieces.items() if text in texts],
                [(period_text(p), *spans[p], mark, json.dumps(brands.get(period_text(p), []), ensure_ascii=False))
                 for p in periods])


def _assemble(config: Config, window: TrendWindow, periods: list[datetime | date], order: list[str],
              pieces: dict[PieceKey, Piece]) -> list[TableText]:
    """The tables in file order: periods oldest first, brands in `order` within each period."""
    kinds = brand_kinds(config)
    out = {name: TableText(name, window.period, COLUMNS[name]) for name in KEPT_TABLES}
    columns = COLUMNS["overview"]
    for p in periods:
        text = period_text(p)
        for name in BY_BRAND:
            for brand in order:
                piece = pieces.get((name, text, brand))
                if piece is not None:
                    out[name].add(*piece)
                elif name == "overview":  # a brand without mentions in the period: its zero row
                    row = overview_row(period_prefix(window, p), brand, kinds, None, 0)
                    out[name].add(csv_text(columns, [row]), json_text(columns, [row]))
        piece = pieces.get(("share_of_voice", text, WHOLE_PERIOD))
        if piece is not None:
            out["share_of_voice"].add(*piece)
    return [out[name] for name in KEPT_TABLES]


def _drop_old(conn: Any, window: TrendWindow, before: datetime) -> None:
    """Forget kept periods that end before `before`, and pieces no longer vouched for."""
    drop_old_pieces(conn, (window.period, window.tz_name), iso(before))
