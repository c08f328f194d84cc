"""Alerts printed to the terminal: the receiver for local use and the demo."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from alerts.channels.base import Channel, ChannelConfig
from alerts.message import Alert

_STYLE = {"critical": "bold red", "warning": "yellow"}


class ConsoleChannel(Channel):
    Config = ChannelConfig

    def __init__(self, config: ChannelConfig, app: object, console: Console | None = None) -> None:
        super().__init__(config, app)
        self.console = console or Console(stderr=False, highlight=False)

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        # escape(): mention text may contain [markup] that rich would otherwise interpret
        self.console.print(Panel(escape(alert.plain_text()), border_style=_STYLE.get(alert.level, "cyan"),
                                 title=escape(f"{alert.brand or ''} · {alert.source or ''}"), expand=False))
        return None
