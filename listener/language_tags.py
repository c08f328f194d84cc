"""One list of language codes for every source: what each API calls a language, as the detector names it.

Sources tag posts in their own dialect of BCP 47: X still sends the withdrawn ISO 639 codes (`in` for
Indonesian, `iw` Hebrew, `ji` Yiddish), Bluesky and Mastodon send regions and scripts (`pt-BR`,
`zh-Hant`), some servers send three-letter codes (`jpn`, `cmn`), and X marks posts that have no
language (`und`, `zxx`, `qme` links only, `qht` hashtags only, ...). Every tag is turned into the
primary language subtag the language detector (fastText's lid.176 labels) uses: lower-case ISO 639-1
where one exists, else ISO 639-3 (`en`, `id`, `he`, `pt`, `zh`, `yue`, `ckb`). A tag that names no
language becomes None, so the scoring stage detects the language from the text.
"""

from __future__ import annotations

from functools import lru_cache

import langcodes

# "No linguistic content", "undetermined" and X's private-use tags (q*), and "multiple languages".
NOT_A_LANGUAGE = {"und", "zxx", "mul", "mis", "art", "qme", "qam", "qct", "qht", "qst"}
# Where CLDR's preferred code differs from the detector's label for the same language.
DETECTOR_LABELS = {"fil": "tl", "nb": "no"}


def language_code(tag: object) -> str | None:
    """The one code for a source's language tag ('in' -> 'id', 'pt-BR' -> 'pt', 'und' -> None)."""
    return _code(tag) if isinstance(tag, str) else None


@lru_cache(maxsize=4096)
def _code(tag: str) -> str | None:
    text = tag.strip().replace("_", "-")
    if not text:
        return None
    try:
        # macro=True folds individual languages into their macrolanguage where the detector does (cmn -> zh)
        language = langcodes.Language.get(langcodes.standardize_tag(text, macro=True)).language
    except (ValueError, LookupError):  # LanguageTagError is a ValueError
        return None
    code = (language or "").lower()
    # ISO 639 codes are two or three letters; x-… private use, numbers and qaa-qtz (local use) name no language
    if not (code.isascii() and code.isalpha() and 2 <= len(code) <= 3) or code in NOT_A_LANGUAGE \
            or "qaa" <= code <= "qtz":
        return None
    return DETECTOR_LABELS.get(code, code)
