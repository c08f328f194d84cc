"""The kept rows of finished periods and the hours that make them stale: every write to the tables
trend_changed_hours, trend_period_cache, trend_period_text and trend_terms_kept.

Three modules meet on these tables: listener.trends.rollup marks the hours it recomputes and drops
everything on a rebuild or a new zone; listener.trends.cache keeps the trend files' rows of finished
periods (trend_period_cache vouching for the pieces in trend_period_text); listener.trends.terms keeps
the terms table's counts and rows (trend_terms_kept). The cache reads the trend tables, which read the
rollup, so the rollup cannot call the cache; the terms table calls the cache. This module is below all
three (it imports nothing of the trends), owns the four tables, and each of them calls it: what makes
a kept period stale and how it is dropped is said once, here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def mark_changed_hour(conn: Any, hour_start: str) -> None:
    """The rollup recomputed this hour (UTC ISO start): the kept periods holding it are out of date."""
    conn.execute("INSERT OR IGNORE INTO trend_changed_hours (hour_start) VALUES (?)", (hour_start,))


def forget_kept_periods(conn: Any) -> None:
    """Drop every kept period row (a rollup rebuild or a new zone): all are redone."""
    conn.execute("DELETE FROM trend_period_cache")
    conn.execute("DELETE FROM trend_period_text")
    conn.execute("DELETE FROM trend_terms_kept")
    conn.execute("DELETE FROM trend_changed_hours")


def forget_changed_periods(conn: Any) -> None:
    """Drop the kept periods (of every kind and zone) holding an hour changed since the last write.

    One look-up in the changed hours per kept period, whatever the number of changed hours: a full
    re-score marks every hour and still costs milliseconds here. The trend files' periods and the terms
    table's are dropped together, then the list is emptied: each mark is used once by both.
    """
    if conn.execute("SELECT 1 FROM trend_changed_hours LIMIT 1").fetchone() is None:
        return
    conn.execute(
        "DELETE FROM trend_period_cache WHERE EXISTS (SELECT 1 FROM trend_changed_hours h "
        "WHERE h.hour_start >= trend_period_cache.start_utc AND h.hour_start < trend_period_cache.stop_utc)"
    )
    # The terms table's kept periods (listener.trends.terms): a changed hour inside the period drops it;
    # one in the periods it is compared with drops its rows and keeps its counts.
    conn.execute(
        "DELETE FROM trend_terms_kept WHERE EXISTS (SELECT 1 FROM trend_changed_hours h "
        "WHERE h.hour_start >= trend_terms_kept.start_utc AND h.hour_start < trend_terms_kept.stop_utc)"
    )
    conn.execute(
        "UPDATE trend_terms_kept SET rows_json = NULL WHERE rows_json IS NOT NULL AND EXISTS (SELECT 1 FROM "
        "trend_changed_hours h WHERE h.hour_start >= trend_terms_kept.ref_start_utc "
        "AND h.hour_start < trend_terms_kept.start_utc)"
    )
    conn.execute("DELETE FROM trend_changed_hours")


# ---------------------------------------------------------------- the trend files' periods (listener.trends.cache)
def keep_pieces(conn: Any, key: tuple[str, str], texts: set[str], pieces: Iterable[tuple[Any, ...]],
                vouchers: Iterable[tuple[Any, ...]]) -> None:
    """Replace the pieces of the periods `texts` of (period, zone) `key` and vouch for them.

    pieces: (period_start, table_name, brand, csv, json); vouchers: (period_start, start_utc, stop_utc,
    fingerprint, brands JSON)."""
    conn.executemany("DELETE FROM trend_period_text WHERE period = ? AND zone = ? AND period_start = ?",
                     [(*key, text) for text in texts])
    conn.executemany(
        "INSERT INTO trend_period_text (period, zone, period_start, table_name, brand, csv, json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", [(*key, *piece) for piece in pieces])
    conn.executemany(
        "INSERT OR REPLACE INTO trend_period_cache (period, zone, period_start, start_utc, stop_utc, fingerprint, "
        "brands) VALUES (?, ?, ?, ?, ?, ?, ?)", [(*key, *voucher) for voucher in vouchers])


def drop_old_pieces(conn: Any, key: tuple[str, str], before: str) -> None:
    """Forget the kept periods of (period, zone) `key` that end before `before`, and pieces no longer
    vouched for."""
    conn.execute("DELETE FROM trend_period_cache WHERE period = ? AND zone = ? AND stop_utc <= ?", (*key, before))
    conn.execute(
        "DELETE FROM trend_period_text WHERE period = ? AND zone = ? AND NOT EXISTS "
        "(SELECT 1 FROM trend_period_cache c WHERE c.period = trend_period_text.period "
        "AND c.zone = trend_period_text.zone AND c.period_start = trend_period_text.period_start)",
        key,
    )


# ---------------------------------------------------------------- the terms table's periods (listener.trends.terms)
def drop_old_terms(conn: Any, key: tuple[str, str], before: str) -> None:
    """Forget the kept terms periods of (period, zone) `key` that end before `before`."""
    conn.execute("DELETE FROM trend_terms_kept WHERE period = ? AND zone = ? AND stop_utc <= ?", (*key, before))


def keep_terms(conn: Any, counts: Sequence[tuple[Any, ...]], rows: Sequence[tuple[Any, ...]]) -> None:
    """counts: whole kept periods (period, zone, period_start, brand, start_utc, stop_utc, ref_start_utc,
    fingerprint, posts, mentions, terms_json, rows_json), inserted or replaced; rows: new rows of a kept
    period (rows_json, ref_start_utc, period, zone, period_start, brand)."""
    conn.executemany(
        "INSERT INTO trend_terms_kept (period, zone, period_start, brand, start_utc, stop_utc, ref_start_utc, "
        "fingerprint, posts, mentions, terms_json, rows_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (period, zone, period_start, brand) DO UPDATE SET start_utc = excluded.start_utc, "
        "stop_utc = excluded.stop_utc, ref_start_utc = excluded.ref_start_utc, "
        "fingerprint = excluded.fingerprint, posts = excluded.posts, mentions = excluded.mentions, "
        "terms_json = excluded.terms_json, rows_json = excluded.rows_json", counts)
    conn.executemany(
        "UPDATE trend_terms_kept SET rows_json = ?, ref_start_utc = ? "
        "WHERE period = ? AND zone = ? AND period_start = ? AND brand = ?", rows)
