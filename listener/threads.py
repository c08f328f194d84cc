"""Thread rollup: recompute the threads new mentions touched, with their escalation risk."""

from __future__ import annotations

import json
import re
import sqlite3
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta

from listener.config import Config
from listener.models import iso, parse_iso, utcnow
from listener.quarantine import (
    NOT_THE_ROW,
    describe,
    implausible_stored_time,
    one_by_one,
    quarantine_mention,
    quarantine_thread,
)
from listener.reach import mentions_reach
from listener.store import Store
from sentiment.risk import (
    MentionFacts,
    RiskWeights,
    awaits_reply,
    cue_pattern,
    is_complaint,
    is_negative,
    thread_risk,
)


def risk_weights(config: Config) -> RiskWeights:
    r = config.risk
    return RiskWeights(
        negativity=r.negativity, reach=r.reach, velocity=r.velocity, cues=r.cues,
        repeat_detractors=r.repeat_detractors, brand_replied_discount=r.brand_replied_discount,
        repeat_full_at=r.repeat_full_at, velocity_window=timedelta(minutes=r.velocity_window_minutes),
        reach_full_at=r.reach_full_at,
    )


def support_handles(config: Config) -> dict[str, tuple[str, ...]]:
    """Brand name -> its own accounts; a customer tagging one is an escalation cue."""
    return {b.name: tuple(b.handles) for b in config.brands}


def flag_threshold(config: Config) -> float:
    """Lowest alert level: a thread at or above it with a detractor is flagged for support."""
    return min(config.alerts.levels.values(), default=50.0)


def rollup_dirty(store: Store, config: Config, now: datetime | None = None) -> list[str]:
    """Recompute every thread marked dirty; marks each for an alert check. Returns their keys.

    Linear in what it reads: per chunk of 500 threads, one query for their mentions and one per
    `AUTHOR_CHUNK` authors for the authors' earlier mentions (the repeat-detractor signal), whatever
    the threads' sizes. A thread of 50,000 replies costs its rows, not 50,000 look-ups.
    """
    weights = risk_weights(config)
    handles = support_handles(config)
    window = timedelta(days=config.risk.repeat_window_days)
    own = set(config.brand_names())
    threshold = flag_threshold(config)
    cues = tuple(config.sentiment.cues)
    pattern = cue_pattern(cues)
    done: list[str] = []
    context = _Context(weights, handles, window, own, threshold, cues, pattern, iso(now or utcnow()))
    while True:
        keys = [r[0] for r in store.conn.execute(
            "SELECT thread_key FROM threads WHERE dirty = 1 ORDER BY thread_key LIMIT 500")]
        if not keys:
            return done
        with store.transaction() as conn:
            rows_of = _thread_rows(store, keys)
            history = AuthorHistory.read(store, [r for rows in rows_of.values() for r in rows], window, pattern)
            for key in keys:
                try:
                    with store.savepoint():
                        if _rollup_thread(store, conn, key, context, rows_of.get(key, []), history):
                            done.append(key)
                except NOT_THE_ROW:
                    raise
                except Exception as exc:
                    # Not one mention's fault (those are set aside below): the thread waits, the rest go on.
                    quarantine_thread(conn, {"thread_key": key, "source": key.split(":", 1)[0]}, "threads",
                                      describe(exc))
                    conn.execute("UPDATE threads SET dirty = 0 WHERE thread_key = ?", (key,))


# What the rollup reads of a mention (not `raw`: a viral thread's payloads are most of its bytes).
ROW_COLUMNS = ("id, source, native_id, brand, url, author, author_followers, author_verified, text, title, stars, "
               "created_at, thread_key, engagement, metrics, is_brand_account, label, compound, detractor, "
               "needs_reply")
KEY_CHUNK = 500  # bound parameters per IN list (SQLite allows 32,766; PostgreSQL 65,535)
AUTHOR_CHUNK = 500


