"""Thread rollup: recompute the threads new mentions touched, with their escalation risk (big threads
incrementally, from running totals kept in the store)."""

from __future__ import annotations

import json
import re
import sqlite3
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

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
from listener.reach import mentions_reach, stored_audience
from listener.store import Store, mark_repeat_detractors
from sentiment.risk import (
    MentionFacts,
    RiskTotals,
    RiskWeights,
    awaits_reply,
    cue_pattern,
    is_complaint,
    is_negative,
    nps_bucket,
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


# A thread of at least this many mentions keeps running totals in the store (thread_totals), so its next
# rollup adds only its new mentions; a smaller one is recomputed from its rows (as cheap as reading totals).
INCREMENTAL_FROM = 50


def rollup_dirty(store: Store, config: Config, now: datetime | None = None) -> list[str]:
    """Recompute every thread marked dirty; marks each for an alert check. Returns their keys.

    Linear in what it reads: per chunk of 500 threads, one query for their mentions and one per
    `AUTHOR_CHUNK` authors for the authors' earlier mentions (the repeat-detractor signal), whatever
    the threads' sizes. A thread of `INCREMENTAL_FROM` mentions or more keeps running totals
    (thread_totals), so only its mentions not counted yet are read: a viral thread's 1,000th batch of
    replies costs what its first did. The totals give exactly what counting every mention again gives;
    when a counted mention changed (re-labelled, re-scored, refreshed, deleted, set aside) its writer
    deleted them, and the thread is counted again in full.
    """
    weights = risk_weights(config)
    handles = support_handles(config)
    window = timedelta(days=config.risk.repeat_window_days)
    own = set(config.brand_names())
    threshold = flag_threshold(config)
    cues = tuple(config.sentiment.cues)
    pattern = cue_pattern(cues)
    fingerprint = json.dumps([TOTALS_VERSION, repr(weights), sorted(handles.items()), window.total_seconds(),
                              list(cues)])
    done: list[str] = []
    context = _Context(weights, handles, window, own, threshold, cues, pattern, iso(now or utcnow()), fingerprint)
    while True:
        keys = [r[0] for r in store.conn.execute("SELECT thread_key FROM threads WHERE dirty = 1 ORDER BY thread_key")]
        if not keys:
            return done
        # Before any thread is counted: totals whose authors' history changed (their repeat-detractor counts).
        forget_stale_totals(store, keys, window)
        for i in range(0, len(keys), 500):
            _rollup_chunk(store, keys[i:i + 500], context, done)


def _rollup_chunk(store: Store, keys: list[str], context: _Context, done: list[str]) -> None:
    """Roll up one chunk of dirty threads, in one transaction.

    Every thread is computed first, in Python (it reads, it writes nothing); then the chunk's writes go
    out together: one statement (executemany, pipelined on PostgreSQL) per kind for all its threads, so
    the stage costs a few round trips per chunk, not a savepoint pair and several statements per thread.
    A thread whose maths fail is quarantined and the others are written. If a write fails, the chunk's
    writes are undone (its one savepoint) and its threads are rolled up again one by one, each in a
    savepoint of its own, so only the thread at fault is set aside."""
    with store.transaction() as conn:
        kept = _read_totals(store, keys, context.fingerprint)
        rows_of = _thread_rows(store, [k for k in keys if k not in kept])
        new_of = _thread_rows(store, list(kept), new_only=True)
        # New rows that running totals cannot take: count those threads in full.
        again = [k for k, t in kept.items() if not t.can_add(new_of.get(k, []))]
        rows_of.update(_thread_rows(store, again))
        for k in again:
            del kept[k]
            new_of.pop(k, None)
        history = AuthorHistory.read(
            store, [r for part in (rows_of, new_of) for rows in part.values() for r in rows], context.window,
            context.pattern)
        jobs = [(key, kept.get(key), new_of.get(key, []) if key in kept else rows_of.get(key, [])) for key in keys]
        try:
            with store.savepoint():
                rolled = _rollup_together(conn, jobs, context, history)
        except NOT_THE_ROW:
            raise
        except Exception:
            rolled = []
            for job in jobs:
                try:
                    with store.savepoint():
                        rolled += _rollup_together(conn, [job], context, history)
                except NOT_THE_ROW:
                    raise
                except Exception as exc:
                    _write_chunk(conn, _Writes(failed=[(job[0], describe(exc))]))
        done.extend(rolled)


def _rollup_together(conn: sqlite3.Connection, jobs: list[tuple[str, ThreadTotals | None, list[dict]]],
                     c: _Context, history: AuthorHistory) -> list[str]:
    """Compute these threads, then write them all; returns the keys of those rolled up (in order)."""
    writes = _Writes()
    rolled = []
    for key, totals, stored in jobs:
        try:
            mine = _rollup_thread(conn, key, c, stored, history, totals)
        except NOT_THE_ROW:
            raise
        except Exception as exc:
            # Not one mention's fault (those are set aside in it): the thread waits, the rest go on.
            writes.failed.append((key, describe(exc)))
            continue
        writes.extend(mine)
        if mine.threads:
            rolled.append(key)
    _write_chunk(conn, writes)
    return rolled


def forget_stale_totals(store: Store, keys: list[str], window: timedelta) -> None:
    """Delete the running totals of threads whose counted mentions' repeat-detractor counts would change.

    A mention's count is its author's complaints in OTHER threads in the window before it. The mentions
    about to be counted (in the dirty `keys`) change it for the same author's counted mentions elsewhere
    posted up to a window after them: those threads are counted again in full when next rolled up.
    (Live mentions arrive in time order, so this is rare: a late import, a re-label, a rescore.)"""
    if store.scalar("SELECT 1 FROM thread_totals LIMIT 1") is None:
        return
    asking: dict[tuple, list[tuple[str, str, str]]] = {}  # (source, author, brand) -> (from, to, thread)
    spans: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (source, author) -> (from, to)
    reach = window + timedelta(seconds=1)  # generous at the edges: a spare recount is harmless
    for i in range(0, len(keys), KEY_CHUNK):
        part = keys[i:i + KEY_CHUNK]
        for source, author, brand, at, thread in store.conn.execute(
            "SELECT source, author, brand, created_at, thread_key FROM mentions "
            f"WHERE thread_key IN ({','.join('?' * len(part))}) AND rolled_up IS NULL "
            "AND is_brand_account = 0 AND author IS NOT NULL", part,
        ):
            try:
                until = iso(parse_iso(at) + reach)
            except (ValueError, OverflowError, TypeError):
                until = "9999"
            asking.setdefault((source, author, brand), []).append((at, until, thread))
            spans.setdefault((source, author), []).append((at, until))
    stale: set[str] = set()
    by_source: dict[str, list[str]] = {}
    for source, author in spans:
        by_source.setdefault(source, []).append(author)
    for source, authors in by_source.items():
        names = sorted(authors)
        for i in range(0, len(names), AUTHOR_CHUNK):
            part = names[i:i + AUTHOR_CHUNK]
            these = [s for a in part for s in spans[(source, a)]]
            for thread, author, brand, at in store.conn.execute(
                "SELECT thread_key, author, brand, created_at FROM mentions WHERE source = ? "
                f"AND author IN ({','.join('?' * len(part))}) AND rolled_up IS NOT NULL AND is_brand_account = 0 "
                "AND created_at >= ? AND created_at <= ?",
                (source, *part, min(s[0] for s in these), max(s[1] for s in these)),
            ):
                if thread not in stale and any(lo <= at <= hi and other != thread
                                               for lo, hi, other in asking.get((source, author, brand), ())):
                    stale.add(thread)
    if stale:
        ordered = sorted(stale)
        with store.transaction() as conn:
            for i in range(0, len(ordered), KEY_CHUNK):
                part = ordered[i:i + KEY_CHUNK]
                conn.execute(f"DELETE FROM thread_totals WHERE thread_key IN ({','.join('?' * len(part))})", part)


# What the rollup reads of a mention (not `raw`: a viral thread's payloads are most of its bytes).
ROW_COLUMNS = ("id, source, native_id, brand, url, author, author_followers, author_verified, text, title, stars, "
               "created_at, thread_key, engagement, metrics, is_brand_account, label, compound, detractor, "
               "needs_reply")
KEY_CHUNK = 500  # bound parameters per IN list (SQLite allows 32,766; PostgreSQL 65,535)
AUTHOR_CHUNK = 500


def _thread_rows(store: Store, keys: list[str], new_only: bool = False) -> dict[str, list[dict]]:
    """The unquarantined mentions of each thread, in (created_at, id) order: one query per chunk of keys.
    `new_only`: only those not counted in the thread's running totals yet (mentions.rolled_up IS NULL)."""
    out: dict[str, list[dict]] = {}
    for i in range(0, len(keys), KEY_CHUNK):
        part = keys[i:i + KEY_CHUNK]
        if new_only:
            # By the index of the rows not counted yet (no ORDER BY, which would walk the whole thread).
            rows = store.query(
                f"SELECT {ROW_COLUMNS} FROM mentions WHERE rolled_up IS NULL "
                f"AND thread_key IN ({','.join('?' * len(part))}) AND quarantined IS NULL", part)
            rows.sort(key=lambda r: (r["thread_key"], r["created_at"], r["id"]))
        else:
            rows = store.query(
                f"SELECT {ROW_COLUMNS} FROM mentions WHERE thread_key IN ({','.join('?' * len(part))}) "
                "AND quarantined IS NULL ORDER BY thread_key, created_at, id", part)
        for row in rows:
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
    fingerprint: str = ""


TOTALS_VERSION = 1  # bump when ThreadTotals changes meaning: every thread is then counted again once


@dataclass
class ThreadTotals:
    """A thread's rollup as running totals over its counted mentions (thread_totals.totals, JSON).

    Each mention's place is (created_at, id): the first one gives the thread its time and link, the
    first with a brand its brand. Per-audience sizes and per-author repeat state live in their own
    tables (thread_audiences, thread_repeaters), read only for the authors of the new mentions."""

    risk: RiskTotals = field(default_factory=RiskTotals)
    mentions: int = 0
    detractors: int = 0
    reach: int = 0
    compound_sum: Fraction = Fraction(0)
    compound_n: int = 0
    brand: str | None = None
    brand_order: tuple[str, int] | None = None
    first: tuple[str, int] | None = None
    url: str | None = None
    last: tuple[str, int] | None = None
    brand_replied: bool = False

    def can_add(self, rows: list[dict]) -> bool:
        """Whether these new mentions can be added to the totals (else: count the thread in full).

        A brand reply moves what "after the brand replied" covers; a mention with a brand before the
        one that named the thread's brand would change its brand (and its support handles)."""
        for r in rows:
            if r["is_brand_account"]:
                return False
            if r["brand"] and (self.brand_order is None or (r["created_at"], r["id"]) < self.brand_order):
                return False
        return True

    def add(self, row: dict, fact: MentionFacts, repeat: bool, compound: Fraction | None) -> None:
        order = (row["created_at"], row["id"])
        self.mentions += 1
        if self.first is None or order < self.first:
            self.first, self.url = order, row["url"]
        if self.last is None or order > self.last:
            self.last = order
        if row["brand"] and (self.brand_order is None or order < self.brand_order):
            self.brand, self.brand_order = row["brand"], order
        if row["is_brand_account"]:
            self.brand_replied = True
            return
        self.detractors += bool(row["detractor"] or repeat)
        if compound is not None:
            self.compound_sum += compound
            self.compound_n += 1

    def dump(self) -> str:
        r = self.risk
        return json.dumps({
            "mentions": self.mentions, "detractors": self.detractors, "reach": self.reach,
            "compound_sum": str(self.compound_sum), "compound_n": self.compound_n, "brand": self.brand,
            "brand_order": self.brand_order, "first": self.first, "url": self.url, "last": self.last,
            "brand_replied": self.brand_replied,
            "risk": {**{k: getattr(r, k) for k in ("customers", "negative", "engagement", "verified", "review_stars",
                                                    "complaints", "waiting", "waiting_requests", "unhappy_after",
                                                    "repeaters")},
                     **{k: _when(getattr(r, k)) for k in ("first_at", "last_at", "brand_first", "brand_last",
                                                          "asked_at")},
                     "strength": str(r.strength), "repeat_level": str(r.repeat_level), "widest": r.widest,
                     "cues": sorted(r.cues), "tagged": sorted(r.tagged),
                     "worst": _dump_repeater(r.worst) if r.worst else None},
        }, ensure_ascii=False)

    @classmethod
    def load(cls, text: str) -> ThreadTotals:
        d = json.loads(text)
        rd = d["risk"]
        risk = RiskTotals(
            **{k: rd[k] for k in ("customers", "negative", "engagement", "verified", "review_stars", "complaints",
                                  "waiting", "waiting_requests", "unhappy_after", "repeaters")},
            **{k: _parse_when(rd[k]) for k in ("first_at", "last_at", "brand_first", "brand_last", "asked_at")},
            strength=Fraction(rd["strength"]), repeat_level=Fraction(rd["repeat_level"]),
            widest=None if rd["widest"] is None else [rd["widest"][0], tuple(rd["widest"][1]), *rd["widest"][2:]],
            cues=set(rd["cues"]), tagged=set(rd["tagged"]),
            worst=_load_repeater(rd["worst"]) if rd["worst"] else None)
        return cls(risk=risk, mentions=d["mentions"], detractors=d["detractors"], reach=d["reach"],
                   compound_sum=Fraction(d["compound_sum"]), compound_n=d["compound_n"], brand=d["brand"],
                   brand_order=_order(d["brand_order"]), first=_order(d["first"]), url=d["url"],
                   last=_order(d["last"]), brand_replied=d["brand_replied"])


def _when(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _parse_when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _order(value: list | None) -> tuple[str, int] | None:
    return None if value is None else (value[0], value[1])


def _dump_repeater(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "at": _when(state["at"]), "since": _when(state["since"])}


def _load_repeater(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "first": _order(state["first"]), "order": _order(state["order"]), "at": _parse_when(state["at"]),
            "since": _parse_when(state["since"])}


def _read_totals(store: Store, keys: list[str], fingerprint: str) -> dict[str, ThreadTotals]:
    """The running totals of these threads that were counted with today's settings."""
    out: dict[str, ThreadTotals] = {}
    for i in range(0, len(keys), KEY_CHUNK):
        part = keys[i:i + KEY_CHUNK]
        for key, print_, text in store.conn.execute(
            "SELECT thread_key, fingerprint, totals FROM thread_totals "
            f"WHERE thread_key IN ({','.join('?' * len(part))})",
            part,
        ):
            if print_ == fingerprint:
                try:
                    out[key] = ThreadTotals.load(text)
                except (ValueError, KeyError, TypeError, IndexError):
                    pass  # unreadable: counted again in full
    return out


@dataclass
class _Writes:
    """What the rollup writes for some threads, gathered while they are computed (nothing is written
    meanwhile), then written together by _write_chunk."""

    quarantined: list[tuple[dict, str]] = field(default_factory=list)  # (mention row, reason): set aside
    failed: list[tuple[str, str]] = field(default_factory=list)  # (thread key, reason): the thread set aside
    drop_totals: list[str] = field(default_factory=list)  # recomputed without keeping running totals
    fresh: list[str] = field(default_factory=list)  # running totals started again from nothing
    repeat_detractors: list[tuple[str, str, str]] = field(default_factory=list)  # (created_at, source, author)
    audiences: list[tuple[str, str, int]] = field(default_factory=list)  # thread_audiences upserts
    repeaters: list[tuple[str, str, str]] = field(default_factory=list)  # thread_repeaters upserts
    totals: list[tuple[str, str, str, str]] = field(default_factory=list)  # thread_totals upserts
    counted: list[int] = field(default_factory=list)  # mentions now in running totals (rolled_up = 1)
    threads: list[tuple] = field(default_factory=list)  # the threads' new values
    clean: list[str] = field(default_factory=list)  # nothing left to count: only dirty = 0

    def extend(self, other: _Writes) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))


