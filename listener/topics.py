"""Emerging topics and spike explanations, read from the store (the maths is in sentiment.topics).

- `period_topics`: per brand and period, the terms, phrases, hashtags and linked domains that grew most
  against the previous period and the brand's baseline, and the near-duplicate clusters with their size.
- `explain`: what drove a window (a spike hour, a spike day): the growing terms, the biggest clusters
  with one representative post each, the sources, languages and most-reached authors, each with the
  share of the window's mentions it covers. Alerts, chart annotations and the report all use it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from listener.config import Config
from listener.models import iso
from listener.store import Store
from listener.trends.rollup import COUNTED, NO_LANGUAGE, parse_themes, stored_audience
from sentiment.topics import Corpus, Emerging, duplicate_key, emerging

SNIPPET = 160
EXPLAIN_MIN_LLR = 0.5  # grown at all, beyond rounding
REFERENCE_POSTS = 1000  # an even sample this big is plenty for "the brand's usual talk"
WINDOW_POSTS = 1500  # and for a spike's own posts (its shares are shares of the sample)
NEGATIVE = "(label = 'negative' OR detractor = 1)"


def brand_words(config: Config, brand: str) -> frozenset[str]:
    """Lower-case words never reported as topics for `brand`: the names, keywords and handles of every
    tracked brand (a brand's own name "grows" with every spike)."""
    words: set[str] = set()
    for b in config.all_tracked():
        for text in (b.name, *b.keywords, *b.handles):
            words.update(w for w in re.findall(r"\w+", text.lower()))
            words.add(re.sub(r"\W+", "", text.lower()))
    words.add(brand.lower())
    return frozenset(words)


@dataclass
class Post:
    """One stored mention, as topics and explanations need it."""

    id: int
    text: str
    source: str
    lang: str
    author: str | None
    followers: int
    url: str | None
    negative: bool
    themes: tuple[str, ...] = ()
    metrics: str | None = None
    thread: str | None = None

    @property
    def audience(self) -> str:
        return stored_audience({"id": self.id, "source": self.source, "author": self.author,
                                "author_followers": self.followers, "url": self.url, "metrics": self.metrics,
                                "thread_key": self.thread})


COLUMNS = ("id, text, title, source, lang, author, author_followers, url, metrics, thread_key, brand, also_brands, "
           "label, detractor, themes")


def read_posts(store: Store, brand: str, since: datetime, until: datetime, *, negative_only: bool = False,
               cap: int | None = None) -> tuple[list[Post], int]:
    """The brand's customer mentions in [since, until) (a mention naming the brand among others too),
    and how many there were. Above `cap`, an even, repeatable sample of about `cap` of them is returned.

    Two index-driven reads: the brand's own mentions (brand, created_at), and the few naming it among
    others (a partial index on created_at of the mentions with also_brands)."""
    span = "created_at >= ? AND created_at < ?"
    filters = f" AND {COUNTED}" + (f" AND {NEGATIVE}" if negative_only else "")
    own_where = f"brand = ? AND {span}{filters}"
    also_where = (f"also_brands IS NOT NULL AND {span} AND (brand IS NULL OR brand != ?) AND also_brands LIKE ?"
                  f"{filters}")
    own_params: list[Any] = [brand, iso(since), iso(until)]
    also_params: list[Any] = [iso(since), iso(until), brand, f'%"{brand}"%']
    total = int(store.scalar(f"SELECT COUNT(*) FROM mentions WHERE {own_where}", own_params) or 0)
    total += int(store.scalar(f"SELECT COUNT(*) FROM mentions WHERE {also_where}", also_params) or 0)
    sample = ""
    if cap and total > cap:
        # Knuth's multiplicative hash of the id spreads the kept rows evenly over time and sources.
        sample = f" AND ((id * 2654435761) % 100000) < {max(1, int(100000 * cap / total))}"
    rows = [*store.conn.execute(f"SELECT {COLUMNS} FROM mentions WHERE {own_where}{sample}", own_params),
            *store.conn.execute(f"SELECT {COLUMNS} FROM mentions WHERE {also_where}{sample}", also_params)]
    posts = []
    for (mid, text, title, source, lang, author, followers, url, metrics, thread, own, also, label,
         detractor, themes) in rows:
        if own != brand and brand not in json.loads(also or "[]"):
            continue  # a LIKE match on another brand's name that merely contains this one
        posts.append(Post(mid, f"{title}. {text}" if title else text, source, lang or NO_LANGUAGE, author,
                          int(followers or 0), url, label == "negative" or bool(detractor),
                          parse_themes(themes) if themes != "[]" else (), metrics, thread))
    return posts, total


def corpus(posts: list[Post], ignore: frozenset[str]) -> Corpus:
    c = Corpus()
    for p in posts:
        c.add(p.text, ignore)
    return c


@dataclass
class Cluster:
    """Near-identical posts (a copy-paste campaign, a retweet storm), counted once, with their size."""

    size: int
    text: str  # one representative post (the first)
    url: str | None
    share_pct: float  # of the window's mentions


def clusters(posts: list[Post], min_size: int, top: int = 5) -> list[Cluster]:
    groups: dict[str, list[Post]] = {}
    for p in posts:
        groups.setdefault(duplicate_key(p.text), []).append(p)
    big = sorted((g for g in groups.values() if len(g) >= min_size), key=lambda g: (-len(g), g[0].id))[:top]
    return [Cluster(len(g), _snippet(g[0].text), g[0].url, _share(len(g), len(posts))) for g in big]


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[:SNIPPET - 1] + "…"


def _share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


@dataclass
class Share:
    """A slice of a window's mentions (a source, a language, a term) and its share of them."""

    name: str
    mentions: int
    share_pct: float


@dataclass
class Author:
    author: str
    source: str
    followers: int
    mentions: int


@dataclass
class Explanation:
    """What drove a window of mentions: every part says how much of the window it covers."""

    brand: str
    since: str
    until: str
    mentions: int  # mentions in the window (negative ones only, for a negative spike)
    negative_only: bool
    terms: list[Share] = field(default_factory=list)
    themes: list[Share] = field(default_factory=list)  # [sentiment.themes] of the window's mentions
    clusters: list[Cluster] = field(default_factory=list)
    sources: list[Share] = field(default_factory=list)
    languages: list[Share] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)
    summary: str = ""  # the language model's, when configured and it answered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def headline(self) -> str:
        """One line: what the window was about, in its top terms."""
        if not self.terms:
            return ""
        return "driven by " + ", ".join(f'"{t.name}" ({t.share_pct:.0f}%)' for t in self.terms[:4])

    def lines(self, clusters: bool = True) -> list[str]:
        """The explanation as short lines of plain text (alerts, the report: which shows clusters apart)."""
        what = "negative mentions" if self.negative_only else "mentions"
        out = []
        if self.terms:
            out.append(f"Growing terms (share of the {what}): "
                       + ", ".join(f"{t.name} {t.share_pct:.0f}%" for t in self.terms))
        if self.themes:
            out.append("Themes: " + ", ".join(f"{t.name} {t.share_pct:.0f}%" for t in self.themes))
        for c in self.clusters if clusters else []:
            out.append(f"{c.size} near-identical posts ({c.share_pct:.0f}%): \u201c{c.text}\u201d")
        if self.sources:
            out.append("Sources: " + ", ".join(f"{s.name} {s.share_pct:.0f}%" for s in self.sources))
        if self.languages:
            out.append("Languages: " + ", ".join(f"{s.name} {s.share_pct:.0f}%" for s in self.languages))
        if self.authors:
            out.append("Most-reached authors: " + ", ".join(
                f"{a.author} ({a.followers:,} {'members' if a.author.startswith('r/') else 'followers'} "
                f"on {a.source})" for a in self.authors))
        return out


