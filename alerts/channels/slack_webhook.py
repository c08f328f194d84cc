"""Slack incoming webhook: one message per alert. A webhook cannot edit, so an escalation posts again."""

from __future__ import annotations

import os

from pydantic import Field
from slack_sdk.webhook import WebhookClient

from alerts.channels.base import Channel, ChannelConfig, DeliveryError, retry_after_seconds
from alerts.message import Alert
from alerts.slack_format import slack_message
from listener.config import url_problem
from listener.masking import mask


class SlackWebhookConfig(ChannelConfig):
    # The environment variable holding the webhook URL (it is a secret: anyone with it can post).
    url_env: str = Field(min_length=1)
    timeout_s: int = Field(default=10, ge=1, le=120)


class SlackWebhookChannel(Channel):
    Config = SlackWebhookConfig
    config: SlackWebhookConfig

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        url = os.environ.get(self.config.url_env, "")
        if not url:
            raise DeliveryError(f"environment variable {self.config.url_env} (the Slack webhook URL) is not set")
        problem = url_problem(url.strip(), https=True)
        if problem:  # `check` says so too; a config loaded without the secrets check ends here
            raise DeliveryError(f"environment variable {self.config.url_env} (the Slack webhook URL) {problem}",
                                permanent=True)
        client = WebhookClient(url.strip(), timeout=self.config.timeout_s)
        try:
            resp = client.send(**slack_message(alert))
        except OSError as exc:  # connection refused, DNS, TLS: try again later (the URL masked: it is the secret)
            raise DeliveryError(mask(f"Slack webhook unreachable: {exc}", [url])) from None
        except ValueError as exc:  # urllib refusing the URL
            raise DeliveryError(mask(f"Slack webhook URL refused: {exc}", [url]), permanent=True) from None
        # WebhookClient never raises on an HTTP error: the status and body say what happened.
        if resp.status_code == 200 and resp.body == "ok":
            return None
        detail = mask(f"Slack webhook answered {resp.status_code} {str(resp.body)[:200]!r}", [url])
        if resp.status_code == 429:
            raise DeliveryError(detail, retry_after=retry_after_seconds(resp.headers, 30.0))
        if resp.status_code >= 500 or resp.status_code in (0, 408):
            raise DeliveryError(detail)
        # 400 invalid_payload, 403 action_prohibited, 404 no_service, 410 channel_is_archived: fix the config
        raise DeliveryError(detail, permanent=True)
