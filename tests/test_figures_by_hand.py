"""Every headline figure of the demo report, checked by hand: recomputed here from the demo's data
files and the labels the model stored, with plain Python (not through listener.trends or
sentiment.trends), and compared with what the report prints.

The demo's texts may be rewritten; these tests read whatever the generator writes, so they only
depend on the storyline (Brightwave and its competitor Lumacell, a Reddit pile-on, an outage thread).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from listener.demo import demo_anchor, run_demo
from listener.models import iso
from listener.store import Store
from listener.trends.report import write_report


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    ws = tmp_path_factory.mktemp("figures") / "demo"
    result = run_demo(ws, channels={})
    anchor = demo_anchor()
    since, now = anchor - timedelta(days=7), anchor
    path = write_report(result.config, Store(result.config.db_path), ws / "report.html", since=since, now=now)
    return result, since, now, path.read_text(encoding="utf-8")


def data_rows(ws: Path) -> dict[tuple[str, str], dict]:
    """The demo's X and Reddit rows as the generator wrote them, by (source, id)."""
    rows = {}
    for name in ("x.jsonl", "reddit.jsonl"):
        for line in (ws / "data" / name).read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # the deliberately broken export line
            rows[(row["source"], row["id"])] = row
    return rows


def headline(html: str, brand: str) -> dict[str, str]:
    """The headline cards of one brand's section: label -> printed value."""
    section = html.split(f"<h2>{brand}</h2>", 1)[1].split("<h2>", 1)[0]
    return dict(re.findall(r'class="label">([^<]+)</div><div class="value">([^<]+)<', section))


def counted(store: Store, brand: str, since: str, until: str) -> list[dict]:
    """Customer mentions (not the brand's own posts) of `brand` in [since, until), a mention naming
    two brands counting for both."""
    return [r for r in store.query(
        "SELECT * FROM mentions WHERE is_brand_account = 0 AND scored_at IS NOT NULL "
        "AND created_at >= ? AND created_at < ?", (since, until))
        if r["brand"] == brand or brand in json.loads(r["also_brands"] or "[]")]


def test_reach_counts_each_audience_once(demo) -> None:
    result, since, now, html = demo
    raw = data_rows(result.workspace)
    with Store(result.config.db_path) as store:
        mentions = counted(store, "Brightwave", iso(since), iso(now))
    # By hand: a Reddit post's number is its subreddit's members, read off the link (r/<name>);
    # anyone else brings their followers. Each audience counts once, at the largest number seen.
    audiences: dict[str, int] = {}
    for m in mentions:
        followers = m["author_followers"] or 0
        if m["source"] == "reddit":
            who = "r/" + re.search(r"/r/(\w+)", raw[("reddit", m["native_id"])]["url"]).group(1).lower()
        else:
            who = f"{m['source']}:{m['author']}"
        audiences[who] = max(audiences.get(who, 0), followers)
    expected = sum(audiences.values())
    per_comment = sum(m["author_followers"] or 0 for m in mentions)
    assert expected < per_comment  # the demo's Reddit pile-on: the old sum counted the subreddit per comment
    assert headline(html, "Brightwave")["Reach"] == f"{expected:,}"


def test_the_queue_counts_a_subreddit_once_per_thread(demo) -> None:
    result, *_ = demo
    raw = data_rows(result.workspace)
    # The angry Reddit submission with its pile-on of comments, all in one subreddit.
    threads: dict[str, list[dict]] = {}
    for (source, _), row in raw.items():
        if source == "reddit":
            threads.setdefault(row.get("thread_id") or row["id"], []).append(row)
    root, rows = max(threads.items(), key=lambda kv: len(kv[1]))
    assert len(rows) >= 5 and len({re.search(r"/r/(\w+)", r["url"]).group(1) for r in rows}) == 1
    with Store(result.config.db_path) as store:
        reach = store.scalar("SELECT reach FROM threads WHERE thread_key = ?", (f"reddit:{root}",))
    assert reach == max(r["followers"] for r in rows)  # the subreddit once, not once per comment


def test_sentiment_and_share_of_voice_by_hand(demo) -> None:
    result, since, now, html = demo
    with Store(result.config.db_path) as store:
        own = counted(store, "Brightwave", iso(since), iso(now))
        rival = counted(store, "Lumacell", iso(since), iso(now))
    labels = [m["label"] for m in own]
    rated = [label for label in labels if label in ("positive", "neutral", "negative")]
    pos, neg = rated.count("positive"), rated.count("negative")
    cards = headline(html, "Brightwave")
    assert cards["Mentions"] == f"{len(own):,}"
    assert cards["Net sentiment"] == f"{100 * (pos - neg) / len(rated):.1f} pts"
    negative_share = 100 * neg / len(rated)  # a whole number is shown without its ".0", as share of voice is
    assert cards["Negative share"] == (f"{negative_share:.0f}%" if round(negative_share, 1).is_integer()
                                       else f"{negative_share:.1f}%")
    share = 100 * len(own) / (len(own) + len(rival))
    assert cards["Share of voice"] == (f"{share:.0f}%" if round(share, 1).is_integer() else f"{share:.1f}%")
