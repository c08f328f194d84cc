"""Generic JSON webhook (Teams workflows, PagerDuty Events via a bridge, Zapier, your own service).

POSTs the alert as JSON with an `Idempotency-Key` header. `<`, `>` and `&` are written as \\u003c,
\\u003e and \\u0026 so a receiver that pastes the JSON into HTML cannot be tricked by mention text;
the decoded values are exactly what was said.
"""

from __future__ import annotations

import json
import os

import requests
from pydantic import Field, model_validator

from alerts.channels.base import Channel, ChannelConfig, DeliveryError, retry_after_seconds
from alerts.message import Alert
from listener.config import url_problem
from listener.masking import mask

PAYLOAD_VERSION = 1


class WebhookConfig(ChannelConfig):
    url: str = ""  # the endpoint, when it holds no secret
    url_env: str = ""  # or: the environment variable holding it (Zapier and Teams URLs are secrets)
    token_env: str = ""  # optional: environment variable with a bearer token for Authorization
    headers: dict[str, str] = {}  # extra headers (no secrets here: use token_env)
    timeout_s: int = Field(default=10, ge=1, le=120)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("set exactly one of url or url_env")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url[:60]!r}")
        return self


def webhook_body(alert: Alert, idem_key: str, previous_ref: str | None) -> bytes:
    """The JSON document a webhook receives (documented in docs/alerts.md)."""
    doc = {"version": PAYLOAD_VERSION, "idempotency_key": idem_key, "updates": previous_ref,
           "text": alert.plain_text(), **alert.to_dict()}
    text = json.dumps(doc, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").encode("utf-8")


class WebhookChannel(Channel):
    Config = WebhookConfig
    config: WebhookConfig

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        url = self.config.url or os.environ.get(self.config.url_env, "")
        if not url:
            raise DeliveryError(f"environment variable {self.config.url_env} (the webhook URL) is not set")
        url = url.strip()
        secret = bool(self.config.url_env or self.config.token_env)
        problem = url_problem(url, https=secret)
        if problem:  # `check` says so too; a config loaded without the secrets check ends here
            what = f"environment variable {self.config.url_env} (the webhook URL)" if self.config.url_env else "url"
            raise DeliveryError(f"{what} {problem}", permanent=True)
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": idem_key,
                   "User-Agent": "overheard-alerts", **self.config.headers}
        if self.config.token_env:
            token = os.environ.get(self.config.token_env, "").strip()
            if not token:
                raise DeliveryError(f"environment variable {self.config.token_env} (the webhook token) is not set")
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = requests.post(url, data=webhook_body(alert, idem_key, previous_ref), headers=headers,
                                 timeout=self.config.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}") from None
        if 200 <= resp.status_code < 300:
            return idem_key  # the next alert about this thread names it in "updates"
        # The receiver's error body may echo our URL or token back: masked before it is stored or logged.
        detail = mask(f"webhook answered {resp.status_code} {resp.text[:200]!r}",
                      [url, headers.get("Authorization", "")])
        if resp.status_code == 429:
            raise DeliveryError(detail, retry_after=retry_after_seconds(resp.headers, 60.0))
        if resp.status_code >= 500 or resp.status_code == 408:
            raise DeliveryError(detail)
        raise DeliveryError(detail, permanent=True)
