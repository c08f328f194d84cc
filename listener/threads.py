"""Thread rollup: recompute the threads new mentions touched, with their escalation risk."""

from __future__ import annotations

import json
from datetime import timedelta

from listener.config import Config
from listener.models import iso, parse_iso, utcnow
from listener.store import Store
from sentiment.risk import MentionFacts, RiskWeights, thread_risk


def risk_weights(config: Config) -> RiskWeights:
    r = config.risk
    return RiskWeights(r.negativity, r.reach, r.velocity, r.cues, r.repeat_detractors, r.brand_replied_discount)


def flag_threshold(config: Config) -> float:
    """Lowest alert level: a thread at or above it with a detractor is flagged for support."""
    return min(config.alerts.levels.values(), default=50.0)


def rollup_dirty(store: Store, config: Config) -> list[str]:
    """Recompute every thread marked dirty; marks each for an alert check. Returns their keys."""
    weights = risk_weights(config)
    window = timedelta(days=config.risk.repeat_window_days)
    own = set(config.brand_names())
    threshold = flag_threshold(config)
    cues = tuple(config.sentiment.cues)
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
                facts = [
                    MentionFacts(
                        created_at=parse_iso(r["created_at"]), label=r["label"], compound=r["compound"],
                        followers=r["author_followers"], verified=bool(r["author_verified"]),
                        engagement=r["engagement"], text=(r["title"] or "") + " " + r["text"],
                        author=r["author"], is_brand_account=bool(r["is_brand_account"]),
                        author_negative_before=_negative_before(store, r, window),
                    )
                    for r in rows
                ]
                risk = thread_risk(facts, weights, cues)
                customer = [r for r in rows if not r["is_brand_account"]]
                negative = sum(1 for r in customer if r["label"] == "negative")
                detractors = sum(1 for r in customer if r["detractor"])
                scored = [r["compound"] for r in customer if r["compound"] is not None]
                brand = next((r["brand"] for r in rows if r["brand"]), None)
                flagged = int(brand in own and detractors > 0 and risk.score >= threshold)
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
                        iso(utcnow()), key,
                    ),
                )
                done.append(key)


def _negative_before(store: Store, row: dict, window: timedelta) -> bool:
    """Was this author negative about the same brand in another thread within the window before?"""
    if not row["author"] or row["is_brand_account"]:
        return False
    since = iso(parse_iso(row["created_at"]) - window)
    # `+brand` keeps SQLite off the (brand, created_at) index, which reads every mention of the brand
    # in the window; (source, author, created_at) reads only this author's.
    return bool(store.scalar(
        "SELECT 1 FROM mentions WHERE source = ? AND author = ? AND +brand IS ? AND label = 'negative' "
        "AND thread_key != ? AND created_at >= ? AND created_at < ? LIMIT 1",
        (row["source"], row["author"], row["brand"], row["thread_key"], since, row["created_at"]),
    ))
