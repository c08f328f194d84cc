"""Slack bot token: chat.postMessage, then one Slack thread per conversation.

When a thread that already alerted rises to a higher level, the first message is updated in place
(chat.update) and, by default, a threaded reply says what changed — so a conversation never
becomes a new alert per reply. The reference kept in the outbox is "CHANNEL_ID:TS", which the
queue also uses to update the message when someone clicks Claim or Resolve.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from alerts.channels.base import Channel, ChannelConfig, DeliveryError, retry_after_seconds
from alerts.message import Alert
from alerts.slack_format import escalation_reply, slack_message

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
        # Only the default connection-error retry: a 429 or 5xx becomes a DeliveryError so the outbox
        # waits (honouring Retry-After) instead of this process sleeping, and a post is never doubled.
        return WebClient(token=token, base_url=self.config.base_url, timeout=self.config.timeout_s)

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        client = self.client()
        message = slack_message(alert)
        previous = parse_ref(previous_ref) if alert.kind != "digest" else None
        try:
            if previous is None:
                return self._post(client, message)
            channel, ts = previous
            mode = self.config.on_escalation
            if mode in ("update", "update_and_reply"):
                try:
                    client.chat_update(channel=channel, ts=ts, **message)
                except SlackApiError as exc:
                    if _error(exc) in ("message_not_found", "cant_update_message", "edit_window_closed"):
                        return self._post(client, message)  # the first message is gone: start again
                    raise
            if mode in ("reply", "update_and_reply"):
                client.chat_postMessage(channel=channel, thread_ts=ts, text=escalation_reply(alert),
                                        reply_broadcast=self.config.broadcast_escalations)
            return previous_ref
        except SlackApiError as exc:
            raise _delivery_error(exc) from None
        except OSError as exc:
            raise DeliveryError(f"Slack API unreachable: {exc}") from None

    def _post(self, client: WebClient, message: dict) -> str:
        resp = client.chat_postMessage(channel=self.config.channel, unfurl_links=False, unfurl_media=False,
                                       **message)
        return f"{resp['channel']}:{resp['ts']}"


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
