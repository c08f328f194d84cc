"""Alerts printed to the terminal: the receiver for local use and the demo."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from alerts.channels.base import Channel, ChannelConfig
from alerts.message import Alert
from listener.text import for_terminal, safe_console

_STYLE = {"critical": "bold red", "warning": "yellow"}


class ConsoleChannel(Channel):
    Config = ChannelConfig

    def __init__(self, config: ChannelConfig, app: object, console: Console | None = None) -> None:
        super().__init__(config, app)
        # Mention text, author names, titles: every field passes for_terminal (escapes and bidi removed).
        self.console = safe_console(console or Console(stderr=False, highlight=False))

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        # escape(): mention text may contain [markup] that rich would otherwise interpret
        title = for_terminal(f"{alert.brand or ''} · {alert.source or ''}", one_line=True)
        self.console.print(Panel(escape(for_terminal(alert.plain_text())), title=escape(title), expand=False,
                                 border_style=_STYLE.get(alert.level, "cyan")))
        return None
