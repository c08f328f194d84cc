"""Accuracy figures for a scorer's labels against gold labels (pure; used by the CLI and the benchmark)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

CLASSES = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Figures:
    """3-class figures. An `unscored` prediction counts as wrong (it is not a guess at any class)."""

    n: int
    accuracy: float
    macro_f1: float
    negative_precision: float
    negative_recall: float
    unscored: int
    # (gold, predicted, count) for every pair that occurs: where the scorer goes wrong, not only how often
    confusion: tuple[tuple[str, str, int], ...] = ()

    def count(self, gold: str, predicted: str) -> int:
        """How many texts labelled `gold` the scorer called `predicted`."""
        return next((n for g, p, n in self.confusion if g == gold and p == predicted), 0)

    def as_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "negative_precision": self.negative_precision, "negative_recall": self.negative_recall,
                "unscored": self.unscored}


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def figures(gold: Sequence[str], predicted: Sequence[str]) -> Figures:
    """Accuracy, macro-F1 over negative/neutral/positive, negative precision and recall."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    f1s = []
    prec_rec: dict[str, tuple[float, float]] = {}
    for cls in CLASSES:
        tp = sum(1 for g, p in zip(gold, predicted, strict=False) if g == cls and p == cls)
        pred = sum(1 for p in predicted if p == cls)
        true = sum(1 for g in gold if g == cls)
        precision, recall = _ratio(tp, pred), _ratio(tp, true)
        prec_rec[cls] = (precision, recall)
        f1s.append(_ratio(2 * tp, pred + true))
    correct = sum(1 for g, p in zip(gold, predicted, strict=False) if g == p)
    return Figures(
        n=len(gold),
        accuracy=_ratio(correct, len(gold)),
        macro_f1=sum(f1s) / len(CLASSES),
        negative_precision=prec_rec["negative"][0],
        negative_recall=prec_rec["negative"][1],
        unscored=sum(1 for p in predicted if p == "unscored"),
        confusion=tuple(sorted((g, p, n) for (g, p), n in Counter(zip(gold, predicted, strict=True)).items())),
    )
