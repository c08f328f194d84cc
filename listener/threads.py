"""Thread rollup: recompute the threads new mentions touched, with their escalation risk."""

from __future__ import annotations

import json
import re
import sqlite3
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
from listener.store import Store
from listener.trends.rollup import mentions_reach
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
    """Recompute every thread marked dirty; marks each for an alert check. Returns their keys."""
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
        keys = [r[0] for r in store.conn.execute("SELECT thread_key FROM threads WHERE dirty = 1 LIMIT 500")]
        if not keys:
            return done
        with store.transaction() as conn:
            for key in keys:
                try:
                    with store.savepoint():
                        if _rollup_thread(store, conn, key, context):
                            done.append(key)
                except NOT_THE_ROW:
                    raise
                except Exception as exc:
                    # Not one mention's fault (those are set aside below): the thread waits, the rest go on.
                    quarantine_thread(conn, {"thread_key": key, "source": key.split(":", 1)[0]}, "threads",
                                      describe(exc))
                    conn.execute("UPDATE threads SET dirty = 0 WHERE thread_key = ?", (key,))


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


def _rollup_thread(store: Store, conn: sqlite3.Connection, key: str, c: _Context) -> bool:
    """Recompute one thread; a mention whose stored values break the maths is quarantined and left out."""
    rows = []
    for row in store.query(
        "SELECT * FROM mentions WHERE thread_key = ? AND quarantined IS NULL ORDER BY created_at, id", (key,)
    ):
        reason = implausible_stored_time(row["created_at"])
        if reason:
            quarantine_mention(conn, row, "threads", reason)
        else:
            rows.append(row)
    facts_of = one_by_one(rows, lambda chunk: [_facts(store, r, c.window, c.pattern) for r in chunk])
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
    for r, _ in repeaters:
        conn.execute(
            "UPDATE authors SET repeat_detractor_at = MAX(COALESCE(repeat_detractor_at, ''), ?) "
            "WHERE source = ? AND author = ?", (r["created_at"], r["source"], r["author"]))
    repeat_ids = {r["id"] for r, _ in repeaters}
    detractors = sum(1 for r in customer if r["detractor"] or r["id"] in repeat_ids)
    scored = [r["compound"] for r in customer if r["compound"] is not None]
    # Flagged: a risky thread with a detractor, or a customer who asked the support handle and got no answer.
    flagged = int(brand in c.own and ((detractors > 0 and risk.score >= c.threshold) or awaits_reply(facts, support)))
    conn.execute(
        """UPDATE threads SET brand = ?, first_at = ?, last_at = ?, mentions = ?, negative = ?,
             detractors = ?, reach = ?, engagement = ?, mean_compound = ?, brand_replied = ?,
             risk = ?, reasons = ?, flagged = MAX(flagged, ?), url = COALESCE(url, ?),
             dirty = 0, alert_pending = 1, updated_at = ?
           WHERE thread_key = ?""",
        (
            brand, rows[0]["created_at"], rows[-1]["created_at"], len(rows), negative, detractors,
            mentions_reach(customer),  # each audience once (docs/trends.md#reach)
            sum(r["engagement"] for r in customer),
            round(sum(scored) / len(scored), 4) if scored else None,
            int(any(r["is_brand_account"] for r in rows)), risk.score,
            json.dumps(risk.reasons, ensure_ascii=False), flagged, rows[0]["url"],
            c.now, key,
        ),
    )
    return True


def _facts(store: Store, row: dict, window: timedelta, cues: re.Pattern[str]) -> MentionFacts:
    count, since = complaints_before(store, row, window, cues)
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
    before this mention, and when the earliest was: the per-author repeat-detractor signal."""
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