def _write_chunk(conn: sqlite3.Connection, w: _Writes) -> None:
    """Write what the rollup computed for a chunk of threads, a statement per kind for all of them, in the
    caller's transaction: totals, audiences, repeaters, counted marks and dirty = 0 commit together, so a
    crash leaves all of it or none (no mention counted twice)."""
    for row, reason in w.quarantined:  # first: a mention counted before drops its thread's old totals
        quarantine_mention(conn, row, "threads", reason)
    for key, reason in w.failed:
        quarantine_thread(conn, {"thread_key": key, "source": key.split(":", 1)[0]}, "threads", reason)
    _in_parts(conn, "DELETE FROM thread_totals WHERE thread_key IN ({})", w.drop_totals)
    _in_parts(conn, "DELETE FROM thread_audiences WHERE thread_key IN ({})", w.fresh)
    _in_parts(conn, "DELETE FROM thread_repeaters WHERE thread_key IN ({})", w.fresh)
    mark_repeat_detractors(conn, w.repeat_detractors)
    if w.audiences:
        conn.executemany(
            "INSERT INTO thread_audiences (thread_key, audience, followers) VALUES (?, ?, ?) "
            "ON CONFLICT (thread_key, audience) DO UPDATE SET followers = excluded.followers", w.audiences)
    if w.repeaters:
        conn.executemany(
            "INSERT INTO thread_repeaters (thread_key, author, state) VALUES (?, ?, ?) "
            "ON CONFLICT (thread_key, author) DO UPDATE SET state = excluded.state", w.repeaters)
    if w.totals:
        conn.executemany(
            "INSERT INTO thread_totals (thread_key, fingerprint, totals, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (thread_key) DO UPDATE SET fingerprint = excluded.fingerprint, totals = excluded.totals, "
            "updated_at = excluded.updated_at", w.totals)
    _in_parts(conn, "UPDATE mentions SET rolled_up = 1 WHERE id IN ({})", w.counted)
    # A mention set aside since its thread was last counted is not in the fresh totals.
    _in_parts(conn, "UPDATE mentions SET rolled_up = NULL WHERE thread_key IN ({}) AND quarantined IS NOT NULL "
                    "AND rolled_up IS NOT NULL", w.fresh)
    if w.threads:
        conn.executemany(
            """UPDATE threads SET brand = ?, first_at = ?, last_at = ?, mentions = ?, negative = ?,
                 detractors = ?, reach = ?, engagement = ?, mean_compound = ?, brand_replied = ?,
                 risk = ?, reasons = ?, flagged = CASE WHEN flagged > ? THEN flagged ELSE ? END,
                 url = COALESCE(url, ?), dirty = 0, alert_pending = 1, updated_at = ?
               WHERE thread_key = ?""", w.threads)
    _in_parts(conn, "UPDATE threads SET dirty = 0 WHERE thread_key IN ({})", w.clean + [k for k, _ in w.failed])


