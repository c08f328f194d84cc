"""Emerging topics and spike explanations: the maths on small hand-made corpora, and the demo's
outage explained by outage words in the alert (plain text, Slack, webhook payload), the terms files
and `overheard topics`."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.channels.email import alert_html
from alerts.message import Alert
from alerts.slack_format import slack_message
from alerts.spikes import detect, spike_alert
from listener.cli import cli
from listener.demo import run_demo
from listener.models import parse_iso
from listener.store import Store
from listener.trends.files import read_csv
from sentiment.themes import DEFAULT_THEMES
from sentiment.topics import corpus_of, duplicate_key, emerging, log_likelihood, terms_of


def test_terms_words_phrases_hashtags_and_domains() -> None:
    found = terms_of("RT @bw: Brightwave down again #BrightwaveDown, no internet https://downdetector.co.uk/x",
                     frozenset({"brightwave"}))
    assert ("term", "down") in found and ("phrase", "no internet") in found
    assert ("hashtag", "#brightwavedown") in found and ("domain", "downdetector.co.uk") in found
    assert not any(term == "brightwave" for _, term in found)  # the brand's own name is never a topic
    assert not any(term in ("the", "and", "is") for _, term in found)


def test_a_retweet_storm_is_one_cluster_counted_once() -> None:
    storm = ["RT @jess: Is @Brightwave down for everyone?", "RT @sam: Is @Brightwave down for everyone??",
             "Is @brightwave DOWN for everyone? https://t.co/abc"]
    assert len({duplicate_key(t) for t in storm}) == 1
    c = corpus_of(storm + ["Fibre install was quick"])
    assert c.mentions == 4 and c.posts == 2  # the storm counts once in the terms
    assert c.terms[("term", "down")] == 1 and max(c.clusters.values()) == 3


def test_log_likelihood_is_signed_and_zero_when_equal() -> None:
    assert log_likelihood(10, 100, 10, 100) == 0.0
    assert log_likelihood(30, 100, 5, 100) > 10.83 > 0 > log_likelihood(5, 100, 30, 100)


def test_small_brands_stay_quiet_and_growth_needs_history() -> None:
    places = [f"{a}{b}ton" for a in "bcdfg" for b in "aeiou"]  # 25 different towns: 25 different posts
    before = corpus_of([f"Plan question from {p}" for p in places])
    few = corpus_of(["down down", "still down", "down again"])
    assert emerging(few, before, before, 1) == []  # three posts: never "emerging"
    busy = corpus_of([f"Everything is down in {p}" for p in places] + [f"Plan question from {p}" for p in places])
    top = emerging(busy, before, before, 1)
    assert [t.term for t in top] == ["down"]  # the towns and the plan questions did not grow
    assert emerging(busy, corpus_of([]), corpus_of([]), 1) == []  # no history: nothing has "grown"


# ---------------------------------------------------------------- on the demo data
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    return run_demo(tmp_path_factory.mktemp("topics") / "demo", channels={})


def outage_words(config) -> set[str]:
    """Words of the storyline's outage, from the outage theme (built in and the demo config's)."""
    phrases = [*DEFAULT_THEMES["outage"], *config.sentiment.themes.get("outage", [])]
    return {w for p in phrases if not p.startswith("-") for w in re.findall(r"\w+", p.lower())
            if w not in ("no", "is", "are", "in", "for", "the")}


def outage_hour(result) -> tuple:
    """The hour after the demo outage thread started (its root is the X post with the most replies)."""
    rows = [json.loads(line) for line in (result.workspace / "data" / "x.jsonl").read_text().splitlines()
            if line.startswith("{") and line.endswith("}")]
    replies = Counter(r["thread_id"] for r in rows if r.get("thread_id"))
    roots = [r for r in rows if r["id"] in replies]
    root = max(roots, key=lambda r: (replies[r["id"]], r["followers"]))
    return parse_iso(root["created_at"]) + timedelta(hours=1)


def test_the_outage_spike_alert_is_explained_by_outage_terms_not_app(demo) -> None:
    config = demo.config
    now = outage_hour(demo)
    with Store(config.db_path) as store:
        spike = detect(store, "Brightwave", config.alerts.spikes, config.alerts.levels, now)
        assert spike is not None
        alert = spike_alert(store, spike, now, config.alerts.levels, config)
    found = alert.explanation
    terms = [t["name"] for t in found["terms"]]
    words = outage_words(config)
    assert any(set(t.split()) & words for t in terms[:3]), terms
    assert "app" not in terms  # "any update?" during an outage is outage talk, not the app theme
    assert found["themes"][0]["name"] == "outage"
    assert "app" not in [t["name"] for t in found["themes"][:1]]
    # every part says how much of the spike it covers
    assert all(0 < t["share_pct"] <= 100 for t in found["terms"] + found["sources"] + found["languages"])
    assert found["authors"] and found["sources"][0]["name"] == "x"
    # and every channel shows it: plain text (console, file, email), Slack, the webhook payload
    assert terms[0] in alert.title
    assert "What drove it:" in alert.plain_text() and "Growing terms (share of the negative mentions): " \
        in alert.plain_text()
    assert "What drove it" in alert_html(alert) and terms[0] in alert_html(alert)  # the email's HTML part
    blocks = json.dumps(slack_message(alert)["blocks"])
    assert "What drove it" in blocks and terms[0] in blocks
    again = Alert.from_dict(json.loads(json.dumps(alert.to_dict())))
    assert again.explanation["terms"] == found["terms"]


def test_demo_writes_terms_files_with_the_outage_day(demo) -> None:
    out = demo.config.resolve(demo.config.trends.out_dir)
    columns, rows = read_csv(out / "terms_day_Europe-London.csv")
    assert columns[:6] == ["period_start", "timezone", "complete", "brand", "kind", "term"]
    assert (out / "terms_day_Europe-London.json").exists() and (out / "terms_week_Europe-London.csv").exists()
    outage_day = outage_hour(demo).astimezone(__import__("zoneinfo").ZoneInfo("Europe/London")).date().isoformat()
    that_day = [r for r in rows if r["period_start"] == outage_day and r["brand"] == "Brightwave"]
    words = outage_words(demo.config)
    grown = [r["term"] for r in that_day if r["kind"] in ("term", "phrase")]
    assert grown and set(grown[0].split()) & words, grown
    assert any(r["kind"] == "cluster" and int(r["mentions"]) >= 3 for r in rows)  # the reposts of the outage


def test_topics_command_json(demo, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["topics", "--since", "7d", "--json", "--config", str(demo.config.path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["brands"]) == {"Brightwave", "Lumacell"}
    kinds = {r["kind"] for r in data["brands"]["Brightwave"]}
    assert kinds & {"term", "phrase", "cluster"}
    bad = CliRunner().invoke(cli, ["topics", "--brand", "Nope", "--config", str(demo.config.path)])
    assert bad.exit_code == 2 and "Nope" in bad.output


def test_make_demo_sends_the_outage_spike_alert_with_its_explanation(demo) -> None:
    with Store(demo.config.db_path) as store:  # channels={} in the fixture: the outbox holds what would go out
        payloads = [json.loads(p) for p in store.conn.execute("SELECT payload FROM outbox").fetchall() for p in p]
    spikes = [a for a in payloads if a.get("kind") == "spike"]
    assert spikes, "the demo's outage raised no spike alert"
    words = outage_words(demo.config)
    terms = [t["name"] for t in spikes[0]["explanation"]["terms"]]
    assert any(set(t.split()) & words for t in terms[:3]) and "app" not in terms
