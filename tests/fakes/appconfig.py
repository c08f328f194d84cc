"""An overheard config file pointing sources at fake servers (for tests of sources and commands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from listener.config import Config, load_config

BRIGHTWAVE = {
    "name": "Brightwave",
    "keywords": ["Brightwave", "Bright Wave"],
    "handles": ["@BrightwaveHelp"],
    "exclusions": ["festival"],
    "competitors": ["Lumacell"],
}
LUMACELL = {"name": "Lumacell", "keywords": ["Lumacell"], "handles": ["@Lumacell"]}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def _table(name: str, values: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in values.items()) + "\n"


def write_config(folder: Path, sources: dict[str, dict[str, Any]], *, brands: list[dict[str, Any]] | None = None,
                 competitors: list[dict[str, Any]] | None = None) -> Path:
    """Write overheard.toml in `folder` with the given [sources.*] sections; returns its path."""
    text = ""
    for b in brands if brands is not None else [BRIGHTWAVE]:
        text += "[[brands]]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in b.items()) + "\n"
    for c in competitors if competitors is not None else [LUMACELL]:
        text += "[[competitors]]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in c.items()) + "\n"
    text += _table("store", {"path": "overheard.db"})
    for name, section in sources.items():
        text += _table(f"sources.{name}", section)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "overheard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def app_config(folder: Path, sources: dict[str, dict[str, Any]], **kwargs: Any) -> Config:
    return load_config(write_config(folder, sources, **kwargs), check_secrets=False)
