"""The thread rollup reads a thread's mentions and its authors' history in a few queries (listener.threads):
its results must be those of the straightforward computation, one look-up per mention, on a varied store."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from listener.config import load_config
from listener.models import iso
from listener.store import Store
from listener.threads import (
    complaints_before,
    flag_threshold,
    risk_weights,
    rollup_dirty,
    support_handles,
)
from listener.trends.rollup import mentions_reach
from sentiment.risk import MentionFacts, cue_pattern, is_complaint, is_negative, thread_risk
from tests.helpers import write_config

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TEXTS = ["the app is down again", "I want a refund now", "love the update", "any update on my order?",
         "switching to Lumacell after this", "thanks for the quick fix", "chargeback is next", "meh",
         "@BrightwaveHelp my card was charged twice", "works fine for me"]
LABELS = ["negative", "negative", "positive", "neutral", None]


def _fill(store: Store, rng: random.Random) -> list[str]:
    """Threads of every shape: one viral thread, many small ones, authors complaining across threads,
    brand replies, reviews with stars, Reddit communities, a second brand, mentions outside the window."""
    keys = ["x:viral", *[f"x:t{i}" for i in range(40)], *[f"reddit:r{i}" for i in range(10)],
            *[f"appstore:a{i}" for i in range(10)]]
    authors = [f"user{i}" for i in range(25)]
    rows = []
    n = 0
    for key in keys:
        source = key.split(":")[0]
        size = 300 if key == "x:viral" else rng.randint(1, 12)
        start = T0 - timedelta(days=rng.uniform(0, 30))
        for j in range(size):
            n += 1
            brand_account = int(j > 0 and rng.random() < 0.08)
            created = start + timedelta(minutes=rng.uniform(0, 600 if key == "x:viral" else 20_000))
            label = rng.choice(LABELS)
            rows.append({
                "source": source, "native_id": f"n{n}", "brand": rng.choice(["Brightwave"] * 5 + ["Lumacell", None]),
                "url": f"https://example.com/{key}/{j}", "author": "Brightwave" if brand_account else
                rng.choice(authors + [None]), "author_followers": rng.choice([None, 0, 12, 800, 48_300, 2_000_000]),
                "author_verified": int(rng.random() < 0.1), "text": rng.choice(TEXTS),
                "title": rng.choice([None, None, "Outage"]), "stars": rng.choice([None, 1, 2, 3, 4, 5])
                if source == "appstore" else None, "created_at": iso(created), "collected_at": iso(created),
                "thread_key": key, "engagement": rng.choice([0, 0, 3, 40]),
                "metrics": json.dumps({"subreddit": rng.choice(["brightwave", "phones"])}) if source == "reddit"
                else "{}", "is_brand_account": brand_account, "label": label,
                "compound": None if label is None else round(rng.uniform(-1, 1), 3),
                "detractor": int(label == "negative" and rng.random() < 0.7),
                "needs_reply": rng.choice([None, None, "question", "request", "complaint"]),
                "scored_at": None if label is None else iso(created),
            })
    columns = list(rows[0])
    with store.transaction() as conn:
        conn.executemany(f"INSERT INTO mentions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                         [tuple(r[c] for c in columns) for r in rows])
        for key in keys:
            conn.execute("INSERT INTO threads (thread_key, source, first_at, last_at, updated_at, dirty) "
                         "VALUES (?, ?, '', '', '', 1)", (key, key.split(":")[0]))
        conn.execute("INSERT INTO authors (source, author, first_seen, last_seen, mentions) "
                     "SELECT source, author, MIN(created_at), MAX(created_at), COUNT(*) FROM mentions "
                     "WHERE author IS NOT NULL GROUP BY source, author")
    return keys


def _reference(store: Store, config, key: str) -> tuple[dict, list[tuple[str, str, str]]]:
    """One thread as the rollup computed it before: one query per mention for the author's history."""
    window = timedelta(days=config.risk.repeat_window_days)
    pattern = cue_pattern(tuple(config.sentiment.cues))
    rows = store.query("SELECT * FROM mentions WHERE thread_key = ? AND quarantined IS NULL "
                       "ORDER BY created_at, id", (key,))
    facts = []
    for r in rows:
        count, since = complaints_before(store, r, window, pattern)
        facts.append(MentionFacts(
            created_at=datetime.fromisoformat(r["created_at"]), label=r["label"], compound=r["compound"],
            followers=r["author_followers"], verified=bool(r["author_verified"]), engagement=r["engagement"],
            text=(r["title"] or "") + " " + r["text"], author=r["author"], is_brand_account=bool(r["is_brand_account"]),
            author_negative_before=count, author_negative_since=since, stars=r["stars"], source=r["source"],
            needs_reply=r["needs_reply"]))
    brand = next((r["brand"] for r in rows if r["brand"]), None)
    support = support_handles(config).get(brand or "", ())
    risk = thread_risk(facts, risk_weights(config), tuple(config.sentiment.cues), support)
    customer = [r for r in rows if not r["is_brand_account"]]
    repeaters = [(r, f) for r, f in zip(rows, facts, strict=True) if not f.is_brand_account
                 and f.author_negative_before and is_complaint(f.label, f.stars, f.text, pattern)]
    repeat_ids = {r["id"] for r, _ in repeaters}
    scored = [r["compound"] for r in customer if r["compound"] is not None]
    detractors = sum(1 for r in customer if r["detractor"] or r["id"] in repeat_ids)
    from sentiment.risk import awaits_reply

    flagged = int(brand in config.brand_names() and (
        (detractors > 0 and risk.score >= flag_threshold(config)) or awaits_reply(facts, support)))
    expected = {
        "brand": brand, "first_at": rows[0]["created_at"], "last_at": rows[-1]["created_at"], "mentions": len(rows),
        "negative": sum(1 for f in facts if not f.is_brand_account and is_negative(f)), "detractors": detractors,
        "reach": mentions_reach(customer), "engagement": sum(r["engagement"] for r in customer),
        # exact (the rollup sums compounds as fractions, so the order it adds them in cannot matter)
        "mean_compound": round(float(sum(map(Fraction, scored)) / len(scored)), 4) if scored else None,
        "brand_replied": int(any(r["is_brand_account"] for r in rows)), "risk": risk.score,
        "reasons": json.dumps(risk.reasons, ensure_ascii=False), "flagged": flagged, "url": rows[0]["url"],
    }
    return expected, [(r["source"], r["author"], r["created_at"]) for r, _ in repeaters]