def explain(config: Config, store: Store, brand: str, since: datetime, until: datetime, *,
            negative_only: bool = True, top: int = 6) -> Explanation:
    """What drove [since, until) for `brand` (its negative mentions, for a negative spike), against
    everything said about the brand in the 24 hours and the 7 days before.

    Terms: the window's terms that grew against both (sentiment.topics.emerging with lower minimums,
    as a spike is a few dozen posts), each with the share of the window's mentions holding it.
    """
    cfg = config.topics
    ignore = brand_words(config, brand)
    posts, total = read_posts(store, brand, since, until, negative_only=negative_only,
                              cap=min(cfg.max_posts, WINDOW_POSTS))
    span = until - since
    # The references are everything said about the brand before (not only the negative): what the
    # spike says more than the brand's usual talk.
    ref_cap = min(cfg.max_posts, REFERENCE_POSTS)
    day_before, _ = read_posts(store, brand, since - max(span, timedelta(hours=24)), since, cap=ref_cap)
    week_before, _ = read_posts(store, brand, since - timedelta(days=7), since, cap=ref_cap)
    now_c = corpus(posts, ignore)
    # The spike itself is the significant event: its terms are ranked by keyness against the days
    # before with no significance floor, but a term must be in two posts at least and have grown.
    found = emerging(now_c, corpus(day_before, ignore), corpus(week_before, ignore), 7,
                     min_count=2, min_posts=min(cfg.min_posts, 5), min_llr=EXPLAIN_MIN_LLR, top=top)
    # share of the window's mentions (duplicates included) whose text holds the term
    term_share = _mention_shares(posts, now_c, found, ignore)
    themes = Counter(t for p in posts for t in p.themes)
    sources = Counter(p.source for p in posts)
    langs = Counter(p.lang for p in posts)
    widest: dict[str, Author] = {}
    for p in posts:
        audience = p.audience if p.followers else ""
        if p.followers and (p.author or audience.startswith("reddit:r/")):
            # a subreddit's members are the community's audience, not the commenter's
            name = audience.split(":", 1)[1] if audience.startswith("reddit:r/") else p.author
            a = widest.setdefault(audience, Author(name or "", p.source, p.followers, 0))
            a.mentions += 1
            a.followers = max(a.followers, p.followers)
    n = len(posts)
    return Explanation(
        brand=brand, since=iso(since), until=iso(until), mentions=total, negative_only=negative_only,
        terms=term_share,
        themes=[Share(t, c, _share(c, n)) for t, c in themes.most_common(4)],
        clusters=clusters(posts, cfg.min_cluster, top=3),
        sources=[Share(s, c, _share(c, n)) for s, c in sources.most_common(4)],
        languages=[Share(s, c, _share(c, n)) for s, c in langs.most_common(3)],
        authors=sorted(widest.values(), key=lambda a: (-a.followers, a.author))[:3],
    )


