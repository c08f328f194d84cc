"""The report mailed on a schedule through an email receiver, to a real SMTP server (aiosmtpd):
once per send time, skipped when long past, and the daemon plans the job only when it is on."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller

from listener.config import load_config
from listener.report_email import last_send_time, send_due_report
from listener.store import Store
from tests.helpers import write_config


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.rcpt: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        self.rcpt.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd 1.4 cannot start on port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def config_for(tmp_path, port: int, enabled: bool = True):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return load_config(write_config(tmp_path, f"""
    [[alerts.receivers]]
    name = "mail"
    type = "email"
    host = "127.0.0.1"
    port = {port}
    starttls = false
    from_address = "overheard@example.org"
    to = ["support@example.org"]

    [trends]
    timezone = "Europe/London"

    [report_email]
    enabled = {"true" if enabled else "false"}
    receiver = "mail"
    to = ["marketing@example.org", "cmo@example.org"]
    every = "monday"
    hour = 8
    since = "7d"
    """))


MONDAY_9 = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)  # 09:05 in London (GMT): after Monday 08:00


def test_send_time_is_the_last_scheduled_local_hour(tmp_path) -> None:
    config = config_for(tmp_path, 25)
    assert last_send_time(config, MONDAY_9).isoformat() == "2026-11-30T08:00:00+00:00"
    sunday = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    assert last_send_time(config, sunday).isoformat() == "2026-11-23T08:00:00+00:00"


def test_report_is_mailed_once_per_send_time(tmp_path, smtp: Inbox) -> None:
    config = config_for(tmp_path, smtp.port)
    with Store(config.db_path) as store:
        assert send_due_report(config, store, MONDAY_9) is True
        assert send_due_report(config, store, MONDAY_9 + timedelta(minutes=5)) is False  # same send time
        assert send_due_report(config, store, MONDAY_9 + timedelta(days=3)) is False  # nothing new is due
        assert send_due_report(config, store, MONDAY_9 + timedelta(days=7)) is True  # next Monday
    assert len(smtp.messages) == 2
    msg = smtp.messages[0]
    assert smtp.rcpt[0] == ["marketing@example.org", "cmo@example.org"]
    assert "what customers said" in msg["Subject"] and "Brightwave" in msg["Subject"]
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert html.startswith("<!doctype html>") and "<script" not in html
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["report.html"]
    assert msg["Message-ID"] != smtp.messages[1]["Message-ID"]


def test_a_long_missed_send_time_is_skipped_not_sent_late(tmp_path, smtp: Inbox) -> None:
    config = config_for(tmp_path, smtp.port)
    with Store(config.db_path) as store:
        assert send_due_report(config, store, MONDAY_9 + timedelta(days=1)) is False  # Tuesday: too late
        assert send_due_report(config, store, MONDAY_9 + timedelta(days=7)) is True
    assert len(smtp.messages) == 1


def test_smtp_down_means_retry_later(tmp_path, smtp: Inbox) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    config = config_for(tmp_path, closed)
    with Store(config.db_path) as store:
        with pytest.raises(OSError):
            send_due_report(config, store, MONDAY_9)
        ok = config_for(tmp_path / "again", smtp.port)
        assert send_due_report(ok, store, MONDAY_9 + timedelta(minutes=5)) is True  # not marked: sent now


def test_daemon_plans_the_job_only_when_on(tmp_path) -> None:
    from listener.scheduler import Daemon

    on = Daemon(config_for(tmp_path / "on", 25))
    off = Daemon(config_for(tmp_path / "off", 25, enabled=False))
    assert "report_email" in {s.job_id for s in on.plan()}
    assert "report_email" not in {s.job_id for s in off.plan()}
