"""Features of the learned scorer: hashed word and character n-grams, VADER's scores, cue hits, language.

Hashing needs no vocabulary, so a model is its coefficients plus these few parameters. The hashing is
our own (zlib.crc32 for words, a vectorised polynomial hash for character n-grams) and uses numpy
only, so scoring imports neither scikit-learn nor scipy (loading fast) and gives the same features
with any library version. Training and scoring both build features here, so they cannot drift apart.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import chain
from typing import Any

import numpy as np

from sentiment.preprocess import BRAND

_PLACEHOLDER = re.compile(re.escape(BRAND.strip()))  # what normalise removes (as a literal: _BRAND_WORD)
_BRAND_WORD = BRAND.strip()
_DIGITS = re.compile(r"\d")
_TOKEN = re.compile(r"[@#]?\w+|[^\w\s]{1,3}")
_SPACE_RUNS = re.compile(r"\s+")
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-64 prime: spreads code points over all 64 bits
_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio constant: the top bits of h * _MIX are well mixed


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to rebuild the feature space; saved inside the model artifact."""

    word_bits: int = 18
    char_bits: int = 18
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 5)
    use_vader: bool = True
    languages: tuple[str, ...] = ("ar", "de", "en", "es", "fr", "hi", "it", "pt")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("word_ngrams", "char_ngrams", "languages"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)

    @property
    def n_dense(self) -> int:
        # vader compound, pos, neg, neu; cue hits; has "?", has "!"; one bias per language + unknown
        return (4 if self.use_vader else 0) + 3 + len(self.languages) + 1

    @property
    def n_features(self) -> int:
        return 2**self.word_bits + 2**self.char_bits + self.n_dense


@dataclass
class SparseRows:
    """Feature rows as coordinate triples (row, column, value), duplicates already summed."""

    n_rows: int
    rows: np.ndarray  # int64
    cols: np.ndarray  # int64
    values: np.ndarray  # float32

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """Rows times a (n_features, k) weight matrix, without scipy."""
        out = np.zeros((self.n_rows, weights.shape[1]), dtype=np.float64)
        contrib = weights[self.cols] * self.values[:, None]
        for k in range(weights.shape[1]):
            out[:, k] = np.bincount(self.rows, weights=contrib[:, k], minlength=self.n_rows)
        return out

    def select(self, rows: np.ndarray, entries: np.ndarray) -> SparseRows:
        """The given rows only (in that order), renumbered from 0; `entries` marks the entries of those rows."""
        new_index = np.full(self.n_rows, -1, dtype=np.int64)
        new_index[rows] = np.arange(rows.size)
        return SparseRows(int(rows.size), new_index[self.rows[entries]], self.cols[entries], self.values[entries])

    def to_csr(self, n_features: int):
        import scipy.sparse as sp

        return sp.csr_matrix((self.values, (self.rows, self.cols)), shape=(self.n_rows, n_features))


