"""The hourly trend rollup in the store (table trend_hours), kept up to date incrementally.

Each update reads only the mentions scored since the watermark (mentions.scored_at) and the mentions
re-labelled since the last label seen (labels.id), finds the local hours they fall in, and recomputes
those hours from their mentions. Adding an hour of mentions therefore costs that hour's mentions,
never the whole history. Recomputing a whole hour (rather than adding and subtracting) makes a
re-label or a re-score simply replace the old figures, and makes a crash or a re-run harmless.

Not caught by the watermarks: reach refreshed on a re-fetched mention (author_followers changes,
scored_at does not). Its hour keeps the reach it had when last recomputed; `rebuild_rollup` redoes
everything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from listener.models import iso, parse_iso, utcnow
from listener.quarantine import NOT_THE_ROW, describe, implausible_stored_time, one_by_one, quarantine_mention
from listener.reach import mentions_reach, stored_audience  # noqa: F401 - the trend code's names for them
from listener.store import Store
from listener.trends.kept import forget_kept_periods, mark_changed_hour
from sentiment.trends import ALL_THEMES, MentionFacts, audience_of, hour_start, key_tallies

log = logging.getLogger("overheard.trends")

NO_BRAND = "(no brand)"
NO_LANGUAGE = "und"  # ISO 639-2 "undetermined": no language detected or given
# A scoring chunk stamps scored_at before it commits; re-reading the last minutes each update
# catches a chunk that committed after the previous update read past its stamp.
OVERLAP = timedelta(minutes=10)
HOURS_PER_TRANSACTION = 200
TALLY_COLUMNS = ("mentions", "positive", "neutral", "negative", "unscored", "detractors", "reach",
                 "compound_sum", "compound_n")


@dataclass
class RollupUpdate:
    """What one update did: hours recomputed, changed mentions read, whether it started over."""

    hours: int = 0
    mentions: int = 0
    rebuilt: bool = False


def mention_facts(row: dict[str, Any]) -> MentionFacts:
    """A stored mention row as the trend maths sees it."""
    return MentionFacts(
        created_at=parse_iso(row["created_at"]),
        brand=row["brand"] or NO_BRAND,
        source=row["source"],
        lang=row["lang"] or NO_LANGUAGE,
        label=row["label"],
        compound=row["compound"],
        detractor=bool(row["detractor"]),
        reach=row["author_followers"] or 0,
        themes=parse_themes(row.get("themes")),
        author=row.get("author"),
    )


def parse_themes(value: str | None) -> tuple[str, ...]:
    """mentions.themes is a JSON list of names; anything else counts as no themes."""
    if not value:
        return ()
    try:
        themes = json.loads(value)
    except ValueError:
        return ()
    return tuple(str(t) for t in themes if isinstance(t, str) and t.strip()) if isinstance(themes, list) else ()


# Brand-account posts are the brand talking, not customers: left out of every trend figure.
MENTION_COLUMNS = ("created_at, brand, source, lang, label, compound, detractor, author_followers, themes, author")
# Quarantined mentions (a stage could not handle them) are in no figure until a retry clears them.
COUNTED = "scored_at IS NOT NULL AND is_brand_account = 0 AND quarantined IS NULL"
# What names a mention's audience (sentiment.trends.audience_of): the subreddit of a Reddit mention.
# It ends with the mention's id (quarantine_mention takes row[-1]).
AUDIENCE_COLUMNS = ("CASE WHEN source = 'reddit' THEN json_extract(metrics, '$.subreddit') END, "
                    "CASE WHEN source = 'reddit' THEN url END, thread_key, id")


def _state(store: Store) -> dict[str, str]:
    return {r["key"]: r["value"] for r in store.query("SELECT key, value FROM trend_state")}


def _set_state(conn: Any, key: str, value: str) -> None:
    conn.execute("INSERT INTO trend_state (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def update_rollup(store: Store, tz_name: str, now: datetime | None = None) -> RollupUpdate:
    """Bring trend_hours up to date with the mentions scored or re-labelled since the last update."""
    tz = ZoneInfo(tz_name)
    started = now or utcnow()
    state = _state(store)
    report = RollupUpdate()
    if state.get("zone") != tz_name:
        # Hours are local hours of one zone; a new zone means new buckets, so start over once.
        with store.transaction() as conn:
            forget_kept_periods(conn)
            conn.execute("DELETE FROM trend_hours")
            conn.execute("DELETE FROM trend_hour_authors")
            conn.execute("DELETE FROM trend_hour_audiences")
            conn.execute("DELETE FROM trend_state")
            _set_state(conn, "zone", tz_name)
        state = {"zone": tz_name}
        report.rebuilt = True
    watermark = state.get("scored_at", "")
    last_label = int(state.get("label_id", "0"))

    hours: set[datetime] = set()
    poisoned: dict[int, str] = {}  # mention id -> why its time cannot be placed in an hour
    newest = ""
    for mention_id, created_at, scored_at in store.conn.execute(
        "SELECT id, created_at, scored_at FROM mentions WHERE scored_at IS NOT NULL AND scored_at >= ? "
        "AND quarantined IS NULL", (watermark,)
    ):
        newest = max(newest, scored_at)
        _add_hour(hours, poisoned, mention_id, created_at, tz)
        report.mentions += 1
    newest_label = last_label
    for label_id, mention_id, created_at in store.conn.execute(
        "SELECT l.id, m.id, m.created_at FROM labels l JOIN mentions m ON m.id = l.mention_id "
        "WHERE l.id > ? AND m.quarantined IS NULL", (last_label,),
    ):
        newest_label = max(newest_label, label_id)
        _add_hour(hours, poisoned, mention_id, created_at, tz)
        report.mentions += 1
    if poisoned:
        with store.transaction() as conn:
            for mention_id, reason in poisoned.items():
                quarantine_mention(conn, mention_id, "trends", reason)

    ordered = sorted(hours)
    next_watermark = min(newest, iso(started - OVERLAP)) if newest else watermark
    next_watermark = max(next_watermark, watermark)
    chunks = [ordered[i:i + HOURS_PER_TRANSACTION] for i in range(0, len(ordered), HOURS_PER_TRANSACTION)] or [[]]
    for n, chunk in enumerate(chunks):
        with store.transaction() as conn:
            for hour in chunk:
                _recompute_hour(store, conn, hour, tz)
            if n == len(chunks) - 1:  # watermarks move with the last hours, so a crash redoes, never skips
                _set_state(conn, "scored_at", next_watermark)
                _set_state(conn, "label_id", str(newest_label))
    report.hours = len(ordered)
    if report.hours:
        log.info("trend rollup: %d hours recomputed from %d changed mentions", report.hours, report.mentions)
    return report


def _add_hour(hours: set[datetime], poisoned: dict[int, str], mention_id: int, created_at: Any,
              tz: ZoneInfo) -> None:
    """The local hour a mention counts in; a stored time outside the plausible window (a database from
    before the import checked it: 9999-12-31 overflows the hour maths east of UTC) is set aside."""
    reason = implausible_stored_time(created_at)
    if reason is None:
        try:
            hours.add(hour_start(parse_iso(created_at), tz))
            return
        except (OverflowError, ValueError) as exc:
            reason = describe(exc)
    poisoned[mention_id] = reason


def recompute_mentions(store: Store, tz_name: str, mention_ids: list[int]) -> int:
    """Recompute the hours these mentions fall in (a quarantine retry brings them back); returns hours."""
    tz = ZoneInfo(tz_name)
    if _state(store).get("zone") != tz_name:
        return 0  # the next update starts over in the new zone and counts them anyway
    hours: set[datetime] = set()
    poisoned: dict[int, str] = {}
    for mention_id in mention_ids:
        created = store.scalar("SELECT created_at FROM mentions WHERE id = ?", (mention_id,))
        if created is not None:
            _add_hour(hours, poisoned, mention_id, created, tz)
    with store.transaction() as conn:
        for mention_id, reason in poisoned.items():
            quarantine_mention(conn, mention_id, "trends", reason)
        for hour in sorted(hours):
            _recompute_hour(store, conn, hour, tz)
    return len(hours)


def rebuild_rollup(store: Store, tz_name: str) -> RollupUpdate:
    """Forget the rollup and build it again from every stored mention."""
    with store.transaction() as conn:
        forget_kept_periods(conn)
        conn.execute("DELETE FROM trend_state")
        conn.execute("DELETE FROM trend_hours")
        conn.execute("DELETE FROM trend_hour_authors")
        conn.execute("DELETE FROM trend_hour_audiences")
    return update_rollup(store, tz_name)


def _brand_list(value: str | None) -> list[str]:
    """mentions.also_brands: a JSON list of brand names, or NULL."""
    if not value:
        return []
    try:
        names = json.loads(value)
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str) and n] if isinstance(names, list) else []


def _recompute_hour(store: Store, conn: Any, hour: datetime, tz: ZoneInfo) -> None:
    start = iso(hour)
    rows = conn.execute(
        "SELECT brand, source, lang, label, compound, detractor, author_followers, themes, author, also_brands, "
        f"{AUDIENCE_COLUMNS} FROM mentions WHERE created_at >= ? AND created_at < ? AND {COUNTED}",
        (start, iso(hour + timedelta(hours=1))),
    ).fetchall()

    # Every mention read here is in this local hour: no need to place each one in time again. A mention
    # naming several tracked brands ("switching from Brightwave to Lumacell") counts for each of them.
    def facts_of(chunk: Sequence[tuple[Any, ...]]) -> list[MentionFacts]:
        return [
            MentionFacts(hour, each or NO_BRAND, source, lang or NO_LANGUAGE, label, compound, bool(detractor),
                         followers or 0, parse_themes(themes), author)
            for brand, source, lang, label, compound, detractor, followers, themes, author, also, *_ in chunk
            for each in (brand, *_brand_list(also))
        ]

    try:
        facts = facts_of(rows)
        tallies = key_tallies(facts)
    except NOT_THE_ROW:
        raise
    except Exception:
        # A stored value the trend maths cannot take (say a reach that is text): that mention is set
        # aside at the trends stage and the hour is counted without it.
        alone = one_by_one(rows, lambda chunk: [key_tallies(facts_of(chunk))])
        for row, result in zip(rows, alone, strict=True):
            if isinstance(result, Exception):
                quarantine_mention(conn, row[-1], "trends", describe(result))
        rows = [row for row, result in zip(rows, alone, strict=True) if not isinstance(result, Exception)]
        facts = facts_of(rows)
        tallies = key_tallies(facts)
    # Reach: each audience once per key, at the largest size seen (docs/trends.md#reach).
    audiences: dict[tuple[str, str, str, str, str], tuple[int, str | None]] = {}
    for (brand, source, lang, _label, _compound, _detractor, followers, themes, author, also,
         community, url, thread, mention_id) in rows:
        if not isinstance(followers, int) or followers <= 0:
            continue
        names = parse_themes(themes)
        audience = audience_of(source, author, followers, community=community, url=url, thread=thread,
                               mention=str(mention_id))
        for each in (brand, *_brand_list(also)):
            for theme in (ALL_THEMES, *names):
                key = (each or NO_BRAND, source, lang or NO_LANGUAGE, theme, audience)
                if followers > audiences.get(key, (0, None))[0]:
                    audiences[key] = (followers, author)
    authors = {(m.brand, m.source, m.lang, theme, m.author)
               for m in facts if m.author for theme in (ALL_THEMES, *m.themes)}
    # The kept rows of every period holding this hour are out of date (listener.trends.kept).
    mark_changed_hour(conn, start)
    conn.execute("DELETE FROM trend_hours WHERE hour_start = ?", (start,))
    conn.execute("DELETE FROM trend_hour_authors WHERE hour_start = ?", (start,))
    conn.execute("DELETE FROM trend_hour_audiences WHERE hour_start = ?", (start,))
    conn.executemany(
        f"INSERT INTO trend_hours (hour_start, brand, source, lang, theme, {', '.join(TALLY_COLUMNS)}) "
        f"VALUES (?, ?, ?, ?, ?, {', '.join('?' * len(TALLY_COLUMNS))})",
        [(start, brand, source, lang, theme, *(getattr(t, c) for c in TALLY_COLUMNS))
         for (brand, source, lang, theme), t in tallies.items()],
    )
    conn.executemany(
        "INSERT INTO trend_hour_authors (hour_start, brand, source, lang, theme, author) VALUES (?, ?, ?, ?, ?, ?)",
        [(start, *key) for key in authors],
    )
    conn.executemany(
        "INSERT INTO trend_hour_audiences (hour_start, brand, source, lang, theme, audience, followers, author) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(start, *key, size, author) for key, (size, author) in audiences.items()],
    )
