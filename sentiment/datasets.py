"""Readers for the labelled development data (../shared/data), used by training and the benchmark.

Labels are always the words negative / neutral / positive. Nothing here is copied into the project;
the data folder is passed in.

The VADER paper's tweets and the Amazon reviews have no official splits. Each is cut in two fixed
halves, by a hash of the tweet id and of the reviewed product (so reviews of one product never sit
on both sides): the `train` half is learned from, for sources beyond the 2013-2017 tweet collections,
and the `test` half is held back and only ever scored.
"""

from __future__ import annotations

import csv
import zlib
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


HALVES = ("train", "test")


def in_half(key: str, half: str | None) -> bool:
    """Whether the item with this key (tweet id, product id) belongs to `half` (None: to the whole set)."""
    if half is None:
        return True
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, not {half!r}")
    return HALVES[zlib.crc32(key.encode("utf-8")) % 2] == half


def _suffix(half: str | None) -> str:
    return f" {half} half" if half else ""


def vader_tweets(data: Path, half: str | None = None) -> LabelledSet:
    """The VADER paper's 4,200 tweets (or one half): mean rating >= 0.2 positive, <= -0.2 negative, else neutral."""
    texts, labels = [], []
    for line in _lines(data / "sentiment" / "vader-icwsm" / "tweets_GroundTruth.txt"):
        parts = line.split("\t", 2)
        if len(parts) != 3 or not in_half(parts[0].strip(), half):
            continue
        rating = float(parts[1])
        texts.append(parts[2])
        labels.append("positive" if rating >= 0.2 else "negative" if rating <= -0.2 else "neutral")
    return LabelledSet("vader-paper tweets" + _suffix(half), texts, labels, [None] * len(texts))


def amazon_reviews(data: Path, half: str | None = None) -> LabelledSet:
    """5,000 Amazon food reviews (or one half; summary + text): 1-2 stars negative, 3 neutral, 4-5 positive."""
    path = data / "reviews" / "amazon-finefood-first5000.csv"
    if not path.exists():
        raise DataMissing(f"{path}: not found (the development data lives in ../shared/data)")
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if not in_half(row["ProductId"], half):
                continue
            stars = int(row["Score"])
            texts.append(f"{row['Summary']}\n{row['Text']}")
            labels.append("negative" if stars <= 2 else "neutral" if stars == 3 else "positive")
    return LabelledSet("amazon reviews" + _suffix(half), texts, labels, [None] * len(texts))


def tweet_training_sets(data: Path) -> list[LabelledSet]:
    """The tweet train splits: TweetEval train and UMSAB train in all eight languages."""
    return [tweeteval(data, "train")] + [umsab(data, lang, "train") for lang in UMSAB_LANGUAGES]


def training_sets(data: Path) -> list[LabelledSet]:
    """Everything the shipped model learns from: the tweet train splits plus the train halves of the
    VADER-paper tweets and the Amazon reviews (other sources, other years, long reviews)."""
    return tweet_training_sets(data) + [vader_tweets(data, "train"), amazon_reviews(data, "train")]


def validation_sets(data: Path) -> list[LabelledSet]:
    """The val splits used to choose settings: UMSAB val in eight languages and TweetEval val."""
    return [umsab(data, lang, "val") for lang in UMSAB_LANGUAGES] + [tweeteval(data, "val")]


def held_out_sets(data: Path) -> list[LabelledSet]:
    """Sets never trained or tuned on: the held-back halves of the VADER-paper tweets and Amazon reviews."""
    return [vader_tweets(data, "test"), amazon_reviews(data, "test")]
