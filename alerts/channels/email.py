"""Email over SMTP: a plain-text part and an HTML part, every piece of user text HTML-escaped.

Escalations of the same thread reply to the first email (In-Reply-To/References), so mail clients
show one conversation. The reference kept in the outbox is the Message-ID.
"""

from __future__ import annotations

import hashlib
import html
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from pydantic import Field, field_validator

from alerts.channels.base import Channel, ChannelConfig, DeliveryError
from alerts.message import DIGEST_LINES, Alert


class EmailConfig(ChannelConfig):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    from_address: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    username: str = ""
    password_env: str = ""  # environment variable holding the SMTP password
    starttls: bool = True  # upgrade the connection with STARTTLS (port 587)
    ssl: bool = False  # implicit TLS from the start (port 465)
    timeout_s: int = Field(default=20, ge=1, le=120)
    subject_prefix: str = "[overheard]"

    @field_validator("to")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for v in values:
            if "@" not in v or any(c in v for c in "\r\n,;<>"):
                raise ValueError(f"{v!r} is not one email address")
        return values


def _one_line(text: str, limit: int = 180) -> str:
    flat = " ".join(text.split())  # no CR/LF: a subject must not smuggle headers
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def message_id(idem_key: str, from_address: str) -> str:
    domain = from_address.rsplit("@", 1)[-1].strip("> ") or "overheard.local"
    return f"<{hashlib.sha256(idem_key.encode()).hexdigest()[:32]}@{domain}>"


def _link(url: str | None, label: str) -> str:
    if not url or not url.lower().startswith(("http://", "https://")):
        return html.escape(label)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def alert_html(alert: Alert) -> str:
    """The HTML body; every value is escaped."""
    e = html.escape
    parts = [f"<h2>{e(alert.headline())}</h2>"]
    if alert.note:
        parts.append(f"<p><em>{e(alert.note)}</em></p>")
    if alert.kind == "digest":
        parts.append("<ul>")
        for g in alert.grouped[:DIGEST_LINES]:
            why = f" — {e(g.reasons[0])}" if g.reasons else ""
            parts.append(f"<li><strong>{e(g.level)}</strong> risk {g.risk:.0f} · {e(g.brand or '')} "
                         f"{e(g.source or '')}: {_link(g.url, g.title)}{why} {_link(g.queue_url, 'queue item')}</li>")
        parts.append("</ul>")
        if len(alert.grouped) > DIGEST_LINES:
            parts.append(f"<p>…and {len(alert.grouped) - DIGEST_LINES} more</p>")
        return "\n".join(parts)
    if alert.kind == "thread":
        parts.append(f"<p>Escalation risk <strong>{alert.risk:.0f}</strong>/100</p>")
    if alert.reasons:
        parts.append("<ul>" + "".join(f"<li>{e(r)}</li>" for r in alert.reasons) + "</ul>")
    if alert.explanation.get("lines"):  # a spike: what drove it (listener.topics)
        parts.append("<p><strong>What drove it:</strong></p><ul>"
                     + "".join(f"<li>{e(r)}</li>" for r in alert.explanation["lines"]) + "</ul>")
    for m in alert.mentions[:3]:
        who = f"@{m.author}" if m.author else "someone"
        reach = f" ({m.followers:,} followers)" if m.followers else ""
        parts.append(f"<blockquote><strong>{e(who)}</strong>{e(reach)} {_link(m.url, 'post')}<br>"
                     f"{e(m.text)}</blockquote>")
    links = [x for x in (_link(alert.url, "Open the post") if alert.url else "",
                         _link(alert.queue_url, "Open the queue item") if alert.queue_url else "") if x]
    if links:
        parts.append("<p>" + " · ".join(links) + "</p>")
    return "\n".join(parts)


class EmailChannel(Channel):
    Config = EmailConfig
    config: EmailConfig

    def build(self, alert: Alert, idem_key: str, previous_ref: str | None) -> EmailMessage:
        c = self.config
        msg = EmailMessage()
        msg["Subject"] = _one_line(f"{c.subject_prefix} {alert.headline()}".strip())
        msg["From"] = c.from_address
        msg["To"] = ", ".join(c.to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id(idem_key, c.from_address)
        msg["X-Overheard-Alert"] = _one_line(idem_key, 300)
        if previous_ref and previous_ref.startswith("<"):
            msg["In-Reply-To"] = previous_ref
            msg["References"] = previous_ref
        msg.set_content(alert.plain_text())
        msg.add_alternative(f"<html><body>{alert_html(alert)}</body></html>", subtype="html")
        return msg

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        c = self.config
        msg = self.build(alert, idem_key, previous_ref)
        password = os.environ.get(c.password_env, "") if c.password_env else ""
        if c.password_env and not password:
            raise DeliveryError(f"environment variable {c.password_env} (the SMTP password) is not set")
        try:
            smtp_send(c, msg, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused for {c.username!r}: {exc.smtp_code}", permanent=True) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP refused the recipients {sorted(exc.recipients)}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            # 4xx: try later; 5xx: the server will never take it
            raise DeliveryError(f"SMTP error {exc.smtp_code}: {exc.smtp_error!r}"[:300],
                                permanent=500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP server {c.host}:{c.port} unreachable: {exc}") from None
        return str(msg["Message-ID"])


def smtp_send(c: Any, msg: Any, password: str) -> None:
    """Send `msg` through the SMTP server of email receiver config `c` (SSL or STARTTLS, login if set)."""
    if c.ssl:
        server: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s,
                                                context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
    with server:
        if c.starttls and not c.ssl:
            server.starttls(context=ssl.create_default_context())
        if c.username:
            server.login(c.username, password)
        server.send_message(msg)
