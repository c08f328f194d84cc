"""Slack Block Kit for an alert: what happened, the top mentions, risk and reasons, links, buttons.

Every piece of user text goes through `mrkdwn_escape`, so a mention containing `<!channel>` or
`<@U123>` shows as text and pings nobody. The plain `text` fallback (notifications, old clients)
is escaped the same way because Slack parses it as mrkdwn too. The queue helper rebuilds a message
with `slack_message(alert, state=...)` when a button is clicked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from alerts.message import DIGEST_LINES, Alert, AlertMention
from sentiment.risk import fmt_count

# The queue controls come from the action list (alerts.actions): action_id "queue_<action>", and the
# item id first in every value. Claim and snooze are buttons (snooze's value carries its minutes, so the
# label and the effect are one number); resolve and dismiss are selects that ask for the outcome or
# reason, and Slack asks "are you sure?" (a Block Kit confirm object) before sending the choice.
DEFAULT_SNOOZE_MINUTES = 120  # [queue] snooze_minutes' default, for an alert built without it
QUEUE_FACTS_BLOCK_ID = "overheard_queue_facts"
_LEVEL_ICON = {"critical": ":red_circle:", "warning": ":large_orange_circle:"}
MAX_SECTION = 2900  # Slack rejects a section text over 3000 characters
MENTION_CHARS = 280


def mrkdwn_escape(text: str | None) -> str:
    """Escape &, < and > (in that order) so Slack shows the text as typed and parses no mention or link."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL made safe inside `<url|label>`; anything else (javascript:, junk) is dropped."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None
    return (url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
            .replace(" ", "%20"))[:2000]


def button_url(url: str | None) -> str | None:
    """An http(s) URL for a button's `url` field: characters outside the URL alphabet percent-encoded."""
    if not safe_url(url):
        return None
    return quote(url or "", safe=":/?#[]@!$&'()*+,;=%~")[:3000]


def link(url: str | None, label: str) -> str:
    """A mrkdwn link with an escaped label, or just the label when the URL is unusable."""
    safe = safe_url(url)
    return f"<{safe}|{mrkdwn_escape(label)}>" if safe else mrkdwn_escape(label)


def _quote(text: str) -> str:
    body = mrkdwn_escape(_truncate(" ".join(text.split()), MENTION_CHARS))
    return "> " + body


def _mention_block(m: AlertMention) -> dict[str, Any]:
    # truncate before escaping and keep the head short, so the link after it is never cut in half
    who = f"*@{mrkdwn_escape(_truncate(m.author.lstrip('@'), 60))}*" if m.author else "*someone*"
    facts = []
    if m.followers:
        facts.append(f"{fmt_count(m.followers)} {'members' if m.source == 'reddit' else 'followers'}")
    if m.verified:
        facts.append("verified")
    if m.complaints_before:
        facts.append(f"complained {m.complaints_before}x before")
    head = who + (f" ({', '.join(facts)})" if facts else "")
    if safe_url(m.url):
        head += " · " + link(m.url, "post")
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(head + "\n" + _quote(m.text),
                                                                          MAX_SECTION)}}


def _header_text(alert: Alert) -> str:
    where = " on ".join(x for x in (alert.brand, alert.source) if x)
    kind = {"thread": "Negative thread", "spike": "Negative spike", "sla": "SLA", "health": "Health"}.get(
        alert.kind, alert.kind.title())
    level = alert.level.title()
    if alert.previous_level:
        level = f"{alert.previous_level.title()} → {level}"
    # header blocks are plain_text (never parsed for mentions) and at most 150 characters
    return _truncate(f"{level} · {kind}" + (f" · {where}" if where else ""), 150)


def fallback_text(alert: Alert) -> str:
    """The plain `text` Slack shows in notifications; escaped because Slack parses it as mrkdwn."""
    if alert.kind == "digest":
        return _truncate(mrkdwn_escape(alert.title), 300)
    reasons = "; ".join(alert.reasons[:2])
    return _truncate(mrkdwn_escape(f"{alert.headline()} (risk {alert.risk:.0f}/100)"
                                   + (f" — {reasons}" if reasons else "")), 300)


