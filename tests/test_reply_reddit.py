"""Replying on Reddit from the queue: praw against a local fake of Reddit's API, each refusal in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.queue import Queue
from alerts.replies.send import FAILED, POSTED, send_reply
from listener.errors import UserError
from listener.models import Batch, Mention
from listener.pipeline import process
from listener.store import Store
from tests.fakes_replies.reddit import FakeRedditReplies
from tests.reply_support import REDDIT, reply_config, reply_env

POST = "t3_1h2k3l"
TEXTS = [
    "Brightwave has been down all day, awful service, I want a refund. Cancelling.",
    "Same here, Brightwave support is useless. Terrible, never again",
    "Brightwave charged me twice and nobody answers. Scam.",
]


def reddit_thread(store: Store, at: datetime | None = None) -> list[Mention]:
    """A Reddit post and two comments under it, as the Reddit source stores them (fullnames, link_id thread)."""
    at = at or datetime.now(UTC) - timedelta(hours=2)
    ids = [POST, "t1_kx01", "t1_kx02"]
    mentions = [Mention(source="reddit", native_id=nid, text=text, created_at=at + timedelta(minutes=5 * i),
                        brand="Brightwave", author=f"redditor{i}", author_followers=250_000, thread_id=POST,
                        parent_id=None if i == 0 else POST, engagement=300, lang="en",
                        url=f"https://www.reddit.com/r/Brightwave/comments/1h2k3l/_/{nid[3:]}/")
                for i, (nid, text) in enumerate(zip(ids, TEXTS, strict=True))]
    store.save_batch("reddit", "test", Batch(mentions=mentions))
    return mentions


@pytest.fixture
def fake():
    with FakeRedditReplies(REDDIT["client_id"], REDDIT["client_secret"], (REDDIT["refresh_token"],)) as f:
        f.add_thing(POST, link_id=POST)
        f.add_thing("t1_kx01", link_id=POST)
        f.add_thing("t1_kx02", link_id=POST)
        yield f


@pytest.fixture
def env(tmp_path, monkeypatch, fake):
    reply_env(monkeypatch)
    config = reply_config(tmp_path, reddit_url=fake.base_url)
    store = Store(config.db_path)
    reddit_thread(store)
    process(config, store, channels={})
    item_id = store.scalar("SELECT id FROM queue_items")
    assert item_id
    yield config, store, item_id
    store.close()


def test_a_reply_posts_on_reddit_as_the_brand_account(env, fake):
    config, store, item_id = env
    reply = send_reply(store, config, item_id, "Sorry about this. Can you DM us your account number?", "alice")
    assert reply.state == POSTED and reply.native_id.startswith("t1_")
    assert reply.url.startswith("https://www.reddit.com/r/Brightwave/comments/1h2k3l/")
    [comment] = fake.replies_to("t1_kx02")  # the newest customer comment
    assert comment["body"].startswith("Sorry about this")
    sent = fake.served("/api/comment/")[0]
    assert sent.params["api_type"] == "json" and sent.params["thing_id"] == "t1_kx02"
    brand = store.query("SELECT * FROM mentions WHERE id = ?", (reply.brand_mention_id,))[0]
    assert brand["is_brand_account"] == 1 and brand["author"] == "BrightwaveSupport"
    assert brand["thread_key"] == f"reddit:{POST}" and brand["parent_id"] == "t1_kx02"
    assert Queue(store, config.queue).get(item_id).state == "replied"


def test_replying_to_the_post_itself(env, fake):
    config, store, item_id = env
    post = store.scalar("SELECT id FROM mentions WHERE native_id = ?", (POST,))
    send_reply(store, config, item_id, "We posted an update on the outage.", "alice", mention_id=post)
    assert [c["body"] for c in fake.replies_to(POST)] == ["We posted an update on the outage."]


@pytest.mark.parametrize("script, reason, kind", [
    (lambda f: setattr(f.things["t1_kx02"], "deleted", True), "deleted (that comment has been deleted)", "gone"),
    (lambda f: setattr(f.things[POST], "locked", True), "locked by the moderators", "forbidden"),
    (lambda f: setattr(f, "slow_down", "Looks like you've been doing that a lot. Take a break for 9 minutes "
                                       "before trying again."), "slow down", "rate_limited"),
    (lambda f: setattr(f.things["t1_kx02"], "banned", True), "banned from this subreddit", "forbidden"),
    (lambda f: f.rate_limit_next(1, reset_in=300, path_contains="/api/comment"), "rate limit", "rate_limited"),
])
def test_each_refusal_is_kept_with_its_reason(env, fake, script, reason, kind):
    config, store, item_id = env
    script(fake)
    reply = send_reply(store, config, item_id, "We're looking into it.", "alice")
    assert reply.state == FAILED and reason in reply.error and reply.error_kind == kind, reply.error
    if kind == "rate_limited":
        assert reply.retry_after
    assert store.scalar("SELECT COUNT(*) FROM mentions WHERE is_brand_account = 1") == 0
    assert Queue(store, config.queue).get(item_id).first_response_at is None


def test_a_revoked_refresh_token_says_what_to_do(env, fake):
    config, store, item_id = env
    fake.refresh_tokens.clear()
    reply = send_reply(store, config, item_id, "Hello", "alice")
    assert reply.state == FAILED and reply.error_kind == "auth" and "REDDIT_REFRESH_TOKEN" in reply.error


def test_over_ten_thousand_characters_is_refused_before_sending(env, fake):
    config, store, item_id = env
    with pytest.raises(UserError, match="allows 10,000"):
        send_reply(store, config, item_id, "a" * 10_001, "alice")
    assert fake.served("/api/comment/") == []


def test_a_missing_secret_is_one_line_and_nothing_stored(env, fake, monkeypatch):
    config, store, item_id = env
    monkeypatch.delenv("REDDIT_REFRESH_TOKEN")
    with pytest.raises(UserError, match="REDDIT_REFRESH_TOKEN is not set"):
        send_reply(store, config, item_id, "Hello", "alice")
    assert store.scalar("SELECT COUNT(*) FROM replies") == 0