def _thread_rows(store: Store, keys: list[str]) -> dict[str, list[dict]]:
    """The unquarantined mentions of each thread, in (created_at, id) order: one query per chunk of keys."""
    out: dict[str, list[dict]] = {}
    for i in range(0, len(keys), KEY_CHUNK):
        part = keys[i:i + KEY_CHUNK]
        for row in store.query(
            f"SELECT {ROW_COLUMNS} FROM mentions WHERE thread_key IN ({','.join('?' * len(part))}) "
            "AND quarantined IS NULL ORDER BY thread_key, created_at, id", part,
        ):
            out.setdefault(row["thread_key"], []).append(row)
    return out


class AuthorHistory:
    """The complaints of the authors of some mentions, read once for all of them.

    complaints_before() answers what one query per mention used to: how often the author complained
    about the same brand in OTHER threads in the window before the mention, and when the earliest was.
    """

    def __init__(self, window: timedelta) -> None:
        self.window = window
        # (source, author, brand) -> complaint times, sorted, with their threads
        self._times: dict[tuple, list[str]] = {}
        self._threads: dict[tuple, list[str]] = {}
        # (source, author, brand, thread) -> that thread's complaint times, sorted
        self._own: dict[tuple, list[str]] = {}

    @classmethod
    def read(cls, store: Store, rows: list[dict], window: timedelta, cues: re.Pattern[str]) -> AuthorHistory:
        history = cls(window)
        wanted: dict[str, dict[str, list[str]]] = {}  # source -> author -> created_at of the rows asking
        for r in rows:
            if r["author"] and not r["is_brand_account"] and isinstance(r["created_at"], str):
                wanted.setdefault(r["source"], {}).setdefault(r["author"], []).append(r["created_at"])
        found: list[tuple] = []
        for source, authors in wanted.items():
            names = sorted(authors)
            for i in range(0, len(names), AUTHOR_CHUNK):
                part = names[i:i + AUTHOR_CHUNK]
                times = [t for a in part for t in authors[a]]
                try:
                    since = iso(parse_iso(min(times)) - window)
                except (ValueError, OverflowError):
                    since = ""  # an unreadable time: that mention is set aside below; read everything
                found += store.conn.execute(
                    "SELECT source, author, brand, thread_key, label, stars, COALESCE(title, '') || ' ' || text, "
                    f"created_at FROM mentions WHERE source = ? AND author IN ({','.join('?' * len(part))}) "
                    "AND created_at >= ? AND created_at < ? AND is_brand_account = 0 ORDER BY created_at, id",
                    (source, *part, since, max(times)),
                ).fetchall()
        # Each author is in one chunk, so each author's history comes in time order.
        for source, author, brand, thread, label, stars, text, at in found:
            if is_complaint(label, stars, text, cues):
                key = (source, author, brand)
                history._times.setdefault(key, []).append(at)
                history._threads.setdefault(key, []).append(thread)
                history._own.setdefault((*key, thread), []).append(at)
        return history

    def complaints_before(self, row: dict) -> tuple[int, datetime | None]:
        if not row["author"] or row["is_brand_account"]:
            return 0, None
        key = (row["source"], row["author"], row["brand"])
        times = self._times.get(key)
        if not times:
            return 0, None
        at = row["created_at"]
        since = iso(parse_iso(at) - self.window)
        lo, hi = bisect_left(times, since), bisect_left(times, at)
        own = self._own.get((*key, row["thread_key"]), [])
        count = (hi - lo) - (bisect_left(own, at) - bisect_left(own, since))
        if not count:
            return 0, None
        threads = self._threads[key]
        earliest = next(times[i] for i in range(lo, hi) if threads[i] != row["thread_key"])
        return count, parse_iso(earliest)


@dataclass(frozen=True)
class _Context:
    weights: RiskWeights
    handles: dict[str, tuple[str, ...]]
    window: timedelta
    own: set[str]
    threshold: float
    cues: tuple[str, ...]
    pattern: re.Pattern[str]
    now: str