def _buttons(alert: Alert) -> dict[str, Any] | None:
    elements: list[dict[str, Any]] = []
    post = button_url(alert.url)
    if post:
        elements.append({"type": "button", "action_id": "open_post", "url": post,
                         "text": {"type": "plain_text", "text": "Open post"}})
    queue_link = button_url(alert.queue_url)
    if queue_link:
        elements.append({"type": "button", "action_id": "open_queue_item", "url": queue_link,
                         "text": {"type": "plain_text", "text": "Queue item"}})
    if alert.queue_item_id is not None:
        elements.extend(queue_controls(alert.queue_item_id, alert.snooze_minutes or DEFAULT_SNOOZE_MINUTES))
    return {"type": "actions", "block_id": f"queue:{alert.queue_item_id or '-'}", "elements": elements} \
        if elements else None


def queue_controls(item_id: int, snooze_minutes: int) -> list[dict[str, Any]]:
    """Block Kit elements for the queue actions Slack offers (alerts.actions, surface "slack")."""
    from alerts import actions  # the action list imports the queue; a message without buttons needs neither

    out: list[dict[str, Any]] = []
    for action in actions.on(actions.SLACK):
        action_id = f"queue_{action.name}"
        choice = next((a for a in action.args if a.kind == "choice" and a.required), None)
        if choice is not None and choice.choices:
            element: dict[str, Any] = {
                "type": "static_select", "action_id": action_id,
                "placeholder": {"type": "plain_text", "text": f"{action.label_for_minutes(snooze_minutes)} as…"},
                "options": [{"text": {"type": "plain_text", "text": _truncate(text, 75)},
                             "value": f"{item_id}|{key}"} for key, text in list(choice.choices.items())[:100]],
            }
        else:
            value = f"{item_id}|{snooze_minutes}" if action.name == "snooze" else str(item_id)
            element = {"type": "button", "action_id": action_id, "value": value,
                       "text": {"type": "plain_text", "text": action.label_for_minutes(snooze_minutes)}}
            if action.style:
                element["style"] = action.style
        if action.confirm:
            element["confirm"] = {
                "title": {"type": "plain_text", "text": _truncate(f"{action.label_for_minutes(snooze_minutes)} "
                                                                  f"queue item {item_id}?", 100)},
                "text": {"type": "plain_text", "text": _truncate(action.confirm, 300)},
                "confirm": {"type": "plain_text", "text": _truncate(action.label_for_minutes(snooze_minutes), 30)},
                "deny": {"type": "plain_text", "text": "Cancel"},
                **({"style": "danger"} if action.style == "danger" else {}),
            }
        out.append(element)
    return out


def _slack_date(value: str | None, token: str, fallback: str) -> str | None:
    """`<!date^…>`: Slack shows the time in each reader's own zone (and `{ago}` stays current)."""
    from datetime import datetime

    if not value:
        return None
    try:
        stamp = int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None
    return f"<!date^{stamp}^{token}|{mrkdwn_escape(fallback)}>"


def queue_facts_text(alert: Alert) -> str:
    """`thread started 3 hours ago · first response due today 14:05 · assigned to ana` (mrkdwn)."""
    return facts_text(alert.started_at, alert.sla_target, alert.sla_due, alert.assignee,
                      queued=alert.queue_item_id is not None)


def facts_text(started_at: str | None, sla_target: str | None, sla_due: str | None, assignee: str | None, *,
               queued: bool = True) -> str:
    """The facts line from its parts (also rebuilt by alerts.slack_actions after a click)."""
    parts = []
    started = _slack_date(started_at, "thread started {ago}", f"thread started {started_at} UTC")
    if started:
        parts.append(started)
    due = _slack_date(sla_due, f"{sla_target or 'SLA'} due {{date_short_pretty}} {{time}}",
                      f"{sla_target or 'SLA'} due {sla_due} UTC")
    if due:
        parts.append(due)
    if queued:
        parts.append(f"assigned to *{mrkdwn_escape(assignee)}*" if assignee else "nobody assigned yet")
    return " · ".join(parts)


