"""The X collector: the real tweepy client against a fake X API v2 on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from listener.collect import collect_source
from listener.errors import SourceError
from listener.sources.x import XCursor, XSource
from listener.store import Store
from tests.fakes.appconfig import app_config
from tests.fakes.x_api import FakeXApi, snowflake

TOKEN = "test-bearer-token"


@pytest.fixture
def fake():
    with FakeXApi(tokens={TOKEN}) as server:
        yield server


@pytest.fixture(autouse=True)
def token_env(monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)


def make_source(tmp_path, fake, **overrides):
    section = {"api_url": fake.base_url, "max_results": 10, "max_pages": 10, "retry_backoff_seconds": 0,
               "mentions_timeline": False, "competitors": False, **overrides}
    config = app_config(tmp_path, {"x": section})
    return XSource(config.sources["x"], config), Store(tmp_path / "overheard.db")


def add_complaints(fake, n, *, start=None, prefix="Brightwave support"):
    """n matching posts, a minute apart, oldest first; returns their ids."""
    start = start or datetime.now(UTC) - timedelta(hours=2)
    return [fake.add_tweet(f"{prefix} #{i} still waiting", f"user{i}", created_at=start + timedelta(minutes=i),
                           likes=i, replies=1)
            for i in range(n)]


def stored_ids(store, source="x"):
    return {r["native_id"] for r in store.query("SELECT native_id FROM mentions WHERE source = ?", [source])}


def search_requests(fake):
    return fake.served("/2/tweets/search/recent")


def test_collects_every_page_with_the_fields_support_needs(tmp_path, fake):
    brand = fake.add_user("BrightwaveHelp", followers=50_000, verified=True)
    alice = fake.add_user("alice", followers=1234)
    root = fake.add_tweet("@BrightwaveHelp my router is dead 😡 — día 3 sin internet", alice, lang="es",
                          likes=5, replies=2, retweets=3, quotes=1)
    reply = fake.add_tweet("@alice sorry! DM us and we'll fix it", brand, reply_to=root)
    ids = add_complaints(fake, 24)
    fake.add_tweet("nothing to do with us", "bob")
    fake.add_tweet("Brightwave festival was fun", "carol")  # excluded by the brand's exclusions
    source, store = make_source(tmp_path, fake)

    result, errors = collect_source(store, source)

    assert errors == []
    assert stored_ids(store) == {str(i) for i in [root, reply, *ids]}
    assert result.new == 26
    assert len(search_requests(fake)) == 3  # 26 posts, 10 a page
    # tweepy's Paginator sent next_token (the search endpoint's name), never pagination_token
    page2 = search_requests(fake)[1].params
    assert "next_token" in page2 and "pagination_token" not in page2
    row = store.query("SELECT * FROM mentions WHERE native_id = ?", [str(root)])[0]
    assert row["text"] == "@BrightwaveHelp my router is dead 😡 — día 3 sin internet"
    assert row["author"] == "alice" and row["author_followers"] == 1234
    assert row["engagement"] == 5 + 2 + 3 + 1
    assert row["source_lang"] == "es"
    assert row["url"] == f"https://x.com/alice/status/{root}"
    assert row["brand"] == "Brightwave"
    assert row["thread_key"] == f"x:{root}"
    assert json.loads(row["raw"])["post"]["id"] == str(root)
    brand_reply = store.query("SELECT * FROM mentions WHERE native_id = ?", [str(reply)])[0]
    assert brand_reply["is_brand_account"] == 1
    assert brand_reply["thread_key"] == f"x:{root}" and brand_reply["parent_id"] == str(root)
    assert brand_reply["author_verified"] == 1


def test_text_is_stored_as_the_author_typed_it_not_as_x_escapes_it(tmp_path, fake):
    """X sends "AT&amp;T &lt;3"; support staff must read "AT&T <3", and a typed "&amp;" stays typed."""
    typed = "Brightwave & AT&T both <3 fees > $10, see &amp; for yourself"
    tid = fake.add_tweet(typed, "dana")
    source, store = make_source(tmp_path, fake)

    collect_source(store, source)

    row = store.query("SELECT text, raw FROM mentions WHERE native_id = ?", [str(tid)])[0]
    assert row["text"] == typed
    assert "AT&amp;T" in json.loads(row["raw"])["post"]["text"]  # the payload is kept as X sent it


def test_the_query_sent_to_x_is_built_from_the_brand_config(tmp_path, fake):
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)
    sent = search_requests(fake)[0].params["query"]
    assert sent == ('(((Brightwave OR "Bright Wave" OR @BrightwaveHelp) -festival) OR '
                    '(from:BrightwaveHelp is:reply)) -is:retweet')
    assert "start_time" in search_requests(fake)[0].params  # first run: looks back first_run_hours


def test_next_run_asks_only_for_newer_posts_and_stores_nothing_twice(tmp_path, fake):
    first = add_complaints(fake, 12)
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)
    cursor = XCursor.load(store.get_cursor("x", "search:Brightwave"))
    assert cursor.since_id == max(first) and not cursor.in_sweep

    later = add_complaints(fake, 3, start=datetime.now(UTC) - timedelta(minutes=5), prefix="Brightwave")
    before = len(search_requests(fake))
    result, _ = collect_source(store, source)

    assert result.new == 3 and result.duplicates == 0
    assert search_requests(fake)[before].params["since_id"] == str(max(first))
    assert stored_ids(store) == {str(i) for i in first + later}


def test_a_run_killed_between_pages_resumes_without_losing_or_doubling(tmp_path, fake):
    ids = add_complaints(fake, 35)  # 4 pages of 10
    source, store = make_source(tmp_path, fake)

    # Run 1 stores two pages, then the process dies (the generator is abandoned mid-sweep).
    query = source.queries()[0]
    for n, batch in enumerate(source.collect(query, None), 1):
        store.save_batch("x", query.key, batch)
        if n == 2:
            break
    assert len(stored_ids(store)) == 20
    cursor = XCursor.load(store.get_cursor("x", query.key))
    assert cursor.in_sweep and cursor.since_id is None  # since_id has NOT jumped to the newest post

    # Meanwhile: new posts arrive, and one not-yet-stored older post is deleted.
    newer = add_complaints(fake, 4, start=datetime.now(UTC) - timedelta(minutes=10), prefix="Brightwave")
    fake.delete_tweet(ids[3])
    served_before = len(search_requests(fake))

    collect_source(store, source)

    resumed = search_requests(fake)[served_before].params
    assert resumed["until_id"] == str(cursor.sweep_until)  # picked up below the last stored page
    expected = {str(i) for i in ids + newer} - {str(ids[3])}
    assert stored_ids(store) == expected
    assert store.scalar("SELECT COUNT(*) FROM mentions") == len(expected)
    final = XCursor.load(store.get_cursor("x", query.key))
    assert final.since_id == max(newer) and not final.in_sweep


def test_an_error_after_page_two_keeps_the_place_and_the_rerun_completes(tmp_path, fake):
    ids = add_complaints(fake, 30)
    source, store = make_source(tmp_path, fake, max_retries=0)
    fake.before_request = lambda req: (fake.drop_next(1) if len(search_requests(fake)) == 3 else None)

    _, errors = collect_source(store, source)
    assert errors and "failed after 1 tries" in errors[0]
    assert len(stored_ids(store)) == 20

    fake.before_request = None
    collect_source(store, source)
    assert stored_ids(store) == {str(i) for i in ids}


def test_a_post_deleted_between_pages_is_simply_missing(tmp_path, fake):
    ids = add_complaints(fake, 25)

    def delete_on_page_two(req):
        if "next_token" in req.params:
            fake.delete_tweet(ids[5])  # would have been on page 2

    fake.before_request = delete_on_page_two
    source, store = make_source(tmp_path, fake)
    _, errors = collect_source(store, source)
    assert errors == []
    assert stored_ids(store) == {str(i) for i in ids} - {str(ids[5])}


def test_429_with_reset_header_records_when_to_come_back(tmp_path, fake):
    add_complaints(fake, 15)
    source, store = make_source(tmp_path, fake)
    fake.rate_limit_next(1, reset_in=120)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert 100 < info.value.retry_after <= 121
    assert len(search_requests(fake)) == 1  # tweepy did not sleep or retry

    _, errors = collect_source(store, source)  # the next scheduled run
    assert errors == [] and len(stored_ids(store)) == 15


def test_429_without_reset_header_does_not_loop(tmp_path, fake):
    add_complaints(fake, 5)
    source, store = make_source(tmp_path, fake)
    fake.rate_limit_next(50, reset_in=None)
    _, errors = collect_source(store, source)
    assert len(search_requests(fake)) == 1
    assert "rate limit" in errors[0] and "15-minute" in errors[0]
    run = store.query("SELECT * FROM runs")[-1]
    assert run["errors"] == 1


def test_stops_when_the_rate_limit_window_is_used_up(tmp_path, fake):
    ids = add_complaints(fake, 30)
    fake.rate_limit = 2  # two search requests left in this window
    source, store = make_source(tmp_path, fake)
    _, errors = collect_source(store, source)
    assert len(search_requests(fake)) == 2 and "used up" in errors[0]
    assert len(stored_ids(store)) == 20
    fake.remaining.clear()  # the window resets
    collect_source(store, source)
    assert stored_ids(store) == {str(i) for i in ids}


def test_5xx_is_retried_a_bounded_number_of_times(tmp_path, fake):
    add_complaints(fake, 5)
    source, store = make_source(tmp_path, fake, max_retries=2)
    fake.server_error_next(2, 503)
    _, errors = collect_source(store, source)
    assert errors == [] and len(stored_ids(store)) == 5

    fake.server_error_next(10, 500)
    add_complaints(fake, 1, start=datetime.now(UTC), prefix="Brightwave")
    before = len(search_requests(fake))
    _, errors = collect_source(store, source)
    assert len(search_requests(fake)) - before == 3  # one try plus two retries, then give up
    assert "HTTP 500" in errors[0]


def test_401_names_the_credential_and_marks_the_source_unusable(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "revoked")
    source, store = make_source(tmp_path, fake, mentions_timeline=True, competitors=True)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert info.value.auth and "$X_BEARER_TOKEN" in str(info.value) and "401" in str(info.value)
    _, errors = collect_source(store, source)
    assert len(errors) == 1  # the other queries were not tried with a refused token


def test_malformed_json_page_is_retried_and_bad_posts_are_quarantined(tmp_path, fake):
    ids = add_complaints(fake, 4)
    fake.add_raw_tweet({"id": "99", "text": "Brightwave", "created_at": None}, "Brightwave no date")
    fake.add_raw_tweet({"id": "100", "text": {"not": "text"}, "created_at": "2026-01-01T00:00:00.000Z"},
                       "Brightwave odd text")
    fake.malformed_next(1)
    source, store = make_source(tmp_path, fake)
    result, errors = collect_source(store, source)
    assert errors == []
    assert stored_ids(store) == {str(i) for i in ids}
    reasons = {r["reason"] for r in store.query("SELECT reason FROM quarantine WHERE source = 'x'")}
    assert reasons == {"created_at is missing", "text is dict, not text"}
    assert result.quarantined == 2


def test_mentions_timeline_uses_pagination_token_and_looks_the_handle_up_once(tmp_path, fake):
    fake.add_user("BrightwaveHelp", followers=9000)
    ids = [fake.add_tweet(f"@BrightwaveHelp help #{i}", f"u{i}",
                          created_at=datetime.now(UTC) - timedelta(minutes=30 - i)) for i in range(12)]
    excluded = fake.add_tweet("@BrightwaveHelp are you at the festival?", "fan")
    source, store = make_source(tmp_path, fake, mentions_timeline=True)
    collect_source(store, source)
    mentions = fake.served("/mentions")
    assert len(mentions) == 2 and "pagination_token" in mentions[1].params
    assert {str(i) for i in ids} <= stored_ids(store)
    assert str(excluded) not in stored_ids(store)  # the brand's exclusions apply to its timeline too
    collect_source(store, source)
    assert len(fake.served("/2/users/by/username/")) == 1  # the id is kept in the cursor


def test_a_cursor_older_than_seven_days_falls_back_to_the_window(tmp_path, fake):
    ids = add_complaints(fake, 3)
    source, store = make_source(tmp_path, fake)
    old_id = snowflake(datetime.now(UTC) - timedelta(days=9), 1)
    store.save_batch("x", "search:Brightwave", _cursor_only(json.dumps({"since_id": str(old_id)})))
    _, errors = collect_source(store, source)
    assert errors == []
    assert "since_id" not in search_requests(fake)[0].params
    assert stored_ids(store) == {str(i) for i in ids}


def test_backfill_reaches_back_as_far_as_asked(tmp_path, fake):
    old = fake.add_tweet("Brightwave outage last week", "dave",
                         created_at=datetime.now(UTC) - timedelta(days=3))
    recent = add_complaints(fake, 2)
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)
    assert str(old) not in stored_ids(store)  # first run looks back 24 h
    collect_source(store, source, backfill=timedelta(days=7))
    assert stored_ids(store) == {str(i) for i in [old, *recent]}
    start = search_requests(fake)[-1].params["start_time"]
    assert datetime.fromisoformat(start) > datetime.now(UTC) - timedelta(days=7)


def test_doctor_check_reports_a_missing_handle_and_a_bad_token(tmp_path, fake, monkeypatch):
    source, _ = make_source(tmp_path, fake)
    assert source.check() == ["X has no account @BrightwaveHelp (a handle in [[brands]])"]
    fake.add_user("BrightwaveHelp")
    assert source.check() == []
    monkeypatch.delenv("X_BEARER_TOKEN")
    assert "X_BEARER_TOKEN is not set" in source.check()[0]
    monkeypatch.setenv("X_BEARER_TOKEN", "wrong")
    assert "refused the bearer token in $X_BEARER_TOKEN" in source.check()[0]


def _cursor_only(value):
    from listener.models import Batch

    return Batch(cursor=value)


def test_fake_runs_as_a_separate_process(tmp_path):
    import subprocess
    import sys

    import requests

    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.x_api", "--port", "0", "--token", TOKEN],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.rsplit(" ", 1)[1].strip()
        requests.post(f"{url}/_fake/tweets", json={"text": "Brightwave is down", "username": "eve"}, timeout=5)
        r = requests.get(f"{url}/2/tweets/search/recent", params={"query": "Brightwave"},
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert r.json()["data"][0]["text"] == "Brightwave is down"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_an_empty_page_is_not_an_error_and_the_next_run_still_finds_posts(tmp_path, fake):
    source, store = make_source(tmp_path, fake)
    result, errors = collect_source(store, source)
    assert errors == [] and result.fetched == 0
    assert search_requests(fake)[0].status == 200 and store.get_cursor("x", "search:Brightwave") is not None
    ids = add_complaints(fake, 3)
    collect_source(store, source)
    assert stored_ids(store) == {str(i) for i in ids}


def test_an_unreadable_cursor_starts_over_from_the_first_run_window(tmp_path, fake):
    ids = add_complaints(fake, 2)
    source, store = make_source(tmp_path, fake)
    store.save_batch("x", "search:Brightwave", _cursor_only("[not a cursor"))
    _, errors = collect_source(store, source)
    assert errors == [] and stored_ids(store) == {str(i) for i in ids}


def test_posts_arriving_during_a_sweep_are_collected_by_the_next_run(tmp_path, fake):
    ids = add_complaints(fake, 25)
    arrived = []

    def post_meanwhile(req):
        if "next_token" in req.params and not arrived:
            arrived.append(fake.add_tweet("Brightwave down again, mid-sweep", "late"))

    fake.before_request = post_meanwhile
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)
    assert stored_ids(store) == {str(i) for i in ids}  # not in this sweep: it pages below its start
    fake.before_request = None
    collect_source(store, source)
    assert stored_ids(store) == {str(i) for i in ids + arrived}


def test_hostile_and_odd_text_is_kept_verbatim_minus_control_characters(tmp_path, fake):
    said = "Brightwave <!channel> <script>alert(1)</script> \u202eevil\u202c zero\u200bwidth \x07bell 👩‍👩‍👧"
    odd = fake.add_tweet(said, "troll")
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)
    text = store.query("SELECT text FROM mentions WHERE native_id = ?", [str(odd)])[0]["text"]
    # escaping is the job of whatever shows it (Slack, HTML); the store keeps what was said
    assert "<!channel> <script>alert(1)</script>" in text and "👩‍👩‍👧" in text
    assert "\x07" not in text


# ---------------------------------------------------------------- retweets, long posts, links, languages
def test_retweets_amplify_their_original_in_one_thread_with_its_full_text(tmp_path, fake):
    """One complaint retweeted 15 times is one thread: the original's words, counted once for engagement,
    with the retweeters' audience and timing added to it (X's recorded shape: "RT @carol: …" cut short,
    the original in includes.tweets, and every retweet showing the original's repost count)."""
    from listener.threads import rollup_dirty

    carol = fake.add_user("carol", followers=310)
    said = ("Brightwave charged me twice this month and support keeps closing my ticket. I want a refund "
            "today or I'm switching to Lumacell. Three weeks of this, every single call ends with 'we'll "
            "escalate it'. Nobody ever calls back.")
    start = datetime.now(UTC) - timedelta(minutes=50)
    original = fake.add_tweet(said, carol, created_at=start, likes=40, replies=6, quotes=2)
    big = fake.add_user("newsdesk", followers=82_000, verified=True)
    retweets = [fake.add_retweet(original, big if i == 7 else f"fan{i}", created_at=start + timedelta(minutes=2 + i))
                for i in range(15)]
    source, store = make_source(tmp_path, fake, include_retweets=True)
    assert "-is:retweet" not in source.queries()[0].text

    result, errors = collect_source(store, source)

    assert errors == []
    served = search_requests(fake)[0].params
    assert "referenced_tweets.id.author_id" in served["expansions"].split(",")
    rows = store.query("SELECT * FROM mentions WHERE source = 'x' ORDER BY created_at")
    assert [r["native_id"] for r in rows] == [str(original), *map(str, retweets)]
    assert {r["thread_key"] for r in rows} == {f"x:{original}"}
    assert all(r["text"] == said for r in rows)  # not "RT @carol: Brightwave charged me twice…"
    first = rows[0]
    assert (first["author"], first["engagement"]) == ("carol", 40 + 6 + 15 + 2)  # 15 reposts, counted once
    assert all(r["engagement"] == 0 for r in rows[1:])  # not 15 × the original's 15 reposts
    assert json.loads(rows[8]["metrics"])["retweet_of"] == str(original)
    assert rows[8]["author"] == "newsdesk" and rows[8]["parent_id"] == str(original)
    assert result.new == 16

    rollup_dirty(store, source.app)
    threads = store.query("SELECT * FROM threads WHERE source = 'x'")
    assert len(threads) == 1
    thread = threads[0]
    assert thread["engagement"] == 63 and thread["reach"] == 310 + 82_000 + 14 * 100
    reasons = json.loads(thread["reasons"])
    assert any("@newsdesk has 82k followers" in r for r in reasons), reasons
    assert any(r.startswith("16 replies") and r.endswith(" in 16 min") for r in reasons), reasons  # velocity


