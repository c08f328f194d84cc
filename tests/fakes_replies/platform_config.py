"""A config with one [replies.<platform>] section, loaded as `overheard` loads it, and its replier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alerts.replies import replier_class
from alerts.replies.base import Replier
from listener.config import Config, config_from_dict
from tests.fakes_web.workspace import BRANDS


def replies_config(tmp_path: Path, source: str, section: dict[str, Any], *, check_secrets: bool = False) -> Config:
    raw = {**BRANDS, "store": {"path": str(tmp_path / "overheard.db")}, "replies": {source: section}}
    return config_from_dict(raw, tmp_path / "overheard.toml", check_secrets=check_secrets)


def platform_replier(tmp_path: Path, source: str, section: dict[str, Any]) -> Replier:
    """The replier the queue would build for `source`, from the registry and the validated section."""
    config = replies_config(tmp_path, source, section)
    cls = replier_class(source)
    assert cls is not None, f"no replier module for {source}"
    return cls(config.replies[source], config)
