"""Escalation risk: the maths (pure) and the per-author repeat-detractor signal through the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from listener.collect import collect
from listener.config import load_config
from listener.pipeline import process
from listener.store import Store
from sentiment.risk import MentionFacts, RiskWeights, nps_bucket, thread_risk
from tests.helpers import write_config

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _m(minutes, text, label="negative", compound=-0.7, followers=100, author="a", **kw):
    return MentionFacts(created_at=T0 + timedelta(minutes=minutes), label=label, compound=compound,
                        followers=followers, verified=kw.pop("verified", False), engagement=kw.pop("engagement", 0),
                        text=text, author=author, **kw)


def test_a_fast_negative_pile_on_with_cues_scores_high_with_human_reasons():
    thread = [
        _m(0, "@BrightwaveHelp outage again, I want a refund", author="jess", followers=48_300, verified=True),
        _m(5, "same here, awful", author="b"),
        _m(12, "this is a scam, doing a chargeback", author="c"),
        _m(20, "down for me too, terrible", author="d"),
    ]
    risk = thread_risk(thread, support_handles=("@BrightwaveHelp",))
    assert risk.score >= 75
    text = " | ".join(risk.reasons)
    assert "4 negative replies in 20 min" in text
    assert "@jess has 48k followers; verified author" in text
    assert "'chargeback'" in text and "'refund'" in text and "tags @BrightwaveHelp" in text


def test_a_calm_positive_thread_scores_low():
    risk = thread_risk([_m(0, "love the new app", label="positive", compound=0.8),
                        _m(30, "agreed, great speeds", label="positive", compound=0.7, author="b")])
    assert risk.score < 15


def test_reasons_are_ranked_by_the_points_they_gave():
    weights = RiskWeights(cues=40, reach=5)
    risk = thread_risk([_m(0, "I will call my lawyer about this scam", followers=200)], weights)
    assert risk.reasons[0].startswith("mentions 'lawyer', 'scam'")


def test_weights_from_config_change_the_score():
    thread = [_m(0, "refund now or chargeback")]
    with_cues = thread_risk(thread, RiskWeights())
    without = thread_risk(thread, RiskWeights(cues=0))
    assert with_cues.score > without.score and not any("chargeback" in r for r in without.reasons)


def test_brand_reply_discounts_only_when_nobody_complained_since():
    base = [_m(0, "terrible service"), _m(5, "awful", author="b")]
    reply = _m(10, "Sorry, DM us", label="neutral", compound=0.0, author="Help", is_brand_account=True)
    calmed = thread_risk([*base, reply])
    assert "brand already replied" in calmed.reasons
    assert calmed.score < thread_risk(base).score
    still_angry = thread_risk([*base, reply, _m(30, "still broken, useless", author="c")])
    assert "brand replied, 1 negative mention since" in still_angry.reasons


def test_reviews_use_nps_buckets():
    assert [nps_bucket(s) for s in (1, 3, 4, 5, None)] == ["detractor", "detractor", "passive", "promoter", None]
    review = thread_risk([_m(0, "Does the basics", label="neutral", compound=0.0, stars=3)])
    assert review.reasons and review.reasons[0] == "3-star review"
    assert thread_risk([_m(0, "ok", label="neutral", compound=0.0, stars=4)]).score < 5


def _import(tmp_path, rows, extra=""):
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    config = load_config(write_config(tmp_path, """
    [sources.file]
    [[sources.file.imports]]
    paths = ["in.jsonl"]
    default_source = "x"
    """ + extra))
    with Store(config.db_path) as store:
        collect(config, store)
        process(config, store, channels={})
    return config


def test_an_author_complaining_in_three_separate_posts_becomes_a_flagged_repeat_detractor(tmp_path):
    posts = [
        "@BrightwaveHelp you charged me twice and nobody can fix it. Awful",
        "Day 4 of trying to get my double charge back from Brightwave. Doing a chargeback on Friday",
        "Still nothing from Brightwave. Switching to Lumacell and telling everyone why",
    ]
    rows = [{"id": f"m{i}", "text": t, "author": "marcus_h", "followers": 2900, "brand": "Brightwave",
             "created_at": (T0 + timedelta(days=1.5 * i)).isoformat()} for i, t in enumerate(posts)]
    rows.append({"id": "other", "text": posts[2], "author": "someone_new", "followers": 2900,
                 "brand": "Brightwave", "created_at": (T0 + timedelta(days=3)).isoformat()})
    config = _import(tmp_path, rows)
    with Store(config.db_path) as store:
        third = store.query("SELECT * FROM threads WHERE thread_key = 'x:m2'")[0]
        stranger = store.query("SELECT * FROM threads WHERE thread_key = 'x:other'")[0]
    reasons = json.loads(third["reasons"])
    assert "@marcus_h complained 2 times before in 3 days" in reasons
    assert third["risk"] >= stranger["risk"] + 15  # the same words from a first-timer matter less
    assert third["detractors"] == 1 and third["flagged"] == 1  # the per-author detractor flag
    with Store(config.db_path) as store:
        flags = dict(store.conn.execute("SELECT author, repeat_detractor_at FROM authors").fetchall())
    assert flags == {"marcus_h": rows[2]["created_at"].replace("+00:00", "Z"), "someone_new": None}


def test_repeat_window_days_limits_how_far_back_complaints_count(tmp_path):
    rows = [{"id": f"m{i}", "text": "Brightwave is awful, terrible service", "author": "amy", "brand": "Brightwave",
             "created_at": (T0 + timedelta(days=10 * i)).isoformat()} for i in range(2)]
    config = _import(tmp_path, rows, "[risk]\nrepeat_window_days = 7\n")
    with Store(config.db_path) as store:
        reasons = json.loads(store.scalar("SELECT reasons FROM threads WHERE thread_key = 'x:m1'"))
    assert not any("complained" in r for r in reasons)


def test_reasons_read_right_for_one_follower_and_one_engagement():
    one_follower = " | ".join(thread_risk([_m(0, "my order never came", author="newbie", followers=1)]).reasons)
    assert "@newbie has 1 follower" in one_follower and "1 followers" not in one_follower
    one_like = " | ".join(thread_risk([_m(0, "my order never came", followers=0, engagement=1)]).reasons)
    assert "1 engagement" in one_like and "1 engagements" not in one_like