def _in_parts(conn: sqlite3.Connection, sql: str, values: list) -> list[tuple]:
    """`sql` with `{}` for an IN list of `values`: one statement per KEY_CHUNK of them; the rows they
    return (a RETURNING clause), all together."""
    rows: list[tuple] = []
    for i in range(0, len(values), KEY_CHUNK):
        part = values[i:i + KEY_CHUNK]
        rows += conn.execute(sql.replace("{}", ",".join("?" * len(part))), part).fetchall()
    return rows


def _rollup_thread(conn: sqlite3.Connection, key: str, c: _Context, stored: list[dict], history: AuthorHistory,
                   totals: ThreadTotals | None = None) -> _Writes:
    """Recompute one thread, in Python: returns what to write for it (the chunk's are written together).
    A mention whose stored values break the maths is quarantined and left out.

    With `totals`, `stored` holds only the mentions not counted yet and they are added to the totals;
    without, `stored` is the whole thread. `conn` is only read (a big thread's audiences, repeaters and
    latest mentions)."""
    w = _Writes()
    incremental = totals is not None
    rows = []
    for row in stored:
        reason = implausible_stored_time(row["created_at"])
        if reason:
            w.quarantined.append((row, reason))
        else:
            rows.append(row)
    facts_of = one_by_one(rows, lambda chunk: [_facts(r, history) for r in chunk])
    for row, fact in zip(rows, facts_of, strict=True):
        if isinstance(fact, Exception):
            w.quarantined.append((row, describe(fact)))
    rows = [r for r, f in zip(rows, facts_of, strict=True) if not isinstance(f, Exception)]
    facts = [f for f in facts_of if not isinstance(f, Exception)]
    if not rows and not incremental:
        w.drop_totals.append(key)
        w.clean.append(key)
        return w
    brand = (totals.brand if incremental and totals.brand else None) or next(
        (r["brand"] for r in rows if r["brand"]), None)
    support = c.handles.get(brand or "", ())
    risk = None
    if rows:
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
                    w.quarantined.append((row, describe(result)))
            keep = [i for i, result in enumerate(alone) if not isinstance(result, Exception)]
            rows, facts = [rows[i] for i in keep], [facts[i] for i in keep]
            if not rows and not incremental:
                w.drop_totals.append(key)
                w.clean.append(key)
                return w
            risk = thread_risk(facts, c.weights, c.cues, support) if rows else None
    # A detractor: negative with confidence (scoring), a 1-3 star review, or an author
    # complaining again (the per-author repeat-detractor flag).
    repeat = [not f.is_brand_account and bool(f.author_negative_before)
              and is_complaint(f.label, f.stars, f.text, c.pattern) for f in facts]
    repeaters = [r for r, rep in zip(rows, repeat, strict=True) if rep]
    w.repeat_detractors += [(r["created_at"], r["source"], r["author"]) for r in repeaters]
    keep_totals = incremental or len(rows) >= INCREMENTAL_FROM
    if keep_totals:
        totals = _add_to_totals(conn, key, c, totals, rows, facts, repeat, support, w)
        assert totals is not None
        left_out = {r["id"] for r, _ in w.quarantined}
        risk = totals.risk.risk(c.weights, _recent(conn, key, totals, c.weights, rows if not incremental else None,
                                                   left_out))
        brand, mentions, negative, detractors = totals.brand, totals.mentions, totals.risk.negative, totals.detractors
        reach, engagement, first_at, last_at = totals.reach, totals.risk.engagement, totals.first, totals.last
        url, brand_replied, awaits = totals.url, totals.brand_replied, totals.risk.awaits_reply()
        mean = round(float(totals.compound_sum / totals.compound_n), 4) if totals.compound_n else None
        first_at, last_at = (first_at or ("", 0))[0], (last_at or ("", 0))[0]
    else:
        w.drop_totals.append(key)  # recomputed in full: no old running totals may be read again
        customer = [r for r in rows if not r["is_brand_account"]]
        mentions, negative = len(rows), sum(1 for f in facts if not f.is_brand_account and is_negative(f))
        repeat_ids = {r["id"] for r in repeaters}
        detractors = sum(1 for r in customer if r["detractor"] or r["id"] in repeat_ids)
        reach = mentions_reach(customer)  # each audience once (docs/trends.md#reach)
        engagement = sum(r["engagement"] for r in customer)
        scored = [Fraction(r["compound"]) for r in customer if r["compound"] is not None]
        mean = round(float(sum(scored) / len(scored)), 4) if scored else None  # exact: as the totals give it
        first_at, last_at, url = rows[0]["created_at"], rows[-1]["created_at"], rows[0]["url"]
        brand_replied, awaits = any(r["is_brand_account"] for r in rows), awaits_reply(facts, support)
    assert risk is not None
    # Flagged: a risky thread with a detractor, or a customer who asked the support handle and got no answer.
    flagged = int(brand in c.own and ((detractors > 0 and risk.score >= c.threshold) or awaits))
    w.threads.append((brand, first_at, last_at, mentions, negative, detractors, reach, engagement, mean,
                      int(brand_replied), risk.score, json.dumps(risk.reasons, ensure_ascii=False), flagged, flagged,
                      url, c.now, key))
    return w


