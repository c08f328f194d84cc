"""Slack buttons on alert messages: claim, snooze, resolve, dismiss a queue item from Slack.

Slack POSTs each click to the interactivity URL (`/slack/actions`) as a form field `payload=<json>`,
signed with the app's signing secret. Unsigned, stale (over 5 minutes) or tampered requests are
refused before anything is read. A signed request is carried out once: its signature and the click
itself (user, button, action_ts) are remembered in the store for REMEMBER, longer than the 5 minutes
a signature stays valid, so a replay (or Slack delivering the same click twice) is answered 200 and
does nothing. A click runs the same `Queue` action as the web UI and CLI, under
the name of the user whose Slack id is on file (`overheard users add NAME --slack-id U…`), or
`slack:<username>` otherwise; then the alert message is replaced, via the payload's response_url,
with one that says who did what.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from alerts import actions
from alerts.queue import Queue
from alerts.slack_format import QUEUE_FACTS_BLOCK_ID, facts_text
from alerts.users import user_for_slack
from listener.config import Config
from listener.errors import UserError
from listener.models import iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.slack")

# Slack action_id -> the queue action (alerts.actions): "queue_" + the action's name.
ACTION_PREFIX = "queue_"
STATUS_BLOCK_ID = "overheard_queue_status"
MAX_BODY = 64 * 1024
REMEMBER = timedelta(minutes=10)  # Slack's 5-minute signature window, plus clock skew


@dataclass
class SlackReply:
    """What the endpoint answers, and the message to send to response_url afterwards (if any)."""

    status: int
    text: str = ""
    response_url: str | None = None
    followup: dict[str, Any] | None = None
    security_event: str | None = None  # slack_bad_signature | slack_replay | body_too_large: logged by the caller


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters, so a name or note cannot ping a channel or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def verify(signing_secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """True only for a request Slack signed within the last five minutes."""
    try:
        return SignatureVerifier(signing_secret).is_valid_request(body, dict(headers))
    except (ValueError, UnicodeDecodeError):
        return False  # a timestamp that is not a number, a body that is not text


def handle(store: Store, config: Config, signing_secret: str | None, body: bytes, headers: Mapping[str, str],
           now: datetime | None = None) -> SlackReply:
    """Verify and carry out one button click; never raises for anything a request can contain."""
    if not signing_secret:
        return SlackReply(503, "Slack interactivity is not configured: set the signing secret "
                               f"([web] slack_signing_secret_env = {config.web.slack_signing_secret_env})")
    if len(body) > MAX_BODY:
        return SlackReply(413, "request too large", security_event="body_too_large")
    if not verify(signing_secret, body, headers):
        return SlackReply(401, "invalid or stale Slack signature", security_event="slack_bad_signature")
    try:
        payload = json.loads(parse_qs(body.decode("utf-8"))["payload"][0])
        action = payload["actions"][0]
        action_id = str(action["action_id"])
        item_id, choice = click_value(action)
        user = payload["user"]
        slack_id = str(user["id"])
    except (KeyError, IndexError, TypeError, ValueError, UnicodeDecodeError, json.JSONDecodeError):
        return SlackReply(400, "malformed Slack payload: expected payload={actions: [{action_id, value}], user}")
    response_url = payload.get("response_url")
    keys = [f"signature:{_header(headers, 'x-slack-signature')}",
            f"click:{slack_id}|{action_id}|{action.get('action_ts')}|{item_id}"]
    if not first_time(store, keys):
        return SlackReply(200, "", security_event="slack_replay")
    declared = slack_action(action_id)
    if declared is None:
        return SlackReply(200, "", response_url, _ephemeral(f"overheard does not know the button {action_id!r}"))
    known = user_for_slack(store, slack_id)
    if known and known.disabled:
        return SlackReply(200, "", response_url, _ephemeral(f"Your overheard account {known.name} is disabled."))
    if known is None and config.web.slack_require_known_users:
        return SlackReply(200, "", response_url, _ephemeral(
            f"Your Slack account is not linked to an overheard user; ask an admin to run "
            f"`overheard users add NAME --slack-id {slack_id}`."))
    actor = known.name if known else f"slack:{user.get('username') or user.get('name') or slack_id}"
    queue = Queue(store, config.queue)
    now = now or utcnow()
    try:
        values = click_arguments(declared, choice)
        item = actions.perform(queue, declared.name, item_id, actor, values)
    except UserError as exc:
        return SlackReply(200, "", response_url, _ephemeral(f"Could not do that: {exc}"))
    did = declared.past
    when = f"<!date^{int(now.timestamp())}^{{time}}|{now:%H:%M} UTC>"
    extra = f" until <!date^{int(datetime.fromisoformat(item.snoozed_until).timestamp())}" \
            f"^{{date_short_pretty}} {{time}}|{item.snoozed_until}>" \
        if declared.name == "snooze" and item.snoozed_until else ""
    if declared.name in ("resolve", "dismiss"):
        arg = declared.arg("outcome" if declared.name == "resolve" else "reason")
        value = (item.outcome if declared.name == "resolve" else item.dismiss_reason) or ""
        extra = f" as {mrkdwn_escape((arg.choices or {}).get(value, value))}"
    status = f":white_check_mark: *{mrkdwn_escape(actor)}* {did} queue item {item.id}{extra} at {when}"
    link = f"{config.alerts.queue_url.rstrip('/')}/items/{item.id}"
    status += f" · <{link}|open in the queue>"
    message = payload.get("message") or {}
    blocks = _updated_blocks(message.get("blocks") or [], item_id, declared.name, status)
    blocks = _refresh_facts(store, blocks, item)
    text = f"{actor} {did} queue item {item.id}"
    return SlackReply(200, "", response_url, {"replace_original": True, "text": text, "blocks": blocks})


def slack_action(action_id: str) -> actions.Action | None:
    """The queue action behind a Slack action_id (queue_claim -> claim), if Slack may run it."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    try:
        declared = actions.get(action_id[len(ACTION_PREFIX):])
    except UserError:
        return None
    return declared if actions.SLACK in declared.surfaces else None