def test_a_retweeted_complaint_through_the_whole_pipeline_is_one_queue_item(tmp_path, fake):
    from listener.pipeline import run_pipeline

    said = "Brightwave took my money twice and won't refund it. Worst provider I've ever had, avoid them."
    original = fake.add_tweet(said, fake.add_user("olga", followers=900), likes=12, replies=3)
    for i in range(8):
        fake.add_retweet(original, f"rt{i}")
    source, store = make_source(tmp_path, fake, include_retweets=True)

    run_pipeline(source.app, store, sources=["x"], channels={}, trends=False)

    assert store.scalar("SELECT COUNT(*) FROM mentions WHERE source = 'x'") == 9
    assert store.scalar("SELECT COUNT(*) FROM threads WHERE source = 'x'") == 1
    items = store.query("SELECT * FROM queue_items")
    assert len(items) == 1 and items[0]["thread_key"] == f"x:{original}"


def test_retweets_of_the_brands_own_post_speak_with_the_brands_words(tmp_path, fake):
    brand = fake.add_user("BrightwaveHelp", followers=50_000)
    notice = fake.add_tweet("We're sorry: Brightwave broadband is down in Leeds. Engineers are on site.", brand)
    rt = fake.add_retweet(notice, "fan")
    source, store = make_source(tmp_path, fake, include_retweets=True)

    collect_source(store, source)

    rows = {r["native_id"]: r for r in store.query("SELECT * FROM mentions WHERE source = 'x'")}
    assert rows[str(notice)]["is_brand_account"] == 1
    assert rows[str(rt)]["is_brand_account"] == 1  # not a customer complaining about an outage


