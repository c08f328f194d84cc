"""A config and store in a temporary folder, and one collect pass through the real collect stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from listener.collect import collect_source
from listener.config import Config, config_from_dict
from listener.sources import source_class
from listener.store import SaveResult, Store

BRANDS: dict[str, Any] = {
    "brands": [{
        "name": "Brightwave",
        "keywords": ["Brightwave", "Bright Wave"],
        "handles": ["@Brightwave"],
        "exclusions": ["brightwave festival"],
        "competitors": ["Lumacell"],
    }],
    "competitors": [{"name": "Lumacell", "keywords": ["Lumacell"]}],
}


def make_config(tmp_path: Path, sources: dict[str, Any], *, check_secrets: bool = True) -> Config:
    raw = {**BRANDS, "store": {"path": str(tmp_path / "overheard.db")}, "sources": sources}
    return config_from_dict(raw, tmp_path / "overheard.toml", check_secrets=check_secrets)


def run_once(config: Config, name: str, store: Store) -> tuple[SaveResult, list[str]]:
    """One pass of source `name` through listener.collect, as `overheard collect` does it."""
    cls = source_class(name)
    assert cls is not None
    return collect_source(store, cls(config.sources[name], config))


def mentions(store: Store, source: str) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM mentions WHERE source = ? ORDER BY created_at, native_id", [source])


def quarantined(store: Store, source: str) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM quarantine WHERE source = ? ORDER BY id", [source])