def _scaled(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each n-gram occurrence weighs 1/sqrt(n-grams in its row): long texts do not outweigh short ones.
    (Cheaper than an l2 norm of de-duplicated counts, and the same at training and scoring time.)"""
    per_row = np.bincount(rows, minlength=n_rows).astype(np.float32)
    scale = 1.0 / np.sqrt(np.maximum(per_row, 1.0))
    return rows, cols, scale[rows]


class Featurizer:
    """Turns prepared texts (see sentiment.preprocess) into feature rows."""

    def __init__(self, spec: FeatureSpec):
        self.spec = spec
        self._lang_index = {lang: i for i, lang in enumerate(spec.languages)}
        self._token_hashes: dict[str, int] = {}

    @staticmethod
    def normalise(text: str) -> str:
        """Lower case, digits as 0, brand placeholders and runs of white space removed."""
        # str.replace and split/join give what _PLACEHOLDER.sub(" ", ...) and _SPACE_RUNS.sub(" ", ...).strip()
        # give (a literal; \s is str.isspace, tests/test_scorer_pinned.py checks every code point), faster.
        return " ".join(_DIGITS.sub("0", text.lower().replace(_BRAND_WORD, " ")).split())

    def _word_features(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Word uni- and bigrams: tokens hashed with crc32 (cached), bigrams combined numerically."""
        cache = self._token_hashes
        tokens = [_TOKEN.findall(text) for text in texts]
        row_parts = [len(t) for t in tokens]
        flat = list(chain.from_iterable(tokens))
        hashes = list(map(cache.get, flat))
        if None in hashes:
            for j, h in enumerate(hashes):
                if h is None:
                    token = flat[j]
                    h = hashes[j] = zlib.crc32(token.encode("utf-8", "surrogatepass"))
                    if len(cache) < 200_000:
                        cache[token] = h
        token_hash = np.array(hashes, dtype=np.uint64)
        token_row = np.repeat(np.arange(len(texts), dtype=np.int64), row_parts)
        shift = np.uint64(64 - self.spec.word_bits)
        lo, hi = self.spec.word_ngrams
        all_rows, all_cols = [], []
        for n in range(lo, hi + 1):
            count = token_hash.size - n + 1
            if count <= 0:
                continue
            h = np.full(count, np.uint64(n), dtype=np.uint64)
            for k in range(n):
                h = h * _MULTIPLIER + token_hash[k:k + count]
            ok = token_row[:count] == token_row[n - 1:n - 1 + count]  # the n tokens are in one text
            all_rows.append(token_row[:count][ok])
            all_cols.append(((h[ok] * _MIX) >> shift).astype(np.int64))
        if not all_rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(all_rows), np.concatenate(all_cols)

    def _char_features(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Character n-grams inside space-padded words, hashed for the whole batch at once."""
        lo, hi = self.spec.char_ngrams
        # " w1  w2 " per text, texts joined by two spaces: an n-gram with a double space crosses words.
        joined = "  ".join(" " + t.replace(" ", "  ") + " " for t in texts)
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
        if codes.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        lengths = np.array([len(t.replace(" ", "  ")) + 2 for t in texts], dtype=np.int64)
        row_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 2)[: codes.size]
        space = codes == 32
        double = np.zeros(codes.size + 1, dtype=np.int64)
        double[1:codes.size] = space[:-1] & space[1:]
        crossings = np.cumsum(double)  # crossings[j] = double spaces starting before position j
        all_rows, all_cols = [], []
        shift = np.uint64(64 - self.spec.char_bits)
        h = None
        for n in range(lo, hi + 1):
            count = codes.size - n + 1
            if count <= 0:
                continue
            if h is None:  # hash(n-gram) = n * M^n + sum of code_k * M^(n-1-k), all mod 2^64
                h = np.full(count, np.uint64(n), dtype=np.uint64)
                for k in range(n):
                    h = h * _MULTIPLIER + codes[k:k + count]
            else:  # the same value from the (n-1)-gram's: h * M + code_(n-1) + M^n (mod 2^64: exact)
                h = h[:count] * _MULTIPLIER + codes[n - 1:n - 1 + count] + np.uint64(pow(int(_MULTIPLIER), n, 1 << 64))
            ok = crossings[n - 1:n - 1 + count] == crossings[:count]  # no double space inside: one word
            all_cols.append(((h[ok] * _MIX) >> shift).astype(np.int64))
            all_rows.append(row_of[:count][ok])
        if not all_rows:  # nothing but one- or two-letter leftovers (e.g. a text that was only a brand name)
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(all_rows), np.concatenate(all_cols)

    def transform(self, texts: Sequence[str], langs: Sequence[str | None], cue_hits: Sequence[int],
                  vader: Sequence[dict[str, float]] | None) -> SparseRows:
        """Feature rows for prepared `texts` with their languages, cue counts and VADER scores."""
        n = len(texts)
        normal = [self.normalise(t) for t in texts]
        w_rows, w_cols, w_vals = _scaled(*self._word_features(normal), n)
        c_rows, c_cols, c_vals = _scaled(*self._char_features(normal), n)
        # Built as Python lists and converted once: per-cell numpy assignment costs more than the features.
        dense = np.zeros((n, self.spec.n_dense), dtype=np.float32)
        col = 0
        if self.spec.use_vader:
            if vader is None:
                raise ValueError("this model needs VADER scores")
            if n:
                dense[:, 0:4] = np.array([(v["compound"], v["pos"], v["neg"], v["neu"]) for v in vader],
                                         dtype=np.float32)
            col = 4
        dense[:, col] = np.minimum(np.asarray(cue_hits, dtype=np.float32), 3.0) / 3.0
        dense[:, col + 1] = np.array(["?" in t for t in texts], dtype=np.float32)
        dense[:, col + 2] = np.array(["!" in t for t in texts], dtype=np.float32)
        col += 3
        unknown = col + len(self.spec.languages)
        lang_cols = np.array([col + self._lang_index[lang] if lang in self._lang_index else unknown
                              for lang in langs], dtype=np.int64)
        dense[np.arange(n), lang_cols] = 1.0
        d_rows, d_cols = np.nonzero(dense)
        char_offset = 1 << self.spec.word_bits
        dense_offset = char_offset + (1 << self.spec.char_bits)
        return SparseRows(
            n,
            np.concatenate([w_rows, c_rows, d_rows.astype(np.int64)]),
            np.concatenate([w_cols, c_cols + char_offset, d_cols.astype(np.int64) + dense_offset]),
            np.concatenate([w_vals, c_vals, dense[d_rows, d_cols]]).astype(np.float32),
        )