def _add_to_totals(conn: sqlite3.Connection, key: str, c: _Context, totals: ThreadTotals | None, rows: list[dict],
                   facts: list[MentionFacts], repeat: list[bool], support: tuple[str, ...], w: _Writes) -> ThreadTotals:
    """Add rows to the thread's totals (new ones from nothing when `totals` is None); their storing, with
    their audiences and repeat detractors and the rows marked counted, goes into `w` (written in one
    transaction with the thread, so a crash leaves either all of it or none: no mention counted twice)."""
    fresh = totals is None
    totals = totals or ThreadTotals()
    customers = [(r, f) for r, f in zip(rows, facts, strict=True) if not r["is_brand_account"]]
    audiences: dict[str, int] = {}
    repeaters: dict[str, dict[str, Any]] = {}
    if not fresh:
        wanted = sorted({stored_audience(r) for r, _ in customers})
        authors = sorted({f.author for f, rep in zip(facts, repeat, strict=True) if rep and f.author})
        for i in range(0, len(wanted), KEY_CHUNK):
            part = wanted[i:i + KEY_CHUNK]
            audiences.update(conn.execute(
                "SELECT audience, followers FROM thread_audiences WHERE thread_key = ? "
                f"AND audience IN ({','.join('?' * len(part))})", (key, *part)).fetchall())
        for i in range(0, len(authors), KEY_CHUNK):
            part = authors[i:i + KEY_CHUNK]
            for author, state in conn.execute(
                    "SELECT author, state FROM thread_repeaters WHERE thread_key = ? "
                    f"AND author IN ({','.join('?' * len(part))})", (key, *part)):
                repeaters[author] = _load_repeater(json.loads(state))
    else:
        w.fresh.append(key)  # its old audiences and repeaters are deleted
    changed_audiences: set[str] = set()
    changed_authors: set[str] = set()
    # Brand replies first, as thread_risk counts them (can_add kept new ones out of running totals).
    for row, fact, rep in sorted(zip(rows, facts, repeat, strict=True), key=lambda x: not x[0]["is_brand_account"]):
        totals.add(row, fact, rep, None if row["compound"] is None or row["is_brand_account"]
                   else Fraction(row["compound"]))
        totals.risk.add(fact, (row["created_at"], row["id"]), c.pattern, support, c.weights, repeaters)
        if row["is_brand_account"]:
            continue
        audience, size = stored_audience(row), max(int(row["author_followers"] or 0), 0)
        if size > audiences.get(audience, -1):
            totals.reach += size - max(audiences.get(audience, 0), 0)
            audiences[audience] = size
            changed_audiences.add(audience)
        if rep and fact.author:
            changed_authors.add(fact.author)
    w.audiences += [(key, a, audiences[a]) for a in sorted(changed_audiences)]
    w.repeaters += [(key, a, json.dumps(_dump_repeater(repeaters[a]))) for a in sorted(changed_authors)]
    w.totals.append((key, c.fingerprint, totals.dump(), c.now))
    w.counted += [r["id"] for r in rows]
    return totals


