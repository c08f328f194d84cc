"""The channel interface: deliver one alert. Channels never decide whether to alert."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from alerts.message import Alert
from listener.config import QuietHours, Section


class ChannelConfig(Section):
    name: str = Field(min_length=1)
    type: str
    enabled: bool = True
    # At most this many messages an hour; the overflow is held and summarised in one digest. 0: no cap.
    max_per_hour: int = Field(default=20, ge=0)
    # Hold alerts in these hours and send them as one digest when they end.
    quiet_hours: QuietHours | None = None


class DeliveryError(Exception):
    """Delivery failed; the outbox retries later. `retry_after` (seconds) when the receiver said."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


def retry_after_seconds(headers: Mapping[str, Any] | None, default: float) -> float:
    """Seconds from a Retry-After header (either case, a number or a list of one); `default` if absent."""
    if not headers:
        return default
    for key, value in headers.items():
        if key.lower() == "retry-after":
            if isinstance(value, (list, tuple)):
                value = value[0] if value else ""
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return default
    return default


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

    def find_sent(self, keys: Sequence[str], started: tuple[datetime, datetime],
                  previous_ref: str | None = None, recent_ref: str | None = None) -> dict[str, str | None]:
        """After a crash or a lost answer: which of these message keys an earlier attempt delivered.

        `keys` are the idempotency keys of messages whose sending began between `started[0]` and
        `started[1]` and was never marked delivered. Returns key -> the reference send() would have
        returned, for the ones the receiver already has. `previous_ref` is as for send(); `recent_ref`
        is the reference of the last message this receiver delivered (where it posts). Only called for
        rows with a sending mark, so normal sends cost nothing. The default cannot ask the receiver
        and finds nothing: the message is sent again (at least once; the webhook channel's
        Idempotency-Key lets its receiver drop the repeat).
        """
        return {}
