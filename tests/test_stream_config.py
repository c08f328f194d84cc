"""The [streams.*] sections: documented in config.example.toml key by key, validated with one clear line."""

from __future__ import annotations

import re
import tomllib

import pytest

from listener.config import JetstreamConfig, MastodonStreamConfig, XStreamConfig
from listener.errors import ConfigError
from tests.helpers import ROOT_EXAMPLE
from tests.stream_support import stream_config


def test_every_stream_key_is_in_the_example_config_and_its_values_are_valid():
    text = ROOT_EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# @streams"):text.index("# ─── Alerts")]
    uncommented = "\n".join(line[2:] for line in block.splitlines()
                            if re.match(r'# (\[|[A-Za-z_"][A-Za-z_.\-"]* = )', line))
    streams = tomllib.loads(uncommented)["streams"]
    for name, cls in (("jetstream", JetstreamConfig), ("x", XStreamConfig), ("mastodon", MastodonStreamConfig)):
        cls.model_validate(streams[name])
        assert set(streams[name]) == set(cls.model_fields), name


def test_a_stream_section_with_a_bad_value_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"streams.jetstream.url: "):
        stream_config(tmp_path, {"jetstream": {"url": "https://jetstream.example"}})
    with pytest.raises(ConfigError, match=r"streams.x.backfill_minutes: "):
        stream_config(tmp_path, {"x": {"backfill_minutes": 9}})
    with pytest.raises(ConfigError, match=r"streams.mastodon.hashtag: unknown key"):
        stream_config(tmp_path, {"mastodon": {"hashtag": True}})


def test_a_mastodon_stream_without_the_mastodon_source_says_what_is_missing(tmp_path):
    from listener.streams import build_streams

    config = stream_config(tmp_path, {"mastodon": {}})
    with pytest.raises(ConfigError, match=r"streams.mastodon: needs a \[sources.mastodon\] section"):
        build_streams(config)


def test_the_x_stream_needs_the_token_before_the_daemon_starts(tmp_path, monkeypatch):
    from listener.streams import build_streams

    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    (stream,) = build_streams(stream_config(tmp_path, {"x": {}}))
    with pytest.raises(ConfigError, match="X_BEARER_TOKEN is not set"):
        stream.check()
