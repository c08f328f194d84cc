"""Thread rollup: recompute the threads new mentions touched, with their escalation risk."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from listener.config import Config
from listener.models import iso, parse_iso, utcnow
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
    """Recompute every thread marked dirty; marks each for an alert check. Returns their keys."""
    weights = risk_weights(config)
    handles = support_handles(config)
    window = timedelta(days=config.risk.repeat_window_days)
    own = set(config.brand_names())
    threshold = flag_threshold(config)
    cues = tuple(config.sentiment.cues)
    pattern = cue_pattern(cues)
    done: list[str] = []
    while True:
        keys = [r[0] for r in store.conn.execute("SELECT thread_key FROM threads WHERE dirty = 1 LIMIT 500")]
        if not keys:
            return done
        with store.transaction() as conn:
            for key in keys:
                rows = store.query(
                    "SELECT * FROM mentions WHERE thread_key = ? ORDER BY created_at, id", (key,)
                )
                if not rows:
                    conn.execute("UPDATE threads SET dirty = 0 WHERE thread_key = ?", (key,))
                    continue
                facts = [_facts(store, r, window, pattern) for r in rows]
                brand = next((r["brand"] for r in rows if r["brand"]), None)
                risk = thread_risk(facts, weights, cues, handles.get(brand or "", ()))
                customer = [r for r in rows if not r["is_brand_account"]]
                negative = sum(1 for f in facts if not f.is_brand_account and is_negative(f))
                # A detractor: negative with confidence (scoring), a 1-3 star review, or an author
                # complaining again (the per-author repeat-detractor flag).
                repeaters = [
                    (r, f) for r, f in zip(rows, facts, strict=True)
                    if not f.is_brand_account and f.author_negative_before
                    and is_complaint(f.label, f.stars, f.text, pattern)
                ]
                for r, _ in repeaters:
                    conn.execute(
                        "UPDATE authors SET repeat_detractor_at = MAX(COALESCE(repeat_detractor_at, ''), ?) "
                        "WHERE source = ? AND author = ?", (r["created_at"], r["source"], r["author"]))
                repeat_ids = {r["id"] for r, _ in repeaters}
                detractors = sum(1 for r in customer if r["detractor"] or r["id"] in repeat_ids)
                scored = [r["compound"] for r in customer if r["compound"] is not None]
                flagged = int(brand in own and ((detractors > 0 and risk.score >= threshold)
                                                or awaits_reply(facts, handles.get(brand or "", ()))))
                conn.execute(
                    """UPDATE threads SET brand = ?, first_at = ?, last_at = ?, mentions = ?, negative = ?,
                         detractors = ?, reach = ?, engagement = ?, mean_compound = ?, brand_replied = ?,
                         risk = ?, reasons = ?, flagged = MAX(flagged, ?), url = COALESCE(url, ?),
                         dirty = 0, alert_pending = 1, updated_at = ?
                       WHERE thread_key = ?""",
                    (
                        brand, rows[0]["created_at"], rows[-1]["created_at"], len(rows), negative, detractors,
                        sum(r["author_followers"] or 0 for r in customer),
                        sum(r["engagement"] for r in customer),
                        round(sum(scored) / len(scored), 4) if scored else None,
                        int(any(r["is_brand_account"] for r in rows)), risk.score,
                        json.dumps(risk.reasons, ensure_ascii=False), flagged, rows[0]["url"],
                        iso(now or utcnow()), key,
                    ),
                )
                done.append(key)


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
