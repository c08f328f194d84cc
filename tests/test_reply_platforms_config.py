"""The [replies.<platform>] sections of Mastodon, Bluesky, the App Store and Google Play: in the example
config key by key, valid as written there, and found through the registry the queue uses."""

from __future__ import annotations

import re
import tomllib

import pytest

from alerts.replies import replier_class
from tests.helpers import ROOT_EXAMPLE

PLATFORMS = ("mastodon", "bluesky", "appstore", "googleplay")


def _example_replies() -> dict:
    text = ROOT_EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# @replies"):text.index("# ─── Trend files")]
    uncommented = "\n".join(line[2:] for line in block.splitlines()
                            if re.match(r'# (\[|[A-Za-z_"][A-Za-z_.\-"]* = )', line))
    return tomllib.loads(uncommented)["replies"]


@pytest.mark.parametrize("source", PLATFORMS)
def test_every_key_is_in_the_example_config_and_valid(source):
    section = dict(_example_replies()[source])
    cls = replier_class(source)
    assert cls is not None and cls.source == source
    assert set(section) == set(cls.Config.model_fields), source
    cls.Config.model_validate(section)


def test_the_docs_have_a_section_per_platform():
    docs = (ROOT_EXAMPLE.parent / "docs" / "replies.md").read_text(encoding="utf-8")
    for title in ("## Mastodon", "## Bluesky", "## App Store", "## Google Play"):
        assert title in docs
    for source in PLATFORMS:
        assert f"[replies.{source}]" in docs


def test_reply_secrets_are_masked_in_logs_and_errors(tmp_path, monkeypatch):
    from listener.masking import config_secrets, mask
    from tests.fakes_replies.platform_config import replies_config

    monkeypatch.setenv("BLUESKY_REPLY_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    config = replies_config(tmp_path, "bluesky", {"handle": "brightwave.bsky.social"})
    assert "abcd-efgh-ijkl-mnop" in config_secrets(config)
    assert "abcd-efgh-ijkl-mnop" not in mask("login failed with abcd-efgh-ijkl-mnop", config_secrets(config))
