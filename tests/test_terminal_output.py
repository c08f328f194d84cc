"""Escape sequences and bidi overrides in posts never reach the terminal; the stored data keeps them.

An author named `\\x1b]0;…\\x07` changed the terminal title when the console receiver or `queue show`
printed it. Every terminal output path now passes listener.text.for_terminal, on every field.
"""

from __future__ import annotations

import io
import json

from click.testing import CliRunner
from rich.console import Console

from alerts.channels.base import ChannelConfig
from alerts.channels.console import ConsoleChannel
from alerts.message import Alert
from listener.cli import cli
from listener.pipeline import process
from listener.store import Store
from listener.text import for_terminal, terminal_json
from tests.queue_support import angry_thread, write_config

TITLE = "\x1b]0;PWNED\x07"  # sets the terminal window title
CSI = "\x1b[2J\x1b[31m"  # clears the screen, turns red
C1_CSI = "\x9b2J"  # the same in one 8-bit character
BIDI = "\u202eevil\u202c \u2066x\u2069"
HOSTILE_AUTHOR = f"{TITLE}dana{BIDI}\x07\x08"
HOSTILE_TEXT = f"Brightwave {CSI}charged me twice{C1_CSI}, refund now {BIDI} or chargeback, scam"
UNSAFE = ["\x1b", "\x07", "\x08", "\x9b", "\u202e", "\u202c", "\u2066", "\u2069"]


def _assert_safe(output: str, what: str) -> None:
    for ch in UNSAFE:
        assert ch not in output, (what, repr(ch), repr(output[:400]))


def test_for_terminal_removes_whole_sequences_and_keeps_the_words():
    assert for_terminal(f"{TITLE}dana{CSI}!") == "dana!"
    assert for_terminal("line one\nline two\tend") == "line one\nline two\tend"
    assert for_terminal("a\r\nb\u2028c", one_line=True) == "a b c"
    assert for_terminal(BIDI) == "evil x"
    assert for_terminal("Zoë 🔥 日本") == "Zoë 🔥 日本"
    decoded = json.loads(terminal_json(json.dumps({"a": f"x{C1_CSI}\u202ey"}, ensure_ascii=False)))
    assert decoded == {"a": f"x{C1_CSI}\u202ey"}  # JSON output: the same values, escaped for the terminal


def test_console_receiver_strips_escapes_from_every_field():
    buf = io.StringIO()
    channel = ConsoleChannel(ChannelConfig(name="term", type="console"), None,
                             console=Console(file=buf, force_terminal=True, width=120))
    alert = Alert(kind="thread", rule="all", level="warning", brand=f"Bright{CSI}wave", source=f"x{TITLE}",
                  thread_key="x:1", title=f"{HOSTILE_AUTHOR} title", risk=80, reasons=[f"@{HOSTILE_AUTHOR} angry"],
                  url="https://x.com/1", queue_url=None, mentions=[], created_at="2026-11-20T12:00:00Z")
    channel.send(alert, "k")
    out = buf.getvalue()
    # rich's own colour codes start with ESC too: remove exactly those, then nothing unsafe may be left
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    _assert_safe(plain, "console receiver")
    assert "PWNED" not in out and "dana" in out and "Brightwave" in out


def test_queue_list_show_and_alerts_list_print_no_escapes(tmp_path):
    config = write_config(tmp_path, """
    [[alerts.rules]]
    name = "all"
    min_risk = 0
    receivers = ["file"]
    [alerts.levels]
    warning = 10
    """)
    with Store(config.db_path) as store:
        angry_thread(store, "t0", author=HOSTILE_AUTHOR, texts=[HOSTILE_TEXT, HOSTILE_TEXT.replace("twice", "thrice")])
        process(config, store)
        item = store.scalar("SELECT id FROM queue_items")
        assert item is not None
        # Stored as received: the sanitising is for display only.
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE author = ?", (HOSTILE_AUTHOR,)) == 1
    cfg = ["--config", str(config.path)]
    for command in (["queue", "list"], ["queue", "show", str(item)], ["alerts", "list"], ["status"],
                    ["queue", "list", "--json"], ["queue", "show", str(item), "--json"], ["status", "--json"]):
        result = CliRunner().invoke(cli, [*command, *cfg])
        assert result.exit_code in (0, 1), (command, result.output)
        _assert_safe(result.output, command)
        if "show" in command and "--json" not in command:
            assert "@danaevil x" in result.output and "charged me" in result.output
        if "--json" in command:
            json.loads(result.output)  # still valid JSON with the same values