def _digest_blocks(alert: Alert) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _truncate(alert.title, 150)}},
    ]
    if alert.note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(alert.note)}]})
    lines = []
    for g in alert.grouped[:DIGEST_LINES]:
        title = link(g.url, _truncate(g.title, 120)) if safe_url(g.url) else mrkdwn_escape(_truncate(g.title, 120))
        line = f"{_LEVEL_ICON.get(g.level, ':white_circle:')} *{mrkdwn_escape(g.level)}* · risk {g.risk:.0f} · " \
               f"{mrkdwn_escape(g.brand or '')} {mrkdwn_escape(g.source or '')}: {title}"
        if g.reasons:
            line += f" — {mrkdwn_escape(_truncate(g.reasons[0], 200))}"
        if safe_url(g.queue_url):
            line += " · " + link(g.queue_url, "queue item")
        lines.append(line)
    if len(alert.grouped) > DIGEST_LINES:
        lines.append(f"…and {len(alert.grouped) - DIGEST_LINES} more")
    chunk = ""
    for line in lines:  # split into sections under Slack's 3000-character limit
        if len(chunk) + len(line) + 1 > MAX_SECTION and chunk:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
            chunk = ""
        chunk += ("\n" if chunk else "") + _truncate(line, MAX_SECTION)
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    return blocks


def slack_blocks(alert: Alert, state: str | None = None) -> list[dict[str, Any]]:
    """The Block Kit blocks of `alert`. `state` (e.g. "claimed by Ana") is shown when the queue updates it."""
    if alert.kind == "digest":
        return _digest_blocks(alert)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header_text(alert)}},
    ]
    summary = f"{_LEVEL_ICON.get(alert.level, ':white_circle:')} *{mrkdwn_escape(_truncate(alert.title, 300))}*"
    if alert.kind in ("thread", "spike"):
        summary += f"\nEscalation risk *{alert.risk:.0f}*/100" if alert.kind == "thread" else ""
    if alert.reasons:
        summary += "\n*Why:*\n" + "\n".join(f"• {mrkdwn_escape(r)}" for r in alert.reasons[:6])
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _truncate(summary, MAX_SECTION)}})
    drivers = _explanation_text(alert)
    if drivers:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _truncate(drivers, MAX_SECTION)}})
    if alert.mentions:
        blocks.append({"type": "divider"})
        blocks.extend(_mention_block(m) for m in alert.mentions[:3])
    context = [f"rule *{mrkdwn_escape(alert.rule)}*"]
    if alert.thread_key:
        context.append(f"thread `{mrkdwn_escape(alert.thread_key)}`")
    if alert.note:
        context.append(mrkdwn_escape(alert.note))
    if state:
        context.append(mrkdwn_escape(state))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(" · ".join(context),
                                                                                          MAX_SECTION)}]})
    facts = queue_facts_text(alert)
    if facts:
        blocks.append({"type": "context", "block_id": QUEUE_FACTS_BLOCK_ID,
                       "elements": [{"type": "mrkdwn", "text": _truncate(facts, MAX_SECTION)}]})
    actions = _buttons(alert)
    if actions:
        blocks.append(actions)
    return blocks


def _explanation_text(alert: Alert) -> str:
    """A spike's "what drove it" (listener.topics.explain) as mrkdwn, with the model's summary if any."""
    found = alert.explanation or {}
    lines = found.get("lines") or []
    if not lines:
        return ""
    text = "*What drove it:*\n" + "\n".join(f"• {mrkdwn_escape(_truncate(line, 400))}" for line in lines[:8])
    if found.get("summary"):
        text = f"_Summary (language model):_ {mrkdwn_escape(_truncate(found['summary'], 600))}\n" + text
    return text


def slack_message(alert: Alert, state: str | None = None) -> dict[str, Any]:
    """`{"text": fallback, "blocks": [...]}`: the arguments of chat.postMessage / chat.update / a webhook."""
    return {"text": fallback_text(alert), "blocks": slack_blocks(alert, state)}


def escalation_reply(alert: Alert) -> str:
    """The threaded reply posted under the first message when a thread's risk rises."""
    was = f" (was {alert.previous_level})" if alert.previous_level else ""
    text = f"Risk rose to *{alert.risk:.0f}*/100, now *{mrkdwn_escape(alert.level)}*{was}."
    if alert.reasons:
        text += " " + "; ".join(mrkdwn_escape(r) for r in alert.reasons[:3])
    return _truncate(text, MAX_SECTION)
