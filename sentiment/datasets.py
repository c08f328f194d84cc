"""Readers for the labelled development data (../shared/data), used by training and the benchmark.

Labels are always the words negative / neutral / positive. Nothing here is copied into the project;
the data folder is passed in.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

CLASSES = ("negative", "neutral", "positive")
UMSAB_LANGUAGES = {
    "arabic": "ar", "english": "en", "french": "fr", "german": "de",
    "hindi": "hi", "italian": "it", "portuguese": "pt", "spanish": "es",
}


@dataclass
class LabelledSet:
    """Texts with gold labels; `langs` is the language tag a source would give (None: detect it)."""

    name: str
    texts: list[str]
    labels: list[str]
    langs: list[str | None]

    def __len__(self) -> int:
        return len(self.texts)


class DataMissing(FileNotFoundError):
    """The development data is not where it was looked for."""


def _lines(path: Path) -> list[str]:
    if not path.exists():
        raise DataMissing(f"{path}: not found (the development data lives in ../shared/data)")
    return path.read_text(encoding="utf-8").splitlines()


def _numbered(values: list[str]) -> list[str]:
    return [CLASSES[int(v.strip())] for v in values]


def umsab(data: Path, language: str, split: str) -> LabelledSet:
    """UMSAB tweets of one language ('english', 'spanish', …), split 'train' or 'val', tagged with it."""
    folder = data / "sentiment" / "umsab" / language
    texts = _lines(folder / f"{split}_text.txt")
    labels = _numbered(_lines(folder / f"{split}_labels.txt"))
    return LabelledSet(f"umsab {language} {split}", texts, labels, [UMSAB_LANGUAGES[language]] * len(texts))


def tweeteval(data: Path, split: str) -> LabelledSet:
    """TweetEval English tweets, split 'train' or 'val'; English-tagged, as X tags them."""
    folder = data / "sentiment" / "tweeteval"
    texts = _lines(folder / f"{split}_text.txt")
    labels = _numbered(_lines(folder / f"{split}_labels.txt"))
    return LabelledSet(f"tweeteval {split}", texts, labels, ["en"] * len(texts))


def vader_tweets(data: Path) -> LabelledSet:
    """The VADER paper's 4,200 tweets: mean rating >= 0.2 positive, <= -0.2 negative, else neutral."""
    texts, labels = [], []
    for line in _lines(data / "sentiment" / "vader-icwsm" / "tweets_GroundTruth.txt"):
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        rating = float(parts[1])
        texts.append(parts[2])
        labels.append("positive" if rating >= 0.2 else "negative" if rating <= -0.2 else "neutral")
    return LabelledSet("vader-paper tweets", texts, labels, [None] * len(texts))


def amazon_reviews(data: Path) -> LabelledSet:
    """5,000 Amazon food reviews (summary + text): 1-2 stars negative, 3 neutral, 4-5 positive."""
    path = data / "reviews" / "amazon-finefood-first5000.csv"
    if not path.exists():
        raise DataMissing(f"{path}: not found (the development data lives in ../shared/data)")
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            stars = int(row["Score"])
            texts.append(f"{row['Summary']}\n{row['Text']}")
            labels.append("negative" if stars <= 2 else "neutral" if stars == 3 else "positive")
    return LabelledSet("amazon reviews", texts, labels, [None] * len(texts))


def training_sets(data: Path) -> list[LabelledSet]:
    """Every train split: TweetEval train and UMSAB train in all eight languages."""
    return [tweeteval(data, "train")] + [umsab(data, lang, "train") for lang in UMSAB_LANGUAGES]


def validation_sets(data: Path) -> list[LabelledSet]:
    """The val splits used to choose settings: UMSAB val in eight languages and TweetEval val."""
    return [umsab(data, lang, "val") for lang in UMSAB_LANGUAGES] + [tweeteval(data, "val")]


def held_out_sets(data: Path) -> list[LabelledSet]:
    """Sets never trained or tuned on: the generalisation check."""
    return [vader_tweets(data), amazon_reviews(data)]
