"""RSS 2.0 and Atom documents shaped like Google Alerts, news sites and status pages."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from html import escape


def google_alert(query: str, entries: list[tuple[str, str, str, str, datetime]]) -> str:
    """An Atom feed as Google Alerts sends it: (id, title html, content html, article url, published)."""
    items = "".join(
        f"""<entry><id>tag:google.com,2013:googlealerts/feed:{eid}</id>
<title type="html">{escape(title)}</title>
<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url={escape(url)}&amp;ct=ga&amp;cd=CAIyGg&amp;usg=AOvVaw0"/>
<published>{when.strftime('%Y-%m-%dT%H:%M:%SZ')}</published><updated>{when.strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>
<content type="html">{escape(content)}</content><author><name></name></author></entry>"""
        for eid, title, content, url, when in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">
<id>tag:google.com,2005:reader/user/00000000000000000000/state/com.google/alerts/1234</id>
<title>Google Alert - {escape(query)}</title>
<link href="https://www.google.com/alerts/feeds/00000000000000000000/1234" rel="self"/>
<updated>2026-11-24T01:00:00Z</updated>{items}</feed>"""


def rss(title: str, items: list[dict[str, object]], language: str = "en-us") -> str:
    """An RSS 2.0 channel; each item may have guid, title, description, link, pubDate (datetime), author."""
    parts = []
    for it in items:
        fields = []
        if "guid" in it:
            fields.append(f"<guid isPermaLink=\"false\">{escape(str(it['guid']))}</guid>")
        for key in ("title", "description", "link", "author"):
            if key in it:
                fields.append(f"<{key}>{escape(str(it[key]))}</{key}>")
        if isinstance(it.get("pubDate"), datetime):
            fields.append(f"<pubDate>{format_datetime(it['pubDate'])}</pubDate>")
        parts.append("<item>" + "".join(fields) + "</item>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{escape(title)}</title><link>https://news.example/</link>
<description>News</description><language>{language}</language>{''.join(parts)}</channel></rss>"""
