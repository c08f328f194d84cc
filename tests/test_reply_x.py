"""Replying on X from the queue: tweepy against a local fake of X's API, every refusal in words, nothing lost."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from alerts.queue import Queue
from alerts.replies.send import (
    FAILED,
    POSTED,
    SENDING,
    get_reply,
    list_replies,
    retry_reply,
    send_reply,
)
from alerts.replies.tokens import TokenStore
from alerts.replies.x import x_length
from alerts.users import add_user
from listener.errors import UserError
from listener.models import iso, utcnow
from listener.pipeline import process
from listener.store import Store
from tests.fakes_replies.x import FakeXReplies
from tests.helpers import stored_bytes
from tests.queue_support import angry_thread
from tests.reply_support import X_CLIENT, connect_x, reply_config, reply_env


@pytest.fixture
def fake():
    with FakeXReplies(client_id=X_CLIENT) as f:
        for i in range(4):
            f.add_post(f"outage-{i}", "techwithjess" if i == 0 else f"techwithjess-friend{i}")
        yield f


@pytest.fixture
def env(tmp_path, monkeypatch, fake):
    reply_env(monkeypatch)
    config = reply_config(tmp_path, x_url=fake.base_url)
    store = Store(config.db_path)
    angry_thread(store, "outage", author="techwithjess")
    process(config, store, channels={})
    item_id = store.scalar("SELECT id FROM queue_items")
    assert item_id, "the angry thread should be queued"
    connect_x(store, fake)
    yield config, store, item_id
    store.close()


def _thread_risk(store, item_id):
    return store.scalar("SELECT t.risk FROM threads t JOIN queue_items q ON q.thread_key = t.thread_key "
                        "WHERE q.id = ?", (item_id,))


def test_a_reply_posts_on_x_and_shows_in_the_thread_as_the_brands(env, fake):
    config, store, item_id = env
    risk_before = _thread_risk(store, item_id)
    reply = send_reply(store, config, item_id, "Sorry @techwithjess, we're on it: engineers are fixing the outage.",
                       "alice")
    assert reply.state == POSTED and reply.url.endswith(f"/Brightwave/status/{reply.native_id}")
    # X got the reply, threaded under the newest customer post.
    [posted] = fake.replies_to("outage-3")
    assert posted.text.startswith("Sorry @techwithjess")
    sent = json.loads(fake.served("/2/tweets")[0].body)
    assert sent == {"text": posted.text, "reply": {"in_reply_to_tweet_id": "outage-3"}}
    # The thread now has the brand's answer, the item is replied with its first response time.
    brand = store.query("SELECT * FROM mentions WHERE id = ?", (reply.brand_mention_id,))[0]
    assert brand["is_brand_account"] == 1 and brand["author"] == "Brightwave"
    assert brand["thread_key"] == "x:outage-0" and brand["native_id"] == reply.native_id
    item = Queue(store, config.queue).get(item_id)
    assert item.state == "replied" and item.assignee == "alice" and item.first_response_at
    events = Queue(store, config.queue).events(item_id)
    posted_event = next(e for e in events if e["action"] == "reply_posted")
    assert posted_event["actor"] == "alice" and posted_event["detail"]["text"] == posted.text
    # The pipeline sees the brand reply: the risk drops by the brand-replied discount.
    process(config, store, channels={})
    assert _thread_risk(store, item_id) < risk_before
    assert store.scalar("SELECT brand_replied FROM threads WHERE thread_key = 'x:outage-0'") == 1


def test_the_reply_goes_to_the_mention_chosen(env, fake):
    config, store, item_id = env
    first = store.scalar("SELECT id FROM mentions WHERE native_id = 'outage-0'")
    send_reply(store, config, item_id, "Hi, a fix is rolling out now.", "alice", mention_id=first)
    assert [p.text for p in fake.replies_to("outage-0")] == ["Hi, a fix is rolling out now."]


@pytest.mark.parametrize("script, reason, kind", [
    (lambda f: f.delete("outage-3"), "deleted", "gone"),
    (lambda f: f.add_post("outage-3", "techwithjess-friend3", "angry", reply_settings="mentionedUsers"),
     "limited who can reply", "forbidden"),
    (lambda f: f.rate_limit_next(1, reset_in=900, path_contains="/2/tweets"), "limit on posts", "rate_limited"),
    (lambda f: f.server_error_next(1, 503, path_contains="/2/tweets"), "server error", "unavailable"),
])
def test_each_refusal_is_stored_with_its_reason_and_nothing_is_lost(env, fake, script, reason, kind):
    config, store, item_id = env
    script(fake)
    reply = send_reply(store, config, item_id, "We are looking into it right now.", "alice")
    assert reply.state == FAILED and reason in reply.error and reply.error_kind == kind
    assert reply.can_retry()
    if kind == "rate_limited":
        assert reply.retry_after and reply.retry_after > iso(utcnow() + timedelta(minutes=10))
    item = Queue(store, config.queue).get(item_id)
    assert item.state == "new" and item.first_response_at is None  # nothing pretends it was answered
    assert store.scalar("SELECT COUNT(*) FROM mentions WHERE is_brand_account = 1") == 0
    trail = [e for e in Queue(store, config.queue).events(item_id) if e["action"] == "reply_failed"]
    assert reason in trail[0]["detail"]["reason"]


def test_a_duplicate_is_refused_in_words_and_a_person_retries_with_new_text(env, fake):
    config, store, item_id = env
    send_reply(store, config, item_id, "Thanks for your patience.", "alice")
    # Same words to another mention: X refuses duplicates.
    other = store.scalar("SELECT id FROM mentions WHERE native_id = 'outage-1'")
    refused = send_reply(store, config, item_id, "Thanks for your patience.", "alice", mention_id=other)
    assert refused.state == FAILED and "duplicate" in refused.error
    # Retrying by hand the same text gives the same refusal, as a new attempt that names the first.
    again = retry_reply(store, config, refused.id, "alice")
    assert again.retry_of == refused.id and again.state == FAILED
    with pytest.raises(UserError, match="retried already"):
        retry_reply(store, config, refused.id, "alice")


def test_an_expired_token_is_refreshed_and_the_reply_posted_once(env, fake):
    config, store, item_id = env
    old = TokenStore(store, "OVERHEARD_TOKEN_KEY").load("x").data
    fake.expire_access_tokens()  # X answers 401 to the stored access token
    reply = send_reply(store, config, item_id, "Back online now, sorry for the trouble.", "alice")
    assert reply.state == POSTED
    assert [r.status for r in fake.served("/2/tweets")] == [401, 201]
    new = TokenStore(store, "OVERHEARD_TOKEN_KEY").load("x").data
    assert new["refresh_token"] != old["refresh_token"] and new["access_token"] != old["access_token"]
    # The rotated refresh token is the one kept: the next refresh works.
    fake.expire_access_tokens()
    assert send_reply(store, config, item_id, "Anything else we can do?", "alice").state == POSTED


def test_a_token_about_to_expire_is_refreshed_before_posting(env, fake):
    config, store, item_id = env
    connect_x(store, fake, expires_in=60)  # inside the 5-minute margin
    assert send_reply(store, config, item_id, "We're on it.", "alice").state == POSTED
    assert [r.status for r in fake.served("/2/tweets")] == [201]
    assert len(fake.served("/2/oauth2/token")) == 1


def test_a_refresh_token_x_no_longer_takes_says_connect_again(env, fake):
    config, store, item_id = env
    fake.expire_access_tokens()
    with fake.lock:
        for g in fake.grants:
            g.revoked = True
    reply = send_reply(store, config, item_id, "We're on it.", "alice")
    assert reply.state == FAILED and reply.error_kind == "auth" and "overheard connect x" in reply.error


def test_tokens_are_encrypted_at_rest_and_never_in_errors(env, fake, backend):
    config, store, _ = env
    data = TokenStore(store, "OVERHEARD_TOKEN_KEY").load("x").data
    raw = stored_bytes(config.db_path)  # the SQLite file and its WAL, or every row on PostgreSQL
    ciphertext = store.scalar("SELECT ciphertext FROM reply_tokens WHERE platform = 'x'")
    assert (ciphertext.encode() if isinstance(ciphertext, str) else bytes(ciphertext)) in raw  # what is kept
    assert data["access_token"].encode() not in raw and data["refresh_token"].encode() not in raw
    if backend == "sqlite":
        assert oct(config.db_path.stat().st_mode & 0o777) == "0o600"
    from listener.masking import mask

    assert data["access_token"] not in mask(f"boom {data['access_token']}")


def test_not_connected_is_one_clear_refusal(env, fake):
    config, store, item_id = env
    TokenStore(store, "OVERHEARD_TOKEN_KEY").forget("x")
    with pytest.raises(UserError, match=r"^X is not connected: run `overheard connect x`$"):
        send_reply(store, config, item_id, "Hello", "alice")
    assert store.scalar("SELECT COUNT(*) FROM replies") == 0


def test_user_mistakes_store_nothing(env, fake):
    config, store, item_id = env
    with pytest.raises(UserError, match="empty"):
        send_reply(store, config, item_id, "   ", "alice")
    with pytest.raises(UserError, match="allows 280"):
        send_reply(store, config, item_id, "a" * 281, "alice")
    with pytest.raises(UserError, match="no such item"):
        send_reply(store, config, 999, "hello", "alice")
    add_user(store, "bob", "agent", "password-bob")
    Queue(store, config.queue).claim(item_id, "bob")
    with pytest.raises(UserError, match="claimed by bob"):
        send_reply(store, config, item_id, "hello", "alice")
    assert store.scalar("SELECT COUNT(*) FROM replies") == 0 and fake.served("/2/tweets") == []


def test_the_same_text_is_never_sent_twice(env, fake):
    config, store, item_id = env
    send_reply(store, config, item_id, "We're on it.", "alice")
    with pytest.raises(UserError, match="already posted"):
        send_reply(store, config, item_id, "We're on it.", "alice")
    assert len(fake.served("/2/tweets")) == 1


def test_a_crash_while_sending_is_never_re_sent(env, fake, monkeypatch):
    """The process dies after X took the post but before the answer was recorded."""
    config, store, item_id = env
    from alerts.replies import x as x_module

    real = x_module.XReplier.post_reply

    def dies_after_posting(self, mention, text):
        real(self, mention, text)
        raise KeyboardInterrupt  # stands for SIGKILL: nothing after the platform call runs

    monkeypatch.setattr(x_module.XReplier, "post_reply", dies_after_posting)
    with pytest.raises(KeyboardInterrupt):
        send_reply(store, config, item_id, "We're on it.", "alice")
    monkeypatch.undo()
    reply_env(monkeypatch)
    with Store(config.db_path) as fresh:  # after the restart
        [reply] = list_replies(fresh, item_id)
        assert reply.state == SENDING and not reply.unsure()  # a moment ago: maybe still on its way
        later = utcnow() + timedelta(minutes=3)
        assert reply.unsure(later) and "may have been posted" in reply.outcome(later)
        process(config, fresh, channels={})  # the pipeline never picks it up
        assert len(fake.served("/2/tweets")) == 1
        with pytest.raises(UserError, match="check on X first"):
            retry_reply(fresh, config, reply.id, "alice", now=later)
        assert len(fake.served("/2/tweets")) == 1
        assert get_reply(fresh, reply.id).state == SENDING


def test_x_counts_like_x():
    assert x_length("a" * 280) == 280
    assert x_length("see https://example.com/a/very/long/path/that/goes/on/and/on ok") == 4 + 23 + 3
    assert x_length("日本語") == 6 and x_length("😀") == 2


def test_a_killed_process_mid_post_leaves_may_have_been_posted_and_nothing_resends(env, fake, tmp_path):
    """SIGKILL the CLI while X holds its answer: the post exists on X, the attempt stays `sending`."""
    import os
    import signal
    import subprocess
    import sys

    config, store, item_id = env
    fake.hold_posts_s = 20  # X takes the post and is slow to answer
    command = [sys.executable, "-c", "from listener.cli import main; main()", "queue", "reply", str(item_id),
               "--text", "Engineers are on it.", "--as", "alice", "--config", str(config.path)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        assert fake.posted.wait(30), "the CLI never reached X"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        fake.hold_posts_s = 0
        if proc.poll() is None:
            proc.kill()
    assert len(fake.replies_to("outage-3")) == 1
    [reply] = list_replies(store, item_id)
    assert reply.state == SENDING
    later = utcnow() + timedelta(minutes=3)
    assert "may have been posted" in reply.outcome(later) and reply.can_retry(later)
    process(config, store, channels={})  # a restart and a pipeline pass: nothing resends it
    with pytest.raises(UserError, match="being sent right now"):
        retry_reply(store, config, reply.id, "alice")
    with pytest.raises(UserError, match="may have been posted: check on X first"):
        retry_reply(store, config, reply.id, "alice", now=later)
    assert len(fake.served("/2/tweets")) == 1 and len(fake.replies_to("outage-3")) == 1
