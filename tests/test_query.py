"""The shared query language: what counts as a mention, and how it is sent to X and Reddit."""

import re
from dataclasses import dataclass, field

import pytest

from listener.query import BrandMatcher, QueryError, brand_query, explain, parse, to_reddit, to_x


@dataclass
class Tracked:
    name: str
    keywords: list[str]
    handles: list[str] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)
    query: str | None = None


def matches(query: str, text: str) -> bool:
    return explain(query, text).matched


@pytest.mark.parametrize("query,text,expected", [
    ("brightwave", "Brightwave dropped my call again", True),
    ("brightwave", "brightwaves are nice", False),  # whole words only
    ("brightwave", "#Brightwave is down", True),
    ("@brightwave", "hey @BrightWave help", True),
    ('"bright wave"', "Bright   Wave support", True),  # any whitespace inside a phrase
    ('"bright wave"', "wave bright", False),
    ("router AND brightwave", "my brightwave router", True),
    ("router AND brightwave", "my brightwave modem", False),
    ("router brightwave", "my brightwave modem", False),  # implicit AND
    ("router OR modem", "the modem died", True),
    ("brightwave -festival", "brightwave festival tickets", False),
    ("brightwave NOT festival", "brightwave outage", True),
    ("brightwave -(festival OR concert)", "brightwave concert", False),
    ("a b OR c", "c only", True),  # AND binds tighter than OR, as on X
    ("a (b OR c)", "c only", False),
    ("brightwave", "ＢＲＩＧＨＴＷＡＶＥ ist kaputt 😡", True),  # full-width letters fold
    ("café", "Le CAFÉ est fermé", True),
    ("wi-fi", "the wi-fi keeps dropping", True),
])
def test_matching_follows_the_documented_rules(query, text, expected):
    assert matches(query, text) is expected


@pytest.mark.parametrize("query,problem", [
    ("", "empty"),
    ("(brightwave", "never closed"),
    ("brightwave)", "unexpected ')'"),
    ('"bright wave', "closing"),
    ("-festival", "add a term"),
    ("brightwave OR", "ends where a term"),
    ("lang:en brightwave", "not part of the shared query language"),
])
def test_a_bad_query_says_where_and_what(query, problem):
    with pytest.raises(QueryError, match=re.escape(problem)):
        parse(query)


def test_explain_says_which_term_matched_and_why_an_exclusion_rejected():
    result = explain('("bright wave" OR brightwave) -festival', "Brightwave festival was great")
    assert not result.matched
    text = str(result)
    assert "✓ brightwave — found 'Brightwave'" in text
    assert "✗ NOT festival — the excluded part is present" in text


def test_x_syntax_keeps_grouping_and_negation():
    node = parse('(brightwave OR "bright wave") AND NOT (festival OR concert) router')
    assert to_x(node) == '(brightwave OR "bright wave") -(festival OR concert) router'
    assert "AND" not in to_x(node) and "NOT" not in to_x(node)


def test_reddit_query_is_a_superset_without_the_exclusions():
    node = parse("brightwave -festival")
    assert to_reddit(node) == "brightwave"
    # applied locally, the exclusion still holds
    assert not explain(node, "brightwave festival").matched


def test_brand_query_uses_keywords_handles_and_exclusions():
    brand = Tracked("Brightwave", ["Brightwave", "Bright Wave"], ["@BrightwaveHelp"], ["brightwave festival"])
    node = brand_query(brand)
    assert to_x(node) == '(Brightwave OR "Bright Wave" OR @BrightwaveHelp) -"brightwave festival"'
    assert explain(node, "@BrightwaveHelp my bill is wrong").matched
    assert not explain(node, "Brightwave Festival line-up").matched


def test_advanced_query_replaces_keywords_but_exclusions_still_apply():
    brand = Tracked("Brightwave", ["unused"], exclusions=["festival"], query="brightwave (router OR modem)")
    matcher = BrandMatcher([brand])
    assert matcher.first("brightwave router dead") == "Brightwave"
    assert matcher.first("unused brightwave") is None
    assert matcher.first("brightwave router at the festival") is None