def _rollup_thread(store: Store, conn: sqlite3.Connection, key: str, c: _Context, stored: list[dict],
                   history: AuthorHistory) -> bool:
    """Recompute one thread; a mention whose stored values break the maths is quarantined and left out."""
    rows = []
    for row in stored:
        reason = implausible_stored_time(row["created_at"])
        if reason:
            quarantine_mention(conn, row, "threads", reason)
        else:
            rows.append(row)
    facts_of = one_by_one(rows, lambda chunk: [_facts(r, history) for r in chunk])
    for row, fact in zip(rows, facts_of, strict=True):
        if isinstance(fact, Exception):
            quarantine_mention(conn, row, "threads", describe(fact))
    rows = [r for r, f in zip(rows, facts_of, strict=True) if not isinstance(f, Exception)]
    facts = [f for f in facts_of if not isinstance(f, Exception)]
    if not rows:
        conn.execute("UPDATE threads SET dirty = 0 WHERE thread_key = ?", (key,))
        return False
    brand = next((r["brand"] for r in rows if r["brand"]), None)
    support = c.handles.get(brand or "", ())
    try:
        risk = thread_risk(facts, c.weights, c.cues, support)
    except NOT_THE_ROW:
        raise
    except Exception:
        # Find the mention the maths cannot take, set it aside, and score the thread without it
        # (if no single mention is to blame, the caller quarantines the thread).
        alone = one_by_one(facts, lambda chunk: [thread_risk(list(chunk), c.weights, c.cues, support)])
        for row, result in zip(rows, alone, strict=True):
            if isinstance(result, Exception):
                quarantine_mention(conn, row, "threads", describe(result))
        keep = [i for i, result in enumerate(alone) if not isinstance(result, Exception)]
        rows, facts = [rows[i] for i in keep], [facts[i] for i in keep]
        if not rows:
            conn.execute("UPDATE threads SET dirty = 0 WHERE thread_key = ?", (key,))
            return False
        risk = thread_risk(facts, c.weights, c.cues, support)
    customer = [r for r in rows if not r["is_brand_account"]]
    negative = sum(1 for f in facts if not f.is_brand_account and is_negative(f))
    # A detractor: negative with confidence (scoring), a 1-3 star review, or an author
    # complaining again (the per-author repeat-detractor flag).
    repeaters = [
        (r, f) for r, f in zip(rows, facts, strict=True)
        if not f.is_brand_account and f.author_negative_before
        and is_complaint(f.label, f.stars, f.text, c.pattern)
    ]
    if repeaters:
        conn.executemany(
            "UPDATE authors SET repeat_detractor_at = ? WHERE source = ? AND author = ? "
            "AND (repeat_detractor_at IS NULL OR repeat_detractor_at < ?)",
            [(r["created_at"], r["source"], r["author"], r["created_at"]) for r, _ in repeaters])
    repeat_ids = {r["id"] for r, _ in repeaters}
    detractors = sum(1 for r in customer if r["detractor"] or r["id"] in repeat_ids)
    scored = [r["compound"] for r in customer if r["compound"] is not None]
    # Flagged: a risky thread with a detractor, or a customer who asked the support handle and got no answer.
    flagged = int(brand in c.own and ((detractors > 0 and risk.score >= c.threshold) or awaits_reply(facts, support)))
    conn.execute(
        """UPDATE threads SET brand = ?, first_at = ?, last_at = ?, mentions = ?, negative = ?,
             detractors = ?, reach = ?, engagement = ?, mean_compound = ?, brand_replied = ?,
             risk = ?, reasons = ?, flagged = CASE WHEN flagged > ? THEN flagged ELSE ? END, url = COALESCE(url, ?),
             dirty = 0, alert_pending = 1, updated_at = ?
           WHERE thread_key = ?""",
        (
            brand, rows[0]["created_at"], rows[-1]["created_at"], len(rows), negative, detractors,
            mentions_reach(customer),  # each audience once (docs/trends.md#reach)
            sum(r["engagement"] for r in customer),
            round(sum(scored) / len(scored), 4) if scored else None,
            int(any(r["is_brand_account"] for r in rows)), risk.score,
            json.dumps(risk.reasons, ensure_ascii=False), flagged, flagged, rows[0]["url"],
            c.now, key,
        ),
    )
    return True


