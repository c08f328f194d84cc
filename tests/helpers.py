"""Small builders shared by tests: a config file on disk, a mention, a store."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

BASE_CONFIG = """
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
handles = ["@BrightwaveHelp"]
competitors = ["Lumacell"]

[[competitors]]
name = "Lumacell"
keywords = ["Lumacell"]
"""


def write_config(folder: Path, extra: str = "", base: str = BASE_CONFIG, name: str = "overheard.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(base) + "\n" + textwrap.dedent(extra), encoding="utf-8")
    return path


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)

ROOT_EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
