"""Delivery channels by `type`. A new channel is one module (a Channel with its Config) plus one line here."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alerts.channels.base import Channel, ChannelConfig

CHANNELS: dict[str, str] = {
    "console": "alerts.channels.console:ConsoleChannel",
    "file": "alerts.channels.file:FileChannel",
    "slack_webhook": "alerts.channels.slack_webhook:SlackWebhookChannel",
    "slack_bot": "alerts.channels.slack_bot:SlackBotChannel",
    "email": "alerts.channels.email:EmailChannel",
    "webhook": "alerts.channels.webhook:WebhookChannel",
}


def available_channels() -> list[str]:
    return sorted(CHANNELS)


def channel_class(kind: str) -> type[Channel] | None:
    target = CHANNELS.get(kind)
    if target is None:
        return None
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def channel_config_class(kind: str) -> type[ChannelConfig] | None:
    cls = channel_class(kind)
    return None if cls is None else cls.Config


def build_channel(section: ChannelConfig, app: object) -> Channel:
    cls = channel_class(section.type)
    assert cls is not None  # validated with the config
    return cls(section, app)