def _facts(row: dict, history: AuthorHistory) -> MentionFacts:
    count, since = history.complaints_before(row)
    return MentionFacts(
        created_at=parse_iso(row["created_at"]), label=row["label"], compound=row["compound"],
        followers=row["author_followers"], verified=bool(row["author_verified"]),
        engagement=row["engagement"], text=(row["title"] or "") + " " + row["text"],
        author=row["author"], is_brand_account=bool(row["is_brand_account"]),
        author_negative_before=count, author_negative_since=since, stars=row["stars"], source=row["source"],
        needs_reply=row.get("needs_reply"),
    )


def complaints_before(store: Store, row: dict, window: timedelta,
                      cues: re.Pattern[str] | None = None) -> tuple[int, datetime | None]:
    """How often this author complained about the same brand in OTHER threads within the window
    before this mention, and when the earliest was: the per-author repeat-detractor signal.

    One query per mention: the straightforward definition, kept as the reference the tests and the
    viral-thread benchmark compare AuthorHistory with (the rollup itself reads the history in bulk)."""
    if not row["author"] or row["is_brand_account"]:
        return 0, None
    since = iso(parse_iso(row["created_at"]) - window)
    earlier = store.conn.execute(
        "SELECT label, stars, COALESCE(title, '') || ' ' || text, created_at FROM mentions "
        # +brand: look the author up by the (source, author, created_at) index, not by brand
        "WHERE source = ? AND author = ? AND +brand IS ? AND thread_key != ? AND created_at >= ? "
        "AND created_at < ? AND is_brand_account = 0",
        (row["source"], row["author"], row["brand"], row["thread_key"], since, row["created_at"]),
    ).fetchall()
    times = [at for label, stars, text, at in earlier if is_complaint(label, stars, text, cues)]
    return len(times), parse_iso(min(times)) if times else None


# ---------------------------------------------------------------- the threads table's marks
# listener.threads owns the writes to the threads table (tests/test_table_owners.py): the other stages
# mark a thread through these, inside their own transaction (`conn`).


def mark_dirty(conn: sqlite3.Connection, thread_keys: list[str]) -> None:
    """Mark threads for the rollup to recompute: a mention of theirs was scored, relabelled or let back in."""
    if thread_keys:
        conn.executemany("UPDATE threads SET dirty = 1 WHERE thread_key = ? AND dirty = 0",
                         [(key,) for key in thread_keys])


def mark_alert_pending(conn: sqlite3.Connection, thread_keys: list[str]) -> None:
    """Mark threads for the rules to check again (a thread the rules set aside, retried)."""
    if thread_keys:
        conn.executemany("UPDATE threads SET alert_pending = 1 WHERE thread_key = ? AND alert_pending = 0",
                         [(key,) for key in thread_keys])


def checked_for_alerts(conn: sqlite3.Connection, thread_key: str) -> bool:
    """The rules take this thread's check: its alert mark is cleared in the same transaction.

    False when the mark was already cleared (another worker checked it since it was read), so a
    thread is never checked twice."""
    return conn.execute("UPDATE threads SET alert_pending = 0 WHERE thread_key = ? AND alert_pending = 1",
                        (thread_key,)).rowcount == 1


def set_level(conn: sqlite3.Connection, thread_key: str, level: str) -> None:
    """The alert level the thread reached (the rules write it when they route its alert)."""
    conn.execute("UPDATE threads SET level = ? WHERE thread_key = ?", (level, thread_key))
