"""Emerging topics, pure maths: the terms of a post, near-duplicate keys, and keyness.

- Terms of a post: words (no stop words, no brand names or handles, three letters or more), two-word
  phrases of such words, hashtags and linked domains. Each counts once per post (document frequency).
- Near-duplicates: a copy-paste campaign or a retweet storm is one text with small changes (the
  "RT @someone:" prefix, handles, links, punctuation, case, numbers). Posts whose normalised text is
  the same are one cluster; it counts once in the term counts and is reported with its size.
- Keyness: Dunning's log-likelihood (G²) of a term's count in this period against a reference (the
  previous period, or the brand's baseline), with minimum counts so a small brand's three posts are
  never "emerging". G² ≥ 10.83 is p < 0.001 for one degree of freedom.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_URL = re.compile(r"https?://[^\s<>\"')]+", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w#])#(\w{2,})")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_RETWEET = re.compile(r"^\s*RT\s+@\w+:?\s*", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_](?:[\w'’]*[^\W_])?")
# Chat words and filler that survive the stop-word list but say nothing about a topic.
EXTRA_STOP = frozenset("""
    im ive dont doesnt didnt cant wont isnt thats youre theyre lol lmao omg pls plz just like really
    got get gets getting going know think thing things still today tonight yesterday week month day
    time times now also even one two three way lot bit make made want need anyone someone everyone
    guys thanks thank hey hi yes yeah ok okay new good great bad better best
""".split())
# English function words (scikit-learn's ENGLISH_STOP_WORDS, BSD licence, without the words that are
# topics in customer talk: "bill", "down", "call", "fire", "system", …). Kept here: importing
# scikit-learn's text module costs two seconds (SciPy) for a list of words.
STOP_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also although
always am among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere
are around as at be became because become becomes becoming been before beforehand behind being below
beside besides between beyond both bottom but by can cannot cant co con could couldnt cry de
describe do done due during each eg eight either eleven else elsewhere enough etc even ever every
everyone everything everywhere except few fifteen fifty fill find first five for former formerly
forty four from further get give go had has hasnt have he hence her here hereafter hereby herein
hereupon hers herself him himself his how however hundred i ie if in inc indeed into is it its
itself keep last latter latterly least less ltd made many may me meanwhile might mill mine more
moreover most mostly much must my myself name namely neither never nevertheless next nine no nobody
none noone nor not nothing now nowhere of off often on once one only onto or other others otherwise
our ours ourselves out over own part per perhaps please put rather re same see seem seemed seeming
seems serious several she should show since sincere six sixty so some somehow someone something
sometime sometimes somewhere still such take ten than that the their them themselves then thence
there thereafter thereby therefore therein thereupon these they thick thin third this those though
three through throughout thru thus to together too toward towards twelve twenty two un under until
up upon us very via was we well were what whatever when whence whenever where whereafter whereas
whereby wherein whereupon wherever whether which while whither who whoever whole whom whose why will
with within without would yet you your yours yourself yourselves
""".split())
STOP = STOP_WORDS | EXTRA_STOP
# Stop words that start a phrase worth reporting: "no internet", "any update", "not working".
PHRASE_LEADS = frozenset({"no", "not", "any", "never", "cant", "wont"})
LLR_SIGNIFICANT = 10.83  # G² at p < 0.001, one degree of freedom


_DIGITS = re.compile(r"\d+")
_TOKEN = re.compile(r"\w+")


def normalise(text: str) -> str:
    """The text with what differs between copies removed: RT prefix, handles, links, case, digits, punctuation."""
    if text[:2] in ("RT", "rt", "Rt"):
        text = _RETWEET.sub("", text)
    if "http" in text or "HTTP" in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _HANDLE.sub(" ", text)
    return " ".join(_TOKEN.findall(_DIGITS.sub("0", text.lower())))


def duplicate_key(text: str) -> str:
    """A short key shared by near-identical posts (see normalise); the empty text has its own key."""
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=8).hexdigest()


