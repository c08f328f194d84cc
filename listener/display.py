"""How the CLI words and lays out what it prints: plurals, local times with their zone, snippets cut at
a word, and compact tables that fit the terminal (80 columns when piped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

ELLIPSIS = "…"


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 mention`, `2 mentions`, `1 reply`/`2 replies` (pass `many` for irregular words)."""
    if n == 1:
        return f"{n:,} {word}"
    if many is None:
        many = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
    return f"{n:,} {many}"


def local_time(value: str | datetime | None, tz_name: str, *, seconds: bool = False) -> str:
    """A stored UTC time as the reader's local time with its zone: `Sat 28 Nov 19:00 GMT`."""
    if not value:
        return ""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    local = dt.astimezone(ZoneInfo(tz_name))
    return local.strftime("%a %d %b %H:%M:%S %Z" if seconds else "%a %d %b %H:%M %Z")


def cut(text: str | None, width: int) -> str:
    """One line of at most `width` characters, cut at a word with an ellipsis when it is longer."""
    line = " ".join((text or "").split())
    if len(line) <= width:
        return line
    if width <= 1:
        return ELLIPSIS[:width]
    head = line[: width - 1]
    if " " in head and not line[width - 1].isspace():
        head = head[: head.rindex(" ")]
    return head.rstrip(" ,;:.-") + ELLIPSIS


def compact_table(columns: list[str], rows: list[list[str]], width: int, *, title: str | None = None,
                  wide: str | None = None, right: tuple[str, ...] = (), drop: tuple[str, ...] = (),
                  min_wide: int = 24) -> Any:
    """A rich table with no borders, one line per row, that fits `width`: the `wide` column (default:
    the last) gets what the others leave and is cut at a word; when that is under `min_wide`, the
    columns named in `drop` go first, in that order."""
    from rich.markup import escape
    from rich.table import Table

    wide = wide or columns[-1]
    keep = list(columns)

    def room() -> int:
        # Two spaces after every column (the last one's included): the widths here are all it takes.
        fixed = sum(max([len(c), *(len(r[columns.index(c)]) for r in rows)]) + 2 for c in keep if c != wide)
        return width - fixed - 2

    for name in drop:
        if room() >= min_wide:
            break
        keep.remove(name)
    space = max(8, room())
    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, title=title, title_justify="left",
                  title_style="bold", header_style="bold")
    for col in keep:
        table.add_column(col, no_wrap=True, justify="right" if col in right else "left", overflow="ellipsis",
                         max_width=space if col == wide else None)
    for r in rows:
        table.add_row(*(escape(cut(r[columns.index(c)], space) if c == wide else r[columns.index(c)])
                        for c in keep))
    return table