def _recent(conn: sqlite3.Connection, key: str, totals: ThreadTotals, weights: RiskWeights,
            rows: list[dict] | None, left_out: set[int] | None = None) -> tuple[int, int, datetime | None]:
    """Customers after the thread's last customer mention minus the velocity window: how many, how many
    negative, the earliest. From `rows` (the whole thread) if given, else one range read of the index,
    without the mentions `left_out` (set aside in this rollup, not written yet)."""
    last = totals.risk.last_at
    if last is None:
        return 0, 0, None
    bound = last - weights.velocity_window
    if rows is not None:
        at = [(parse_iso(r["created_at"]), r) for r in rows if not r["is_brand_account"]]
        recent = [(t, r) for t, r in at if t > bound]
        return (len(recent), sum(1 for _, r in recent if _row_negative(r)),
                min(t for t, _ in recent) if recent else None)
    skip = sorted(left_out or ())
    n, negative, first = conn.execute(
        "SELECT COUNT(*), SUM(CASE WHEN label = 'negative' OR (stars IS NOT NULL AND NOT (stars >= 5 OR stars = 4)) "
        "THEN 1 ELSE 0 END), MIN(created_at) FROM mentions WHERE thread_key = ? AND quarantined IS NULL "
        "AND is_brand_account = 0 AND created_at > ?"
        + (f" AND id NOT IN ({','.join('?' * len(skip))})" if skip else ""), (key, iso(bound), *skip)).fetchone()
    return int(n or 0), int(negative or 0), parse_iso(first) if first else None


