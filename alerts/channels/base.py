"""The channel interface: deliver one alert. Channels never decide whether to alert."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import Field

from alerts.message import Alert
from listener.config import Section


class ChannelConfig(Section):
    name: str = Field(min_length=1)
    type: str
    enabled: bool = True


class DeliveryError(Exception):
    """Delivery failed; the outbox retries later. `retry_after` (seconds) when the receiver said."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Channel(ABC):
    Config: ClassVar[type[ChannelConfig]] = ChannelConfig

    def __init__(self, config: ChannelConfig, app: Any) -> None:
        self.config = config
        self.app = app

    @property
    def name(self) -> str:
        return self.config.name

    @abstractmethod
    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        """Deliver `alert`; return a reference to what was sent (e.g. a Slack message ts), or None.

        `previous_ref` is the reference of an earlier alert about the same thread on this receiver,
        so a channel that can edit or reply (Slack) updates one message instead of posting another.
        """
