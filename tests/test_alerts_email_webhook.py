"""Email through smtplib to a real SMTP server (aiosmtpd) and the JSON webhook to a local receiver."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from alerts.outbox import deliver_pending
from alerts.rules import evaluate_pending
from listener.pipeline import build_channels
from listener.store import Store
from tests.alerts_support import HOSTILE_AUTHOR, HOSTILE_TEXT, alerts_config, put_thread
from tests.fakes_slack import WebhookReceiver
from tests.helpers import at


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    # aiosmtpd 1.4 cannot start on port 0 (its readiness check connects to the port it was given),
    # so ask the OS for a free port first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


def _email_config(tmp_path, port):
    return alerts_config(tmp_path, f"""
    [[alerts.receivers]]
    name = "support-mail"
    type = "email"
    host = "127.0.0.1"
    port = {port}
    starttls = false
    from_address = "overheard@brightwave.example"
    to = ["support@brightwave.example", "social@brightwave.example"]
    """, """
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    group_interval_minutes = 0
    receivers = ["support-mail"]
    """)


def _run(store, config, now):
    evaluate_pending(store, config, now)
    return deliver_pending(store, build_channels(config), now)


def test_email_has_plain_and_html_parts_with_hostile_text_escaped(tmp_path, smtp):
    config = _email_config(tmp_path, smtp.port)
    with Store(config.db_path) as store:
        put_thread(store, "x:evil", 80, text=HOSTILE_TEXT, author=HOSTILE_AUTHOR, title="line one\r\nBcc: a@b.c",
                   reasons=[HOSTILE_TEXT])
        assert _run(store, config, at(20, 12)).messages == 1
    (msg,) = smtp.messages
    assert smtp.envelopes[0] == ("overheard@brightwave.example",
                                 ["support@brightwave.example", "social@brightwave.example"])
    assert msg["Subject"].startswith("[overheard] CRITICAL · Brightwave on x: line one Bcc: a@b.c")
    assert msg["Bcc"] is None  # a title cannot smuggle headers
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert HOSTILE_TEXT in plain  # plain text says exactly what the customer wrote
    assert "<script>" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;@U123&gt;_&lt;b&gt;&amp;" in html and "<b>&" not in html
    assert "risk <strong>80</strong>/100" in html


def test_email_escalation_replies_to_the_first_email(tmp_path, smtp):
    config = _email_config(tmp_path, smtp.port)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        _run(store, config, at(20, 12))
        put_thread(store, "x:1", 80)
        _run(store, config, at(20, 13))
    first, second = smtp.messages
    assert second["In-Reply-To"] == first["Message-ID"]  # one conversation in the mail client
    assert "(was warning)" in second["Subject"]


def test_email_server_down_is_retried_later(tmp_path):
    config = _email_config(tmp_path, 1)  # nothing listens on port 1
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        report = _run(store, config, at(20, 12))
        assert report.failed == 1 and report.gave_up == 0
        assert "unreachable" in store.scalar("SELECT last_error FROM outbox")


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def _webhook_config(tmp_path, url, extra=""):
    return alerts_config(tmp_path, f"""
    [[alerts.receivers]]
    name = "zapier"
    type = "webhook"
    url = "{url}"
    token_env = "OVERHEARD_TEST_HOOK_TOKEN"
    {extra}

    [[alerts.receivers]]
    name = "local-file"
    type = "file"
    path = "alerts.jsonl"
    """, """
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    group_interval_minutes = 0
    receivers = ["zapier", "local-file"]
    """)


def test_webhook_json_carries_hostile_text_exactly_and_html_safe(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("OVERHEARD_TEST_HOOK_TOKEN", "s3cret")
    config = _webhook_config(tmp_path, receiver.url)
    with Store(config.db_path) as store:
        put_thread(store, "x:evil", 80, text=HOSTILE_TEXT, author=HOSTILE_AUTHOR, title=HOSTILE_TEXT,
                   reasons=[HOSTILE_TEXT])
        _run(store, config, at(20, 12))
    (req,) = receiver.received
    assert req.headers["authorization"] == "Bearer s3cret"
    assert req.headers["idempotency-key"] == "x:evil|threads|critical|zapier"
    assert b"<" not in req.body and b">" not in req.body  # \u003c: safe to paste into HTML
    doc = req.json
    assert doc["title"] == HOSTILE_TEXT and doc["mentions"][0]["author"] == HOSTILE_AUTHOR
    assert doc["mentions"][0]["text"] == HOSTILE_TEXT and doc["reasons"] == [HOSTILE_TEXT]
    assert doc["level"] == "critical" and doc["risk"] == 80 and doc["version"] == 1


def test_a_failing_webhook_never_blocks_the_other_receivers(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("OVERHEARD_TEST_HOOK_TOKEN", "s3cret")
    config = _webhook_config(tmp_path, receiver.url)
    receiver.fail(503, times=1)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        now = at(20, 12)
        report = _run(store, config, now)
        assert report.failed == 1 and report.messages == 1
        lines = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["slack"]["blocks"]  # the file also keeps Block Kit
        assert deliver_pending(store, build_channels(config), now + timedelta(seconds=31)).messages == 1
        assert deliver_pending(store, build_channels(config), now + timedelta(hours=1)).messages == 0
    assert len(receiver.received) == 1


def test_webhook_config_needs_exactly_one_url(tmp_path):
    from listener.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        alerts_config(tmp_path, """
        [[alerts.receivers]]
        name = "hook"
        type = "webhook"
        """)
    assert "alerts.receivers[0]" in str(info.value) and "set exactly one of url or url_env" in str(info.value)
