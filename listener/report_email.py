"""The report, mailed on a schedule ([report_email]): the daemon's `report_email` job checks every few
minutes whether a send time has passed (a weekday or every day, at a local hour of
[trends].timezone) and mails the report once for it, through the SMTP settings of an email receiver
of [[alerts.receivers]].

The report goes as the HTML body (it is one self-contained file: mail clients show it as it is) and
as an attachment `report.html` (to forward, or open in a browser). The send time it was mailed for is
kept in the store (table report_emails), after the SMTP server took the message: a crash between the two can
mail one report twice, never skip one. A send time more than GRACE in the past (the daemon was down)
is skipped, not mailed late; the next one goes out as usual.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from zoneinfo import ZoneInfo

from listener.config import Config
from listener.errors import UserError
from listener.models import iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.report_email")

GRACE = timedelta(hours=12)
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def last_send_time(config: Config, now: datetime) -> datetime:
    """The latest scheduled send time at or before `now` (aware, in the reporting zone)."""
    cfg = config.report_email
    local = now.astimezone(ZoneInfo(config.trends.timezone))
    at = local.replace(hour=cfg.hour, minute=0, second=0, microsecond=0)
    while at > local or (cfg.every != "daily" and WEEKDAYS[at.weekday()] != cfg.every):
        at = (at - timedelta(days=1)).replace(hour=cfg.hour)  # replace again: a DST change moves the hour
    return at


def _receiver(config: Config):
    name = config.report_email.receiver
    for r in config.receivers:
        if r.name == name:
            if getattr(r, "type", "") != "email":
                raise UserError(f"[report_email].receiver: {name!r} is a {r.type} receiver, not an email one")
            return r
    raise UserError(f"[report_email].receiver: no receiver named {name!r} in [[alerts.receivers]]")


def build_message(config: Config, html: str, since: datetime, until: datetime, slot: datetime) -> EmailMessage:
    receiver = _receiver(config)
    cfg = config.report_email
    tz = ZoneInfo(config.trends.timezone)
    fields = {"brands": ", ".join(config.brand_names()), "since": since.astimezone(tz).strftime("%d %b"),
              "until": until.astimezone(tz).strftime("%d %b")}
    try:
        subject = cfg.subject.format_map(fields)
    except (KeyError, ValueError, IndexError):  # an unknown {name}: the template as written, not a crash
        subject = cfg.subject
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())[:200]
    msg["From"] = receiver.from_address
    msg["To"] = ", ".join(cfg.to or receiver.to)
    msg["Date"] = formatdate(localtime=False)
    domain = receiver.from_address.rsplit("@", 1)[-1].strip("> ") or "overheard.local"
    msg["Message-ID"] = make_msgid(idstring=f"report-{slot:%Y%m%d%H}", domain=domain)
    msg.set_content(f"{subject}\n\nThe report is the HTML part of this message, and attached as report.html "
                    "(open it in a browser; it makes no request).\n")
    msg.add_alternative(html, subtype="html")
    msg.add_attachment(html.encode("utf-8"), maintype="text", subtype="html", filename="report.html")
    return msg


def _send(config: Config, msg: EmailMessage) -> None:
    c = _receiver(config)
    password = os.environ.get(c.password_env, "") if c.password_env else ""
    if c.password_env and not password:
        raise UserError(f"environment variable {c.password_env} (the SMTP password) is not set")
    from alerts.channels.email import smtp_send

    smtp_send(c, msg, password)


def send_due_report(config: Config, store: Store, now: datetime | None = None) -> bool:
    """Mail the report if a send time has passed since the last one mailed; True when it was sent."""
    from listener.trends.report import report_html
    from listener.trends.since import parse_duration

    cfg = config.report_email
    if not cfg.enabled:
        return False
    now = now or utcnow()
    slot = last_send_time(config, now)
    key = iso(slot)
    done = store.scalar("SELECT MAX(send_time) FROM report_emails")
    if done is not None and done >= key:
        return False
    if now - slot > GRACE:
        log.warning("report email: the send time %s passed %s ago (daemon down?); skipped, next one as usual",
                    key, now - slot)
        _mark(store, key, sent=False)
        return False
    since = now - parse_duration(cfg.since or config.trends.report_since)
    html = report_html(config, store, since, now)
    _send(config, build_message(config, html, since, now, slot))
    _mark(store, key)
    log.info("report email: mailed the report for %s", key)
    return True


def _mark(store: Store, key: str, sent: bool = True) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO report_emails (send_time, sent, at) VALUES (?, ?, ?)",
                     (key, int(sent), iso(utcnow())))