def test_brand_matcher_keeps_its_api_and_reports_the_first_term():
    matcher = BrandMatcher([
        Tracked("Brightwave", ["Brightwave"], ["@Brightwave"]),
        Tracked("Lumacell", ["Lumacell"]),
    ])
    hits = matcher.matches("Switching from @Brightwave to Lumacell")
    assert [(h.brand, h.term) for h in hits] == [("Brightwave", "@Brightwave"), ("Lumacell", "Lumacell")]
    assert matcher.first("nothing here") is None
    assert matcher.matches_brand("Lumacell", "lumacell rocks")


def test_a_brand_written_against_japanese_text_still_matches_but_longer_latin_words_do_not():
    from listener.query import BrandMatcher

    class Brand:
        name, keywords, handles, exclusions, query, languages = "Brightwave", ["Brightwave"], [], [], None, []

    matcher = BrandMatcher([Brand()])
    assert matcher.first("Brightwaveのアプリがまた落ちた") == "Brightwave"
    assert matcher.first("新しいBrightwaveルーター") == "Brightwave"
    assert matcher.first("Brightwavers unite") is None
    assert matcher.first("Brightwaveé") is None


# ---------------------------------------------------------------- matching per script
@pytest.mark.parametrize("query,text,expected", [
    # Japanese and Chinese have no spaces between words: a keyword is found inside the run of letters
    ("ドトール", "今日もドトールでモーニング、店員さんの対応が最悪だった", True),
    ("ドトール", "ﾄﾞﾄｰﾙのアプリが開かない", True),  # half-width katakana folds (NFKC)
    ("ドトール", "スターバックスでコーヒー", False),
    ('"ドトール コーヒー"', "ドトールコーヒーの新作おいしい", True),  # a phrase needs no space in Japanese
    ("光澜", "我的光澜路由器又断线了，客服也不回", True),
    ("光澜", "光线不好", False),
    # Thai: also no spaces between words
    ("ไบรท์เวฟ", "เน็ตไบรท์เวฟช้ามากวันนี้", True),
    ("ไบรท์เวฟ", "เน็ตช้ามากวันนี้", False),
    # Korean: spaces between words, particles attached to them
    ("삼성", "삼성이 또 고장났어요", True),
    ("삼성", "삼성에서 환불 안 해줌", True),
    ("삼성", "갤럭시삼성", False),  # must start a word
    ("Brightwave", "Brightwave는 왜 이렇게 느려요", True),  # a particle after a Latin-script name
    # Latin and Cyrillic: whole words, also next to CJK text
    ("Brightwave", "Brightwaveのルーターがまた落ちた", True),
    ("Brightwave", "BrightwaveがダメならLumacellにする", True),
    ("Brightwave", "Brightwavers unite", False),
    ("Brightwave", "TheBrightwave meetup", False),
    ("Сбер", "Сбер опять не работает", True),
    ("Сбер", "Сбербанк не работает", False),
    # mixed-script texts and queries
    ("ドトール OR Brightwave", "東京のBrightwave回線、遅すぎ", True),
    ("ドトール -閉店", "ドトールが閉店するらしい", False),
    ('"Brightwave 光"', "Brightwave 光が遅い", True),
])
def test_matching_is_decided_per_script(query, text, expected):
    assert matches(query, text) is expected


def test_explain_says_which_rule_applied_to_a_term_in_an_unspaced_script():
    hit = str(explain("ドトール", "今日はドトールで"))
    miss = str(explain("ドトール", "今日はスタバで"))
    assert "✓ ドトール — found 'ドトール' at character 4" in hit
    assert "written without spaces" in miss
    assert "whole words" in str(explain("brightwave", "nothing here"))


def test_a_brand_with_a_japanese_keyword_is_matched_by_the_brand_matcher():
    matcher = BrandMatcher([Tracked("Doutor", ["ドトール"], exclusions=["閉店"])])
    assert matcher.first("mstdn.jpで見たけど、ドトールのWi-Fiが遅い") == "Doutor"
    assert matcher.first("ドトール閉店のお知らせ") is None


def test_overheard_query_test_matches_a_japanese_keyword_in_japanese_text():
    from click.testing import CliRunner

    from listener.cli import cli

    result = CliRunner().invoke(cli, ["query", "test", "ドトール", "今日はドトールでコーヒー"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("MATCH")
    miss = CliRunner().invoke(cli, ["query", "test", "ドトール", "今日はスタバでコーヒー"])
    assert miss.exit_code == 1 and "written without spaces" in miss.output