def _row_negative(row: dict) -> bool:
    return row["label"] == "negative" or nps_bucket(row["stars"]) == "detractor"


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
    return thread_key in claim_alert_checks(conn, [thread_key])


def claim_alert_checks(conn: sqlite3.Connection, thread_keys: list[str]) -> set[str]:
    """The rules take these threads' checks: checked_for_alerts for many at once, one statement per
    KEY_CHUNK keys, in the caller's transaction. Returns the keys claimed; a thread whose mark was
    already cleared (another worker checked it since it was read) is not among them. Each row's mark is
    cleared by one UPDATE only where it is still set, so two workers never both claim a thread."""
    return {r[0] for r in _in_parts(
        conn, "UPDATE threads SET alert_pending = 0 WHERE thread_key IN ({}) AND alert_pending = 1 "
              "RETURNING thread_key", thread_keys)}


def set_level(conn: sqlite3.Connection, thread_key: str, level: str) -> None:
    """The alert level the thread reached (the rules write it when they route its alert)."""
    conn.execute("UPDATE threads SET level = ? WHERE thread_key = ?", (level, thread_key))


def forget_counted(conn: sqlite3.Connection, ids: list[int]) -> None:
    """These mentions are about to change: the running totals of the threads that counted them are deleted
    (the rollup counts those threads again in full)."""
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        conn.execute("DELETE FROM thread_totals WHERE thread_key IN (SELECT thread_key FROM mentions "
                     f"WHERE id IN ({','.join('?' * len(part))}) AND rolled_up IS NOT NULL)", part)


def recount(conn: sqlite3.Connection, thread_keys: list[str]) -> None:
    """These threads are counted again in full at their next rollup (a counted mention changed)."""
    conn.executemany("DELETE FROM thread_totals WHERE thread_key = ?", [(key,) for key in thread_keys])