def test_a_retweet_whose_original_is_gone_joins_the_originals_thread_without_rt_prefix(tmp_path, fake):
    original = fake.add_tweet("Brightwave outage in Leeds again, third time this week", "dave")
    rt = fake.add_retweet(original, "erin")
    fake.delete_tweet(original)  # X then answers with an `errors` entry instead of includes.tweets
    source, store = make_source(tmp_path, fake, include_retweets=True)

    collect_source(store, source)

    row = store.query("SELECT * FROM mentions WHERE native_id = ?", [str(rt)])[0]
    assert row["text"] == "Brightwave outage in Leeds again, third time this week"
    assert row["thread_key"] == f"x:{original}" and row["engagement"] == 0


def test_long_posts_are_stored_whole_with_their_links_expanded(tmp_path, fake):
    said = ("Brightwave, day 4 without internet in Hebden Bridge. The status page "
            "https://status.brightwave.example/incidents/4821 still says 'resolved'. I've called six times, "
            "been promised an engineer twice, and missed two days of work waiting in for them. Your app says "
            "my line is fine. It is not. See the photos and the speed test: https://speedtest.example/r/99812 "
            "— I want compensation for the whole outage, not a £5 credit.")
    assert len(said) > 280
    tid = fake.add_tweet(said, "gwen")
    rt = fake.add_retweet(tid, "hal")
    short = fake.add_tweet("Brightwave down? https://downdetector.example/status/brightwave", "ivy")
    source, store = make_source(tmp_path, fake, include_retweets=True)

    collect_source(store, source)

    fields = search_requests(fake)[0].params["tweet.fields"].split(",")
    assert "note_tweet" in fields and "entities" in fields
    rows = {r["native_id"]: r for r in store.query("SELECT * FROM mentions WHERE source = 'x'")}
    assert rows[str(tid)]["text"] == said  # not cut at 280 characters, no t.co
    assert rows[str(rt)]["text"] == said
    assert json.loads(rows[str(tid)]["metrics"])["links"] == [
        "https://status.brightwave.example/incidents/4821", "https://speedtest.example/r/99812"]
    assert rows[str(short)]["text"] == "Brightwave down? https://downdetector.example/status/brightwave"
    assert "https://t.co/" in json.loads(rows[str(short)]["raw"])["post"]["text"]  # raw stays as X sent it


