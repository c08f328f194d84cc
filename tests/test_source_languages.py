"""Every source's language tags end up in one code list (the language detector's), or None to detect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from listener.language_tags import language_code
from listener.models import Mention


@pytest.mark.parametrize("tag,code", [
    ("en", "en"), ("EN-us", "en"), ("en_GB", "en"),
    ("in", "id"), ("iw", "he"), ("ji", "yi"), ("jw", "jv"), ("mo", "ro"),  # withdrawn codes X still sends
    ("zh-Hant", "zh"), ("zh-TW", "zh"), ("zh-Hans-CN", "zh"), ("cmn", "zh"), ("yue", "yue"),
    ("pt-BR", "pt"), ("pt_br", "pt"), ("jpn", "ja"), ("eng", "en"), ("arb", "ar"), ("ar-EG", "ar"),
    ("fil", "tl"), ("tl", "tl"), ("nb", "no"), ("ckb", "ckb"),
    ("und", None), ("zxx", None), ("qme", None), ("qht", None), ("qam", None), ("art", None), ("mul", None),
    ("", None), ("  ", None), (None, None), (7, None), ("x-klingon", None), ("12", None), ("not a tag!", None),
])
def test_language_tags_become_one_code_list(tag, code):
    assert language_code(tag) == code


def test_every_mention_carries_a_normalised_tag_whichever_source_made_it():
    made = Mention(source="file", native_id="1", text="Brightwave", created_at=datetime.now(UTC), lang="iw")
    assert made.lang == "he"
    assert Mention(source="bluesky", native_id="2", text="x", created_at=datetime.now(UTC), lang="und").lang is None