def _mention_shares(posts: list[Post], c: Corpus, found: list[Emerging], ignore: frozenset[str]) -> list[Share]:
    from sentiment.topics import terms_of

    holding = Counter()
    wanted = {(e.kind, e.term) for e in found}
    for p in posts:
        for key in terms_of(p.text, ignore) & wanted:
            holding[key] += 1
    return [Share(e.term, holding[(e.kind, e.term)], _share(holding[(e.kind, e.term)], len(posts))) for e in found]


# ---------------------------------------------------------------- the terms table (per brand and period)
@dataclass
class TermRow:
    brand: str
    kind: str  # term, phrase, hashtag, domain, or cluster
    term: str  # for a cluster: its representative post
    mentions: int
    share_pct: float
    previous_mentions: int | None
    baseline_per_period: float | None
    growth_llr: float | None
    baseline_llr: float | None
    example_url: str | None = None


def period_topics(config: Config, store: Store, brand: str, bounds: list[tuple[datetime, datetime]],
                  index: int, memo: dict | None = None) -> list[TermRow]:
    """The terms table rows of `brand` for period `bounds[index]`, against the period before it and
    the `[topics].baseline_periods` before that (bounds: consecutive periods, oldest first).

    `memo` (a dict kept by the caller across the periods of one table) reads each period once."""
    cfg = config.topics
    ignore = brand_words(config, brand)
    memo = {} if memo is None else memo

    def read(i: int, posts_too: bool = False) -> tuple[list[Post], Corpus]:
        if i < 0:
            return [], Corpus()
        key = (brand, bounds[i])
        # A memo entry may hold only a kept period's counts (posts None): enough to compare with.
        if key not in memo or (posts_too and memo[key][0] is None):
            posts = read_posts(store, brand, *bounds[i], cap=cfg.max_posts)[0]
            memo[key] = (posts, corpus(posts, ignore))
        return memo[key]

    posts, now_c = read(index, posts_too=True)
    if not posts:
        return []
    before = read(index - 1)[1]
    base = Corpus()
    n_base = 0
    for i in range(index - 1 - cfg.baseline_periods, index - 1):
        if i >= 0:
            part = read(i)[1]
            base.posts += part.posts
            base.mentions += part.mentions
            base.terms.update(part.terms)
            n_base += 1
    found = emerging(now_c, before, base, max(n_base, 1),
                     min_count=cfg.min_count, min_posts=cfg.min_posts, min_llr=cfg.min_llr, top=cfg.top)
    rows = [TermRow(brand, e.kind, e.term, e.mentions, e.share_pct, e.previous, e.baseline_per_period,
                    e.growth_llr, e.baseline_llr) for e in found]
    rows += [TermRow(brand, "cluster", c.text, c.size, c.share_pct, None, None, None, None, c.url)
             for c in clusters(posts, cfg.min_cluster)]
    return rows