@pytest.mark.parametrize("x_tag,stored", [("in", "id"), ("iw", "he"), ("ji", "yi"), ("und", None),
                                          ("qme", None), ("zxx", None), ("pt", "pt"), ("ja", "ja")])
def test_x_language_tags_are_stored_in_the_one_code_list(tmp_path, fake, x_tag, stored):
    tid = fake.add_tweet("Brightwave 👍", "kai", lang=x_tag)
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)
    assert store.query("SELECT source_lang FROM mentions WHERE native_id = ?", [str(tid)])[0]["source_lang"] == stored


def test_japanese_keywords_and_exclusions_apply_inside_japanese_posts(tmp_path, fake):
    """X segments Japanese text for search; the brand's own rules (applied locally to the mentions
    timeline) must match inside it too, or an exclusion written in Japanese never excludes anything."""
    fake.add_user("DoutorJP")
    hit = fake.add_tweet("@DoutorJP 今日もドトールでモーニング。アプリのクーポンが使えない", "hanako", lang="ja")
    fake.add_tweet("@DoutorJP 駅前のドトール閉店するって本当？", "taro", lang="ja")  # excluded: 閉店
    searched = fake.add_tweet("ドトールのWi-Fi遅すぎ", "jiro", lang="ja")
    fake.add_tweet("スタバの新作おいしい", "saburo", lang="ja")
    brands = [{"name": "Doutor", "keywords": ["ドトール"], "handles": ["@DoutorJP"], "exclusions": ["閉店"]}]
    section = {"api_url": fake.base_url, "max_results": 10, "retry_backoff_seconds": 0, "competitors": False,
               "include_brand_replies": False}
    config = app_config(tmp_path, {"x": section}, brands=brands, competitors=[])
    store = Store(tmp_path / "overheard.db")

    result, errors = collect_source(store, XSource(config.sources["x"], config))

    assert errors == []
    assert stored_ids(store) == {str(hit), str(searched)}
