"""Slack bot token: chat.postMessage, then one Slack thread per conversation.

When a thread that already alerted rises to a higher level, the first message is updated in place
(chat.update) and, by default, a threaded reply says what changed — so a conversation never
becomes a new alert per reply. The reference kept in the outbox is "CHANNEL_ID:TS", which the
queue also uses to update the message when someone clicks Claim or Resolve.

Exactly once across crashes: every post carries Slack message metadata with the alert's
idempotency key. chat.postMessage has no idempotency key of its own, so when the outbox finds a
row that began sending but was never marked delivered (the process died in between), find_sent
reads the channel's recent history (or the thread's replies) around the sending mark and, if a
message carries that key, the row is marked delivered with it instead of posting again.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from alerts.channels.base import Channel, ChannelConfig, DeliveryError, retry_after_seconds
from alerts.message import Alert
from alerts.slack_format import escalation_reply, slack_message

log = logging.getLogger("overheard.alerts")
METADATA_EVENT = "overheard_alert"  # the event_type of our message metadata
LOOKUP_PAGES = 2  # a restart reads at most this many pages of history per message it is unsure of
LOOKUP_PAGE_SIZE = 200
CLOCK_MARGIN_S = 300  # our clock and Slack's may differ: look this much before and after the mark
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")

# Errors that will not go away by retrying: the config or the Slack app must change.
PERMANENT = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "channel_not_found",
             "not_in_channel", "is_archived", "missing_scope", "invalid_blocks", "msg_too_long",
             "no_text", "restricted_action", "team_access_not_granted"}


class SlackBotConfig(ChannelConfig):
    token_env: str = Field(min_length=1)  # environment variable holding the xoxb- bot token
    channel: str = Field(min_length=1)  # channel ID (C0123...) or name (#support-alerts)
    # update: edit the first message; reply: threaded reply only; update_and_reply: both
    on_escalation: Literal["update", "reply", "update_and_reply"] = "update_and_reply"
    # Post escalation replies to the channel too (reply_broadcast), so critical ones are seen.
    broadcast_escalations: bool = False
    base_url: str = "https://slack.com/api/"  # Slack's Web API; change only for a proxy or tests
    timeout_s: int = Field(default=10, ge=1, le=120)


def parse_ref(ref: str | None) -> tuple[str, str] | None:
    """'C0123:1700000000.000100' -> (channel id, ts); None when it is not a Slack message reference."""
    if not ref or ":" not in ref:
        return None
    channel, ts = ref.split(":", 1)
    return (channel, ts) if channel and ts else None


class SlackBotChannel(Channel):
    Config = SlackBotConfig
    config: SlackBotConfig

    def client(self) -> WebClient:
        token = os.environ.get(self.config.token_env, "")
        if not token:
            raise DeliveryError(f"environment variable {self.config.token_env} (the Slack bot token) is not set")
        # No retries inside slack_sdk: its default connection-error retry re-posts when the line drops
        # after Slack stored the message (a second post). Every failure becomes a DeliveryError and the
        # outbox retries later (honouring Retry-After), looking in the channel first (find_sent).
        return WebClient(token=token, base_url=self.config.base_url, timeout=self.config.timeout_s,
                         retry_handlers=[])

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        client = self.client()
        message = slack_message(alert)
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"idem_key": idem_key}}
        previous = parse_ref(previous_ref) if alert.kind != "digest" else None
        try:
            if previous is None:
                return self._post(client, message, metadata)
            channel, ts = previous
            mode = self.config.on_escalation
            if mode in ("update", "update_and_reply"):
                try:
                    client.chat_update(channel=channel, ts=ts, **message)
                except SlackApiError as exc:
                    if _error(exc) in ("message_not_found", "cant_update_message", "edit_window_closed"):
                        return self._post(client, message, metadata)  # the first message is gone: start again
                    raise
            if mode in ("reply", "update_and_reply"):
                client.chat_postMessage(channel=channel, thread_ts=ts, text=escalation_reply(alert),
                                        reply_broadcast=self.config.broadcast_escalations, metadata=metadata)
            return previous_ref
        except SlackApiError as exc:
            raise _delivery_error(exc) from None
        except OSError as exc:
            raise DeliveryError(f"Slack API unreachable: {exc}") from None

    def _post(self, client: WebClient, message: dict, metadata: dict[str, Any]) -> str:
        resp = client.chat_postMessage(channel=self.config.channel, unfurl_links=False, unfurl_media=False,
                                       metadata=metadata, **message)
        self._channel_id = resp["channel"]
        return f"{resp['channel']}:{resp['ts']}"

    _channel_id: str | None = None  # learnt from a post's answer or a lookup, for this process

    def find_sent(self, keys: Sequence[str], started: tuple[datetime, datetime],
                  previous_ref: str | None = None, recent_ref: str | None = None) -> dict[str, str | None]:
        """Messages with these keys posted around the sending mark: key -> "CHANNEL_ID:TS".

        An escalation reply is looked for in the first message's thread (its reference is the first
        message's), anything else in the channel's history. At most LOOKUP_PAGES pages each. A
        lookup the token may not make (no channels:history scope) finds nothing, with a warning, and
        the alert is posted again; a rate limit or an outage is a DeliveryError (retried later).
        """
        wanted = set(keys)
        found: dict[str, str | None] = {}
        window = {"oldest": f"{started[0].timestamp() - CLOCK_MARGIN_S:.6f}",
                  "latest": f"{started[1].timestamp() + self.config.timeout_s + CLOCK_MARGIN_S:.6f}",
                  "inclusive": True, "include_all_metadata": True, "limit": LOOKUP_PAGE_SIZE}
        previous = parse_ref(previous_ref)
        client = self.client()
        try:
            if previous is not None and self.config.on_escalation != "update":
                channel, ts = previous
                try:
                    for msg in _pages(client.conversations_replies, channel=channel, ts=ts, **window):
                        key = _key_of(msg)
                        if key in wanted and msg.get("ts") != ts:
                            found[key] = previous_ref
                except SlackApiError as exc:
                    if _error(exc) != "thread_not_found":
                        raise
                    # The first message is gone, so send() would have posted a new one: look in history.
                if wanted <= found.keys():
                    return found
            channel_id = previous[0] if previous else self._resolve_channel(client, recent_ref)
            if channel_id is None:
                return found
            for msg in _pages(client.conversations_history, channel=channel_id, **window):
                key = _key_of(msg)
                top_level = msg.get("thread_ts") in (None, msg.get("ts"))  # not a broadcast reply
                if key in wanted and key not in found and top_level:
                    found[key] = f"{channel_id}:{msg['ts']}"
        except SlackApiError as exc:
            if _transient(exc):
                raise _delivery_error(exc) from None
            data = getattr(exc.response, "data", None)
            needed = data.get("needed") if isinstance(data, dict) else None
            scope = f" (add the {needed} scope to the Slack app)" if needed else ""
            log.warning("Slack receiver %s cannot check whether %s was already posted before a restart: Slack "
                        "error %s%s; the bot needs channels:history (groups:history for a private channel) "
                        "to avoid posting it twice; posting it now", self.name, ", ".join(sorted(wanted)),
                        _error(exc), scope)
        except OSError as exc:
            raise DeliveryError(f"Slack API unreachable: {exc}") from None
        return found

    def _resolve_channel(self, client: WebClient, recent_ref: str | None) -> str | None:
        """The channel ID to read history from: the configured ID, one learnt from a post, or by name."""
        if CHANNEL_ID.match(self.config.channel):
            return self.config.channel
        if self._channel_id:
            return self._channel_id
        recent = parse_ref(recent_ref)
        if recent is not None:
            return recent[0]
        name, cursor = self.config.channel.lstrip("#"), None
        for _ in range(5):  # needs channels:read; a workspace with 5000+ channels should configure the ID
            try:
                resp = client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                                 limit=1000, cursor=cursor)
            except SlackApiError as exc:
                if _transient(exc):
                    raise
                log.warning("Slack receiver %s cannot find the ID of channel %s to check what was already "
                            "posted before a restart (Slack error %s; listing channels needs channels:read): "
                            "set channel to its ID (C0123...); posting now", self.name, self.config.channel,
                            _error(exc))
                return None
            for ch in resp.get("channels") or []:
                if ch.get("name") == name:
                    self._channel_id = ch["id"]
                    return self._channel_id
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        log.warning("Slack receiver %s: channel %s not found by name; set channel to its ID (C0123...) so a "
                    "restart can check what was already posted", self.name, self.config.channel)
        return None


def _pages(method: Callable[..., Any], **args: Any) -> Iterator[dict[str, Any]]:
    """The messages of at most LOOKUP_PAGES pages of a cursor-paginated conversations.* call."""
    cursor = None
    for _ in range(LOOKUP_PAGES):
        resp = method(cursor=cursor, **args)
        yield from resp.get("messages") or []
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not resp.get("has_more") or not cursor:
            return


def _key_of(message: dict[str, Any]) -> str | None:
    meta = message.get("metadata") or {}
    if meta.get("event_type") != METADATA_EVENT:
        return None
    key = (meta.get("event_payload") or {}).get("idem_key")
    return key if isinstance(key, str) else None


def _transient(exc: SlackApiError) -> bool:
    status = getattr(exc.response, "status_code", 0)
    return status == 429 or status >= 500 or _error(exc) in ("ratelimited", "internal_error", "fatal_error",
                                                               "service_unavailable", "request_timeout")


def _error(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    return data.get("error", "") if isinstance(data, dict) else ""


def _delivery_error(exc: SlackApiError) -> DeliveryError:
    status = getattr(exc.response, "status_code", 0)
    error = _error(exc) or f"HTTP {status}"
    detail = f"Slack API error: {error}"
    if status == 429 or error == "ratelimited":
        return DeliveryError(detail, retry_after=retry_after_seconds(exc.response.headers, 30.0))
    return DeliveryError(detail, permanent=error in PERMANENT)
