"""Incoming text hygiene, shared by every source: one place decides what is too odd to keep."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

MAX_TEXT_CHARS = 50_000  # longer than any real post or review; beyond it an item is quarantined
# C0/C1 control characters except tab and newline; also lone surrogates that cannot be encoded.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class BadText(ValueError):
    """The text cannot be kept as it is; the message says why (used as the quarantine reason)."""


def clean_text(value: object, *, field: str = "text") -> str:
    """NFC-normalised text without control characters; BadText when missing, empty or too long."""
    if value is None:
        raise BadText(f"{field} is missing")
    if not isinstance(value, str):
        raise BadText(f"{field} is {type(value).__name__}, not text")
    if len(value) > MAX_TEXT_CHARS:
        raise BadText(f"{field} is {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
    text = _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()
    if not text:
        raise BadText(f"{field} is empty")
    return text


# ---------------------------------------------------------------- what reaches a terminal
# Escape sequences whole (CSI `ESC [ … final`, OSC `ESC ] … BEL|ST`, and two-character ESC x), then
# every other control character, and the bidi controls that make a terminal show text in an order
# other than stored (an author "\u202eelgoog" reads "google"). Stored data keeps them: this is display.
# An OSC without its terminator loses only its introducer: the words after it stay readable.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]{0,300}(?:\x07|\x1b\\)|\x1b\][0-9]*;?"
                      r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x1b\x9c\n]{0,300}(?:\x07|\x9c)|\x9d[0-9]*;?|\x1b[@-_]?")
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSHOWN = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff{_BIDI}]")
_LINE_BREAKS = re.compile(r"[\r\n\t\u2028\u2029\x0b\x0c\x85]+")


def for_terminal(value: object, *, one_line: bool = False) -> str:
    """`value` as text that is safe to print: no escape sequences, control or bidi characters.

    Newlines and tabs stay (unless `one_line`, which turns every line break into a space); used by
    every terminal output path, via `safe_console`, on every field, not only mention text.
    """
    text = "" if value is None else str(value)
    if one_line:
        text = _LINE_BREAKS.sub(" ", text)
    return _UNSHOWN.sub("", _ESCAPES.sub("", text))


class _SafeRenderable:
    """Renders the wrapped renderable and cleans the text of every segment; rich's own styling and
    cursor control (which it adds after this) are untouched."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment

        for segment in console.render(self.inner, options):
            if segment.control or not segment.text:
                yield segment
            else:
                yield Segment(for_terminal(segment.text), segment.style, segment.control)

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.inner)


class _SafeHook:
    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        return [_SafeRenderable(r) for r in renderables]


def safe_console(console: Any) -> Any:
    """Make everything `console` (a rich Console) prints pass through for_terminal and mask; returns it."""
    from rich.console import RenderHook

    if not getattr(console, "_overheard_safe", False):
        # Every str rich prints (print arguments, table cells, panel bodies) goes through render_str:
        # cleaned there, before rich drops the BEL that ends an OSC title sequence.
        render_str = console.render_str

        from listener.masking import mask

        def safe_render_str(text: str, **kwargs: Any) -> Any:
            return render_str(mask(for_terminal(text)), **kwargs)  # and no configured secret is ever printed

        console.render_str = safe_render_str
        # And every rendered segment (Text objects built in code), as a net.
        console.push_render_hook(type("SafeHook", (_SafeHook, RenderHook), {})())
        console._overheard_safe = True
    return console


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f\u2028\u2029{_BIDI}]")


def terminal_json(text: str) -> str:
    """JSON text with C1 controls and bidi characters written as \\uXXXX escapes: decodes to the same
    values, but cannot steer a terminal when printed (json.dumps escapes only C0 controls)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
