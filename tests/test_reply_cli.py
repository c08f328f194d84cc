"""`overheard queue reply --text/--saved`, approve/reject/retry/replies and `overheard connect x`, against the fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from alerts.replies import x_oauth
from alerts.replies.tokens import TokenStore
from alerts.users import add_user
from listener.cli import cli
from listener.config import load_config
from listener.pipeline import process
from listener.store import Store
from tests.fakes_replies.x import FakeXReplies
from tests.queue_support import angry_thread
from tests.reply_support import TOKEN_KEY, X_CLIENT, connect_x, reply_config, reply_env

SAVED = """
[[queue.saved_replies]]
name = "outage"
text = "Hi @{author}, sorry: {brand} engineers are on the outage now. Ref {ticket}."

[[queue.saved_replies]]
name = "outage"
lang = "de"
text = "Hallo @{author}, unser Team arbeitet an der Störung. Ref {ticket}."
"""
APPROVAL = """
[queue.reply_approval]
required_for = "agents"
"""


@pytest.fixture
def fake():
    with FakeXReplies(client_id=X_CLIENT) as f:
        for i in range(4):
            f.add_post(f"outage-{i}", "techwithjess")
        yield f


def _setup(tmp_path, monkeypatch, fake, extra=""):
    reply_env(monkeypatch)
    config = reply_config(tmp_path, x_url=fake.base_url, extra=extra)
    with Store(config.db_path) as store:
        angry_thread(store, "outage", author="techwithjess")
        process(config, store, channels={})
        connect_x(store, fake)
        add_user(store, "alice", "agent", "password-alice")
        add_user(store, "bob", "admin", "password-bob")
        item_id = store.scalar("SELECT id FROM queue_items")
    return config, item_id


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_reply_with_text_posts_and_prints_the_outcome(tmp_path, monkeypatch, fake):
    config, item_id = _setup(tmp_path, monkeypatch, fake)
    out = run("queue", "reply", item_id, "--text", "Sorry, we're fixing it now.", "--as", "alice", "--json",
              "--config", config.path)
    data = json.loads(out.output)
    assert data["state"] == "posted" and data["url"].startswith("https://x.com/Brightwave/status/")
    assert [p.text for p in fake.replies_to("outage-3")] == ["Sorry, we're fixing it now."]
    listed = json.loads(run("queue", "replies", item_id, "--json", "--config", config.path).output)
    assert [r["state"] for r in listed["replies"]] == ["posted"]
    shown = json.loads(run("queue", "show", item_id, "--json", "--config", config.path).output)
    assert shown["item"]["state"] == "replied"
    assert any(m["is_brand_account"] and m["text"] == "Sorry, we're fixing it now." for m in shown["mentions"])


def test_reply_without_text_still_only_marks_it(tmp_path, monkeypatch, fake):
    config, item_id = _setup(tmp_path, monkeypatch, fake)
    run("queue", "claim", item_id, "--as", "alice", "--config", config.path)
    run("queue", "reply", item_id, "--as", "alice", "--config", config.path)
    assert fake.served("/2/tweets") == []


@pytest.mark.parametrize("args, line", [
    (["--text", ""], "overheard: reply: the text is empty; write the answer (or pick a saved reply)"),
    (["--text", "x" * 300], "overheard: reply: 300 characters as X counts them; it allows 280 (shorten it by 20)"),
    (["--saved", "nope"], "overheard: saved reply 'nope': no such saved reply"),
    (["--text", "hi", "--saved", "outage"], "overheard: reply: give --text or --saved, not both"),
    (["--text", "hi", "--to", "424242"], "overheard: mention 424242: not in queue item"),
])
def test_user_mistakes_are_one_line_and_exit_2(tmp_path, monkeypatch, fake, args, line):
    config, item_id = _setup(tmp_path, monkeypatch, fake, SAVED)
    result = run("queue", "reply", item_id, *args, "--as", "alice", "--config", config.path, ok=False)
    assert result.exit_code == 2 and result.output.startswith(line) and len(result.output.splitlines()) == 1
    assert fake.served("/2/tweets") == []


def test_no_such_item_and_not_connected_exit_2(tmp_path, monkeypatch, fake):
    config, item_id = _setup(tmp_path, monkeypatch, fake)
    result = run("queue", "reply", 999, "--text", "hi", "--config", config.path, ok=False)
    assert result.exit_code == 2 and "queue item 999: no such item" in result.output
    with Store(config.db_path) as store:
        TokenStore(store, "OVERHEARD_TOKEN_KEY").forget("x")
    result = run("queue", "reply", item_id, "--text", "hi", "--config", config.path, ok=False)
    assert result.exit_code == 2 and result.output.strip() == "overheard: X is not connected: run `overheard connect x`"


def test_a_refusal_exits_1_with_its_reason_and_retry_is_by_hand(tmp_path, monkeypatch, fake):
    config, item_id = _setup(tmp_path, monkeypatch, fake)
    fake.delete("outage-3")
    result = run("queue", "reply", item_id, "--text", "Sorry!", "--as", "alice", "--config", config.path, ok=False)
    assert result.exit_code == 1 and "X refused it: the post was deleted" in result.output
    assert "overheard queue retry 1" in result.output
    fake.add_post("outage-3", "techwithjess")  # it is back (it was only hidden)
    data = json.loads(run("queue", "retry", 1, "--as", "alice", "--json", "--config", config.path).output)
    assert data["state"] == "posted" and data["retry_of"] == 1


def test_saved_reply_fills_placeholders_in_the_mentions_language(tmp_path, monkeypatch, fake):
    config, item_id = _setup(tmp_path, monkeypatch, fake, SAVED)
    data = json.loads(run("queue", "reply", item_id, "--saved", "outage", "--as", "alice", "--json",
                          "--config", config.path).output)
    expected = f"Hi @techwithjess-friend3, sorry: Brightwave engineers are on the outage now. Ref {item_id}."
    assert data["text"] == expected and data["saved_reply"] == "outage"
    with Store(config.db_path) as store:
        store.conn.execute("UPDATE mentions SET lang = 'de' WHERE native_id = 'outage-0'")
        first = store.scalar("SELECT id FROM mentions WHERE native_id = 'outage-0'")
    data = json.loads(run("queue", "reply", item_id, "--saved", "outage", "--to", first, "--as", "alice", "--json",
                          "--config", config.path).output)
    assert data["text"].startswith("Hallo @techwithjess, unser Team")


def test_an_agents_reply_waits_for_an_admin(tmp_path, monkeypatch, fake):
    config, item_id = _setup(tmp_path, monkeypatch, fake, APPROVAL)
    data = json.loads(run("queue", "reply", item_id, "--text", "We're on it.", "--as", "alice", "--json",
                          "--config", config.path).output)
    assert data["state"] == "awaiting_approval" and fake.served("/2/tweets") == []
    result = run("queue", "approve", data["id"], "--as", "alice", "--config", config.path, ok=False)
    assert result.exit_code == 2 and "only an admin can approve" in result.output
    done = json.loads(run("queue", "approve", data["id"], "--as", "bob", "--json", "--config", config.path).output)
    assert done["state"] == "posted" and done["approved_by"] == "bob" and done["author"] == "alice"
    # An admin's own reply does not wait; a rejected one is never posted.
    second = json.loads(run("queue", "reply", item_id, "--text", "Fixed now.", "--as", "alice", "--json",
                            "--config", config.path).output)
    rejected = json.loads(run("queue", "reject", second["id"], "--reason", "too curt", "--as", "bob", "--json",
                              "--config", config.path).output)
    assert rejected["state"] == "rejected" and len(fake.served("/2/tweets")) == 1
    own = json.loads(run("queue", "reply", item_id, "--text", "All fixed, thanks!", "--as", "bob", "--json",
                         "--config", config.path).output)
    assert own["state"] == "posted"


def test_connect_x_with_pkce_through_the_local_listener(tmp_path, monkeypatch, fake):
    reply_env(monkeypatch)
    port = _free_port()
    config = reply_config(tmp_path, x_url=fake.base_url, redirect_port=port)
    section = config.replies["x"]

    def browser(url: str) -> str:
        # The person approves: X redirects the browser to our one-shot listener on 127.0.0.1.
        worker = threading.Thread(target=lambda: requests.get(url, timeout=10), daemon=True)
        return x_oauth.listen_for_redirect(section.redirect_uri, 10, ready=worker.start)

    with Store(config.db_path) as store:
        account = x_oauth.connect(config, section, TokenStore(store, "OVERHEARD_TOKEN_KEY"), browser)
        assert account["username"] == "Brightwave"
        stored = TokenStore(store, "OVERHEARD_TOKEN_KEY").load("x")
        assert stored.account == "Brightwave" and stored.data["refresh_token"].startswith("ref-")
    exchange = fake.served("/2/oauth2/token")[0]
    assert exchange.params["grant_type"] == "authorization_code" and exchange.params["code_verifier"]


def test_connect_x_cli_with_a_pasted_url_never_prints_tokens(tmp_path, monkeypatch, fake):
    reply_env(monkeypatch)
    env = {**os.environ, "OVERHEARD_TOKEN_KEY": TOKEN_KEY, "X_CLIENT_ID": X_CLIENT}
    config = reply_config(tmp_path, x_url=fake.base_url)
    command = [sys.executable, "-c", "from listener.cli import main; main()", "connect", "x", "--paste",
               "--config", str(config.path)]
    proc = subprocess.Popen(command,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=Path(__file__).resolve().parent.parent)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(fake.base_url):
            break
    url = lines[-1].strip()
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    out, _ = proc.communicate(location + "\n", timeout=60)
    assert proc.returncode == 0, "".join(lines) + out
    assert "connected X as @Brightwave" in out
    with Store(config.db_path) as store:
        data = TokenStore(store, "OVERHEARD_TOKEN_KEY").load("x").data
    assert data["access_token"] not in "".join(lines) + out and data["refresh_token"] not in out


def test_connect_x_refused_or_replayed_is_one_line(tmp_path, monkeypatch, fake):
    reply_env(monkeypatch)
    config = reply_config(tmp_path, x_url=fake.base_url)
    section = config.replies["x"]
    fake.deny = True
    with Store(config.db_path) as store, pytest.raises(Exception, match="access_denied"):
        x_oauth.connect(config, section, TokenStore(store, "OVERHEARD_TOKEN_KEY"),
                        lambda url: requests.get(url, allow_redirects=False, timeout=10).headers["Location"])
    fake.deny = False
    with Store(config.db_path) as store, pytest.raises(Exception, match="state does not match"):
        x_oauth.connect(config, section, TokenStore(store, "OVERHEARD_TOKEN_KEY"),
                        lambda url: "http://127.0.0.1:8379/x/callback?state=forged&code=abc")
    monkeypatch.delenv("OVERHEARD_TOKEN_KEY")
    result = run("connect", "x", "--paste", "--config", config.path, ok=False)
    assert result.exit_code == 2 and "OVERHEARD_TOKEN_KEY is not set" in result.output


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_config_refuses_an_unknown_placeholder(tmp_path):
    from listener.config import ConfigError

    path = tmp_path / "overheard.toml"
    path.write_text('[[brands]]\nname = "B"\nkeywords = ["B"]\n[[queue.saved_replies]]\nname = "x"\n'
                    'text = "Hi {customer}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"queue.saved_replies\[0\].text: unknown placeholder \{customer\}"):
        load_config(path)


def test_doctor_says_when_x_is_not_connected_for_replies_and_ok_once_it_is(tmp_path, monkeypatch, fake):
    reply_env(monkeypatch)
    config = reply_config(tmp_path, x_url=fake.base_url)
    before = run("doctor", "--config", config.path, ok=False)
    assert before.exit_code == 1
    assert "replies.x" in before.output and "overheard connect x" in before.output
    with Store(config.db_path) as store:
        connect_x(store, fake)
    report = json.loads(run("doctor", "--json", "--config", config.path, ok=False).output)
    assert report["replies"] == [{"platform": "x", "enabled": True, "problems": []}]
    monkeypatch.delenv("X_CLIENT_ID")
    missing = json.loads(run("doctor", "--json", "--config", config.path, ok=False).output)
    assert missing["ok"] is False and "X_CLIENT_ID" in " ".join(missing["replies"][0]["problems"])
