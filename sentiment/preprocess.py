"""Brand-aware text preparation shared by every scorer.

Brand and competitor names, @handles, brand hashtags and URLs are replaced by neutral placeholder
tokens before any scorer sees the text, so "Spirit", "Joy" or "United" can never move a score.
Emoji, punctuation, capitals and elongations ("sooooo") are kept: they carry the author's feeling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

MAX_CHARS = 5000  # enough to judge any real post; bounds the work hostile 100 KB texts can cause

# Placeholders chosen to be outside VADER's lexicon and every training vocabulary's sentiment words.
BRAND = " brandx "
HANDLE = " @user "
URL = " http "

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"[ \t]{2,}")


def _term_variants(term: str) -> list[str]:
    """A brand term as written, without its @ or #, and with its spaces removed (hashtag form)."""
    term = term.strip().lstrip("@#").strip()
    if not term:
        return []
    return list({term, term.replace(" ", ""), term.replace(" ", "_")})


@lru_cache(maxsize=64)
def brand_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any brand term, its @handle or #hashtag, as whole words."""
    variants = sorted({v for t in terms for v in _term_variants(t)}, key=len, reverse=True)
    if not variants:
        return None
    body = "|".join(re.escape(v) for v in variants)
    # Possessives and plurals ("United's", "Spirits") are the brand too.
    return re.compile(rf"(?<!\w)[@#]?(?:{body})(?:'s|’s|s)?(?!\w)", re.IGNORECASE)


def prepare(text: str, brands: re.Pattern[str] | None = None) -> str:
    """The text a scorer sees: brands, handles and URLs neutralised, control characters gone."""
    text = _SURROGATE.sub("", _CONTROL.sub(" ", (text or "")[:MAX_CHARS]))
    text = _URL.sub(URL, text)
    if brands is not None:
        text = brands.sub(BRAND, text)
    text = _HANDLE.sub(HANDLE, text)
    return _SPACES.sub(" ", text).strip()


_PLACEHOLDERS = re.compile(rf"{re.escape(BRAND.strip())}|{re.escape(HANDLE.strip())}|(?<!\w){URL.strip()}(?!\w)|\s+")


def has_content(prepared: str) -> bool:
    """Whether a prepared text says anything besides brand names, handles, links and punctuation
    ("@united", "Joy Airlines, Joy!" do not; an emoji or a word does)."""
    # What is left once the placeholders and spaces are removed, read gap by gap up to the first sign of
    # content (the same answer as removing them all first, without building the rest).
    start = 0
    for found in _PLACEHOLDERS.finditer(prepared):
        if _says_something(prepared, start, found.start()):
            return True
        start = found.end()
    return _says_something(prepared, start, len(prepared))


def _says_something(text: str, start: int, end: int) -> bool:
    return any(not unicodedata.category(ch).startswith("P") for ch in text[start:end])


def brand_terms_from(names: Iterable[str]) -> tuple[str, ...]:
    """Sorted, de-duplicated, non-empty brand terms (the cache key of brand_pattern)."""
    return tuple(sorted({n.strip() for n in names if n and n.strip()}))
