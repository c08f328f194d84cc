"""The issue's accuracy targets on the val splits, checked on demand (`pytest -m benchmark`).

Figures for the README come from `python -m benchmarks.sentiment`; this only guards against a
retrained model quietly falling below the targets it met.
"""

from __future__ import annotations

from statistics import mean

import pytest

from sentiment import get_scorer
from sentiment.datasets import held_out_sets, validation_sets
from sentiment.evaluate import figures

pytestmark = pytest.mark.benchmark


def test_learned_scorer_meets_the_val_targets_and_beats_vader_on_amazon(shared_data) -> None:
    scorer, vader = get_scorer("learned"), get_scorer("vader")
    f1 = {s.name: figures(s.labels, [x.label for x in scorer.score_many(s.texts, s.langs)]).macro_f1
          for s in validation_sets(shared_data)}
    assert f1["umsab english val"] >= 0.70
    assert f1["tweeteval val"] >= 0.80
    assert mean(v for k, v in f1.items() if k.startswith("umsab") and "english" not in k) >= 0.55
    amazon = next(s for s in held_out_sets(shared_data) if s.name.startswith("amazon reviews"))
    ours = figures(amazon.labels, [x.label for x in scorer.score_many(amazon.texts)])
    base = figures(amazon.labels, [x.label for x in vader.score_many(amazon.texts)])
    assert ours.macro_f1 > base.macro_f1 and ours.negative_recall > base.negative_recall
