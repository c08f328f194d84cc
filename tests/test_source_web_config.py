"""The example config's open-web sections are real: uncommented, they load and give each source its queries."""

from __future__ import annotations

import re

import pytest

from listener.config import load_config
from listener.sources import source_class
from tests.helpers import ROOT_EXAMPLE, write_config

WEB_SOURCES = ["appstore", "googleplay", "rss", "hackernews", "mastodon", "bluesky"]


def web_block() -> str:
    text = ROOT_EXAMPLE.read_text(encoding="utf-8")
    block = text.split("# @sources-web\n", 1)[1].split("# ───", 1)[0]
    return "\n".join(line[2:] if line.startswith("# ") else line for line in block.splitlines())


def test_every_web_source_has_a_commented_section_in_the_example():
    sections = re.findall(r"^\[sources\.(\w+)\]", web_block(), flags=re.M)
    assert sections == WEB_SOURCES


def test_the_uncommented_sections_load_and_every_source_has_queries(tmp_path, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", "t")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "p")
    config = load_config(write_config(tmp_path, web_block()))
    for name in WEB_SOURCES:
        source = source_class(name)(config.sources[name], config)
        assert source.queries(), name
    mastodon = source_class("mastodon")(config.sources["mastodon"], config)
    keys = [q.key for q in mastodon.queries()]
    assert "mastodon.social #brightwavehelp" in keys and "mastodon.social search Brightwave" in keys
    assert not any(k.startswith("fosstodon.org search") for k in keys)  # no token there: hashtags only


def test_a_missing_secret_for_an_enabled_web_source_names_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", "t")
    monkeypatch.delenv("BLUESKY_APP_PASSWORD", raising=False)
    from listener.errors import ConfigError

    with pytest.raises(ConfigError, match="sources.bluesky.app_password_env: environment variable "
                                          "BLUESKY_APP_PASSWORD is not set"):
        load_config(write_config(tmp_path, web_block()))