def click_value(action: Mapping[str, Any]) -> tuple[int, str | None]:
    """(item id, what was picked) from one element of a block_actions payload.

    A button's value is "ITEM" or "ITEM|CHOICE" (the snooze button carries its minutes, so its label
    and its effect are the same number); a static_select's picked option is "ITEM|CHOICE".
    """
    if action.get("type") == "static_select" or "selected_option" in action:
        value = str(action["selected_option"]["value"])
    else:
        value = str(action["value"])
    item, _, choice = value.partition("|")
    return int(item), choice or None


def click_arguments(declared: actions.Action, choice: str | None) -> dict[str, Any]:
    """The action's arguments from what the click carried."""
    if declared.name == "snooze":
        return {"for_": f"{int(choice)}m"} if choice and choice.isdigit() else {}
    if declared.name in ("resolve", "dismiss"):
        name = "outcome" if declared.name == "resolve" else "reason"
        # A Resolve/Dismiss *button* from a message posted before the outcome select existed carries no
        # choice: recorded as it always was ("other" / "no action"), so old alerts keep working.
        default = "other" if declared.name == "resolve" else "no_action"
        return {name: choice or default, "note": f"{declared.past} from Slack"}
    return {}


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def first_time(store: Store, keys: list[str]) -> bool:
    """Remember `keys` as handled; False when any of them was handled already (atomically, across processes)."""
    now = utcnow()
    with store.transaction() as conn:
        conn.execute("DELETE FROM slack_requests WHERE handled_at < ?", (iso(now - REMEMBER),))
        if any(conn.execute("SELECT 1 FROM slack_requests WHERE key = ?", (key,)).fetchone() for key in keys):
            return False
        conn.executemany("INSERT INTO slack_requests (key, handled_at) VALUES (?, ?)", [(k, iso(now)) for k in keys])
    return True


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "replace_original": False, "text": mrkdwn_escape(text)}


def _refresh_facts(store: Store, blocks: list[dict[str, Any]], item: Any) -> list[dict[str, Any]]:
    """The message's age / SLA due / assignee line, as the item stands after the click."""
    target, due = item.next_target()
    started = store.scalar("SELECT first_at FROM threads WHERE thread_key = ?", (item.thread_key,))
    text = facts_text(started, target or None, due, item.assignee)
    return [{"type": "context", "block_id": QUEUE_FACTS_BLOCK_ID, "elements": [{"type": "mrkdwn", "text": text}]}
            if isinstance(b, dict) and b.get("block_id") == QUEUE_FACTS_BLOCK_ID else b for b in blocks]


def _ours(element: dict[str, Any], block: dict[str, Any], item_id: int) -> bool:
    """A queue control of this item: a button whose value starts with the id, or a select in its block."""
    if not str(element.get("action_id", "")).startswith(ACTION_PREFIX):
        return False
    value = str(element.get("value", "")).partition("|")[0]
    return value == str(item_id) or block.get("block_id") == f"queue:{item_id}"


def _updated_blocks(blocks: list[dict[str, Any]], item_id: int, did: str, status: str) -> list[dict[str, Any]]:
    """The alert's blocks with one status line (replacing an earlier one); controls that no longer apply go.

    `did` is the action's name (claim, snooze, resolve, dismiss).
    """
    out: list[dict[str, Any]] = []
    for block in blocks:
        if not isinstance(block, dict) or block.get("block_id") == STATUS_BLOCK_ID:
            continue
        if block.get("type") == "actions":
            elements = [e for e in block.get("elements", []) if isinstance(e, dict)]
            ours = [e for e in elements if _ours(e, block, item_id)]
            if ours:
                if did in ("resolve", "dismiss"):
                    elements = [e for e in elements if e not in ours]
                elif did == "claim":
                    elements = [e for e in elements if e.get("action_id") != "queue_claim" or e not in ours]
                if not elements:
                    continue
                block = {**block, "elements": elements}
        out.append(block)
    out.append({"type": "context", "block_id": STATUS_BLOCK_ID, "elements": [{"type": "mrkdwn", "text": status}]})
    return out


def send_followup(response_url: str, message: dict[str, Any]) -> bool:
    """Post the updated message (or an ephemeral error) to Slack's response_url; True when Slack took it."""
    client = WebhookClient(response_url, timeout=10)
    resp = client.send_dict(message)
    if resp.status_code != 200:
        log.warning("Slack response_url answered %s: %s", resp.status_code, resp.body[:200])
        return False
    return True
