"""Delivery channels by `type`. A new channel is one module (a Channel with its Config) plus one line in
listener.plugins.CHANNELS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from listener import plugins

if TYPE_CHECKING:
    from alerts.channels.base import Channel, ChannelConfig

# declared in the core (listener.plugins) so the config can validate a receiver without importing alerts
CHANNELS = plugins.CHANNELS


def available_channels() -> list[str]:
    return sorted(CHANNELS)


def channel_class(kind: str) -> type[Channel] | None:
    return plugins.load(CHANNELS, kind)


def channel_config_class(kind: str) -> type[ChannelConfig] | None:
    return plugins.channel_config_class(kind)


def build_channel(section: ChannelConfig, app: object) -> Channel:
    cls = channel_class(section.type)
    assert cls is not None  # validated with the config
    return cls(section, app)