def terms_of(text: str, ignore: frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    """(kind, term) pairs of a post: kind is "term", "phrase", "hashtag" or "domain".

    `ignore` holds lower-case words never worth reporting (the brand's own names and handles).
    """
    found: set[tuple[str, str]] = set()
    plain = text
    if "http" in text or "HTTP" in text:  # most posts have no link, hashtag or handle: skip those passes
        for url in _URL.findall(text):
            host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
            if host:
                found.add(("domain", host))
        plain = _URL.sub(" ", text)
    if "#" in plain:
        for tag in _HASHTAG.findall(plain):
            if tag.lower() not in ignore:
                found.add(("hashtag", "#" + tag.lower()))
        plain = _HASHTAG.sub(" ", plain)
    if "@" in plain:
        plain = _HANDLE.sub(" ", plain)
    previous: str | None = None
    for raw in _WORD.findall(plain.lower()):
        word = raw.replace("’", "'").replace("'", "")
        if word in PHRASE_LEADS:
            previous = word
            continue
        if len(word) < 3 or word in STOP or word in ignore:
            previous = None
            continue
        found.add(("term", word))
        if previous is not None:
            found.add(("phrase", f"{previous} {word}"))
        previous = word
    return found


def log_likelihood(a: int, total_a: int, b: float, total_b: float) -> float:
    """Signed G² of a count `a` of `total_a` against `b` of `total_b`: positive when the term is more
    frequent in the first corpus, negative when less (Rayson & Garside's keyness)."""
    if total_a <= 0 or total_b <= 0 or (a + b) <= 0:
        return 0.0
    expected_a = total_a * (a + b) / (total_a + total_b)
    expected_b = total_b * (a + b) / (total_a + total_b)
    g2 = 0.0
    if a > 0:
        g2 += a * math.log(a / expected_a)
    if b > 0:
        g2 += b * math.log(b / expected_b)
    g2 *= 2
    return round(g2 if a / total_a >= b / total_b else -g2, 2)


@dataclass
class Corpus:
    """Term document frequencies of a set of posts, near-duplicates counted once."""

    posts: int = 0  # distinct posts after folding near-duplicates
    mentions: int = 0  # every mention, duplicates included
    terms: Counter[tuple[str, str]] = field(default_factory=Counter)
    clusters: Counter[str] = field(default_factory=Counter)  # duplicate key -> size

    def add(self, text: str, ignore: frozenset[str] = frozenset()) -> str:
        """Count one post; returns its duplicate key."""
        key = duplicate_key(text)
        self.mentions += 1
        self.clusters[key] += 1
        if self.clusters[key] == 1:
            self.posts += 1
            self.terms.update(terms_of(text, ignore))
        return key


def corpus_of(texts: Iterable[str], ignore: frozenset[str] = frozenset()) -> Corpus:
    corpus = Corpus()
    for text in texts:
        corpus.add(text, ignore)
    return corpus


@dataclass
class Emerging:
    """One term that grew: its counts here, before and in the baseline, and its keyness against each."""

    kind: str
    term: str
    mentions: int  # posts containing it this period (near-duplicates once)
    share_pct: float  # of this period's posts
    previous: int  # posts containing it in the previous period
    baseline_per_period: float | None  # average posts containing it per baseline period
    growth_llr: float | None  # G² against the previous period (signed); None without one
    baseline_llr: float | None  # G² against the baseline (signed); None without one


def emerging(now: Corpus, before: Corpus, baseline: Corpus, baseline_periods: int, *, min_count: int = 5,
             min_posts: int = 20, min_llr: float = LLR_SIGNIFICANT, top: int = 15) -> list[Emerging]:
    """The terms that grew most against the previous period and the baseline.

    Quiet unless the period has `min_posts` posts and the term `min_count` of them, its keyness
    against the baseline (against the previous period when there is no baseline) reaches `min_llr`,
    and it is up on the previous period. A phrase is kept only when it says more than its words: it must be in at
    least half the posts of its commonest word. Ordered by that keyness.
    """
    if baseline.posts < min_posts:
        baseline = Corpus()  # a few posts are no baseline (a brand new brand, history not collected yet)
    if now.posts < min_posts or not (before.posts or baseline.posts):
        return []  # too few posts, or no history to have grown from
    out: list[Emerging] = []
    for (kind, term), n in now.terms.items():
        if n < min_count:
            continue
        prev = before.terms.get((kind, term), 0)
        base = baseline.terms.get((kind, term), 0)
        g_prev = log_likelihood(n, now.posts, prev, before.posts) if before.posts else math.inf
        g_base = log_likelihood(n, now.posts, base, baseline.posts) if baseline.posts else math.inf
        # Significant against the baseline (the longer, steadier reference) when there is one, else
        # against the previous period, and up on the previous period either way.
        primary = g_base if baseline.posts else g_prev
        if primary < min_llr or (before.posts and g_prev <= 0):
            continue
        if kind == "phrase" and 2 * n < max(now.terms.get(("term", w), 0) for w in term.split()):
            continue
        out.append(Emerging(kind, term, n, round(100.0 * n / now.posts, 1), prev,
                            round(base / baseline_periods, 2) if baseline.posts else None,
                            g_prev if math.isfinite(g_prev) else None, g_base if math.isfinite(g_base) else None))
    out.sort(key=lambda e: (-(e.baseline_llr if e.baseline_llr is not None else e.growth_llr or 0.0),
                            -e.mentions, e.term))
    return _drop_covered(out)[:top]


def _drop_covered(rows: list[Emerging]) -> list[Emerging]:
    """A word whose posts are nearly all those of a phrase holding it ("update" inside "any update")
    adds nothing: keep the phrase."""
    phrases = [r for r in rows if r.kind == "phrase"]
    keep = []
    for r in rows:
        if r.kind == "term" and any(r.term in p.term.split() and p.mentions >= 0.8 * r.mentions for p in phrases):
            continue
        keep.append(r)
    return keep