def test_the_rollup_gives_what_one_look_up_per_mention_gives(tmp_path):
    config = load_config(write_config(tmp_path), check_secrets=False)
    with Store(tmp_path / "overheard.db") as store:
        keys = _fill(store, random.Random(7))
        expected, repeat_at = {}, {}
        for key in keys:
            expected[key], repeaters = _reference(store, config, key)
            for source, author, at in repeaters:
                repeat_at[(source, author)] = max(repeat_at.get((source, author), ""), at)
        assert sum(e["detractors"] for e in expected.values()) > sum(e["negative"] for e in expected.values()) / 3
        assert len(repeat_at) > 5, "the data must have repeat detractors for the test to mean anything"
        assert any("complained" in e["reasons"] for e in expected.values())

        done = rollup_dirty(store, config)

        assert sorted(done) == sorted(keys)
        columns = list(next(iter(expected.values())))
        for key in keys:
            got = store.query(f"SELECT {', '.join(columns)} FROM threads WHERE thread_key = ?", (key,))[0]
            assert got == expected[key], key
        stored = {(r["source"], r["author"]): r["repeat_detractor_at"] for r in store.query(
            "SELECT source, author, repeat_detractor_at FROM authors WHERE repeat_detractor_at IS NOT NULL")}
        assert stored == repeat_at


def test_a_thread_rolled_up_again_after_new_replies_matches_the_reference(tmp_path):
    """Replies arriving in batches (the viral case): each recompute equals the reference."""
    config = load_config(write_config(tmp_path), check_secrets=False)
    rng = random.Random(3)
    with Store(tmp_path / "overheard.db") as store:
        _fill(store, rng)
        rollup_dirty(store, config)
        for batch in range(3):
            with store.transaction() as conn:
                conn.executemany(
                    "INSERT INTO mentions (source, native_id, brand, author, text, created_at, collected_at, "
                    "thread_key, label, compound, detractor, scored_at) VALUES ('x', ?, 'Brightwave', ?, ?, ?, ?, "
                    "'x:viral', 'negative', -0.6, 1, ?)",
                    [(f"late{batch}-{i}", f"user{rng.randrange(25)}", rng.choice(TEXTS),
                      iso(T0 + timedelta(hours=batch, minutes=i)), iso(T0), iso(T0)) for i in range(50)])
                conn.execute("UPDATE threads SET dirty = 1 WHERE thread_key = 'x:viral'")
            expected, _ = _reference(store, config, "x:viral")
            before = store.scalar("SELECT flagged FROM threads WHERE thread_key = 'x:viral'")
            expected["flagged"] = max(before, expected["flagged"])  # a flag stays once raised
            assert rollup_dirty(store, config) == ["x:viral"]
            got = store.query(f"SELECT {', '.join(expected)} FROM threads WHERE thread_key = 'x:viral'")[0]
            assert got == expected
