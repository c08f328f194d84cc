"""The shared query language: which texts are mentions of which brand.

Syntax (the subset X, Reddit and the social-listening tools agree on):

    brightwave                 a word, whole-word and case-insensitive ("@brightwave", "#brightwave" match);
                               in Chinese, Japanese and Thai anywhere, in Korean at the start of a word
    "bright wave"              a phrase: these words in this order
    a b   /   a AND b          both
    a OR b                     either; AND binds tighter than OR, as on X
    -a   /   NOT a             not; -(a OR b) negates a group
    ( ... )                    grouping

A brand's query is its `query` key when set, else its keywords and handles OR-ed together; its
`exclusions` are always added as `-(...)`. Every source matches locally with these rules, and the X
and Reddit collectors send the same query to the API in that API's syntax, so all sources agree on
what a mention is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from listener.errors import UserError


class QueryError(UserError):
    """A query that does not parse; the message names the position and what was expected."""


class TrackedName(Protocol):
    name: str
    keywords: list[str]
    handles: list[str]
    exclusions: list[str]


# ---------------------------------------------------------------- matching rules per script
# Scripts written without spaces between words: a keyword is found anywhere in a run of them, since no
# word boundary exists to look for ("今日はドトールで" holds ドトール). Han (with 々〆〇), Hiragana, Katakana
# (NFKC folds half-width kana into these), Thai, Lao, Khmer, Myanmar and Tibetan.
_UNSPACED = ("\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3005-\u3007\u3040-\u30ff"
             "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f")
# Hangul: Korean puts spaces between words but attaches particles and endings to them (삼성이, 삼성에서,
# Brightwave는), so a keyword must start a word but may be followed by more Hangul.
_HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
# What continues a word of a spaced script (Latin, Cyrillic, Greek, Arabic, ...): a word character that is
# neither of an unspaced script nor Hangul, so "Brightwaveのアプリ" and "Brightwave는" still match a Latin
# keyword while "Brightwavers" and "Brightwaveé" do not.
_SPACED_WORD = f"[^\\W{_UNSPACED}{_HANGUL}]"
_ANY_WORD = f"[^\\W{_UNSPACED}]"
_IS_UNSPACED = re.compile(f"[{_UNSPACED}]")
_IS_HANGUL = re.compile(f"[{_HANGUL}]")


def script_of(char: str) -> str:
    """'unspaced' (CJK, Thai, ...), 'hangul', or 'spaced' (every other script), for one character."""
    if _IS_UNSPACED.match(char):
        return "unspaced"
    if _IS_HANGUL.match(char):
        return "hangul"
    return "spaced"


def _left_edge(first: str) -> str:
    """What may not come right before a term starting with `first`."""
    if not (first.isalnum() or first in "@#_"):
        return ""  # a term starting with punctuation ("-30%") has no word to be part of
    kind = script_of(first)
    if kind == "unspaced":
        return ""
    # A Hangul word must start the word, after anything but Hangul or another spaced-script letter.
    return f"(?<!{_ANY_WORD if kind == 'hangul' else _SPACED_WORD})"


def _right_edge(last: str) -> str:
    """What may not come right after a term ending with `last`."""
    if not (last.isalnum() or last == "_"):
        return ""
    kind = script_of(last)
    if kind in ("unspaced", "hangul"):  # no spaces, or a particle may follow (삼성이)
        return ""
    return f"(?!{_SPACED_WORD})"


def _joint(before: str, after: str) -> str:
    """Between two words of a phrase: whitespace, or none where both sides are of an unspaced script
    ("ドトール コーヒー" is written ドトールコーヒー)."""
    return r"\s*" if script_of(before) == script_of(after) == "unspaced" else r"\s+"


def _term_pattern(words: list[str]) -> str:
    body = re.escape(words[0])
    for prev, word in zip(words, words[1:], strict=False):
        body += _joint(prev[-1], word[0]) + re.escape(word)
    return _left_edge(words[0][:1]) + body + _right_edge(words[-1][-1:])


def match_rule(words: tuple[str, ...]) -> str:
    """How a term is matched, in words (for `overheard query test`)."""
    kinds = {script_of(words[0][:1]), script_of(words[-1][-1:])}
    if kinds == {"unspaced"}:
        return "anywhere in the text, any case: this script is written without spaces"
    if "hangul" in kinds and kinds <= {"hangul", "unspaced"}:
        return "at the start of a word; Korean particles may follow"
    return "whole words, any case"


def _normalise(text: str) -> str:
    # NFKC folds full-width letters, half-width kana and ligatures ("Ｂｒｉｇｈｔｗａｖｅ", "ﾄﾞﾄｰﾙ", "ﬁ")
    # into what people typed.
    return unicodedata.normalize("NFKC", text)


# ---------------------------------------------------------------- the syntax tree
@dataclass(frozen=True)
class Term:
    """A word or a phrase (several words in order)."""

    words: tuple[str, ...]
    pattern: re.Pattern[str] = field(compare=False, repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        words = [_normalise(w) for w in self.words]
        object.__setattr__(self, "pattern", re.compile(_term_pattern(words), re.IGNORECASE))

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1

    def __str__(self) -> str:
        return f'"{" ".join(self.words)}"' if self.is_phrase else self.words[0]


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " ".join(_wrap(i, Or) for i in self.items)


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(i, And) for i in self.items)


@dataclass(frozen=True)
class Not:
    item: Node

    def __str__(self) -> str:
        return "-" + _wrap(self.item, (And, Or))


Node = Term | And | Or | Not


def _wrap(node: Node, kinds: type | tuple[type, ...]) -> str:
    return f"({node})" if isinstance(node, kinds) else str(node)


def term(text: str) -> Term:
    """A literal keyword, handle or phrase from config (no query syntax): several words make a phrase."""
    words = text.split()
    if not words:
        raise QueryError("an empty keyword cannot be matched")
    return Term(tuple(words))


# ---------------------------------------------------------------- parsing
_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<neg>-)(?=["(\w@#])|"(?P<phrase>[^"]*)(?P<close>"?)'
                    r'|(?P<word>[^\s()"]+))')


def parse(query: str) -> Node:
    """Parse a query; QueryError with the column and what is wrong when it does not parse."""
    return _Parser(query).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise self._error(pos, "cannot read this")
            col = pos + len(m.group(0)) - len(m.group(0).lstrip())
            if m.group("lp"):
                self.tokens.append(("(", "(", col))
            elif m.group("rp"):
                self.tokens.append((")", ")", col))
            elif m.group("neg"):
                self.tokens.append(("NOT", "-", col))
            elif m.group("phrase") is not None:
                if not m.group("close"):
                    raise self._error(col, 'a phrase is missing its closing "')
                if not m.group("phrase").split():
                    raise self._error(col, "an empty phrase matches nothing")
                self.tokens.append(("TERM", m.group("phrase"), col))
            else:
                word = m.group("word")
                if word == "-":
                    raise self._error(col, "a - must be written right before what it leaves out (-word)")
                if word in ("AND", "OR", "NOT"):
                    self.tokens.append((word, word, col))
                else:
                    if ":" in word and not word.lower().startswith(("http:", "https:")):
                        raise self._error(col, f"operators such as {word!r} are not part of the shared "
                                               "query language (use the brand's `languages` for lang:)")
                    self.tokens.append(("TERM", word, col))
            pos = m.end()
        self.i = 0

    def _error(self, col: int, problem: str) -> QueryError:
        return QueryError(f"query {self.text!r}: column {col + 1}: {problem}")

    def _peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def _col(self) -> int:
        return self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("the query is empty")
        node = self._or()
        if self.i < len(self.tokens):
            raise self._error(self._col(), f"unexpected {self.tokens[self.i][1]!r}")
        if not _has_positive(node):
            raise QueryError(f"query {self.text!r}: it only says what to leave out; add a term to look for")
        return node

    def _or(self) -> Node:
        items = [self._and()]
        while self._peek() == "OR":
            self.i += 1
            items.append(self._and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self) -> Node:
        items = [self._unary()]
        while self._peek() in ("AND", "NOT", "TERM", "("):
            if self._peek() == "AND":
                self.i += 1
            items.append(self._unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _unary(self) -> Node:
        kind = self._peek()
        if kind == "NOT":
            self.i += 1
            return Not(self._unary())
        if kind == "(":
            start = self._col()
            self.i += 1
            if self._peek() == ")":
                raise self._error(start, "empty parentheses")
            node = self._or()
            if self._peek() != ")":
                raise self._error(start, "this ( is never closed")
            self.i += 1
            return node
        if kind == "TERM":
            value = self.tokens[self.i][1]
            self.i += 1
            return Term(tuple(value.split()))
        if kind is None:
            raise self._error(len(self.text), "the query ends where a term was expected")
        raise self._error(self._col(), f"expected a term, got {self.tokens[self.i][1]!r}")


def _has_positive(node: Node) -> bool:
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_has_positive(i) for i in node.items)
    return all(_has_positive(i) for i in node.items)


# ---------------------------------------------------------------- matching and explaining
@dataclass
class Hit:
    term: Term
    found: str  # the text as it appears
    at: int  # character offset in the (normalised) text


def _eval(node: Node, text: str) -> tuple[bool, list[Hit]]:
    if isinstance(node, Term):
        m = node.pattern.search(text)
        return (True, [Hit(node, m.group(0), m.start())]) if m else (False, [])
    if isinstance(node, Not):
        ok, _ = _eval(node.item, text)
        return not ok, []
    hits: list[Hit] = []
    if isinstance(node, And):
        for item in node.items:
            ok, h = _eval(item, text)
            if not ok:
                return False, []
            hits.extend(h)
        return True, hits
    matched = False
    for item in node.items:
        ok, h = _eval(item, text)
        if ok:
            matched = True
            hits.extend(h)
    return matched, hits


@dataclass
class Explanation:
    """Whether a text matches a query, and the reasoning node by node (for `overheard query test`)."""

    matched: bool
    lines: list[str]
    hits: list[Hit]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def explain(query: Node | str, text: str) -> Explanation:
    """Match `text` against `query` and say why, one line per part of the query."""
    node = parse(query) if isinstance(query, str) else query
    norm = _normalise(text)
    lines: list[str] = []
    _explain_into(node, norm, 0, lines)
    ok, hits = _eval(node, norm)
    return Explanation(ok, lines, hits)


def _snippet(text: str, at: int, length: int) -> str:
    start, end = max(0, at - 20), min(len(text), at + length + 20)
    return ("…" if start else "") + text[start:end].replace("\n", " ") + ("…" if end < len(text) else "")


def _explain_into(node: Node, text: str, depth: int, lines: list[str]) -> bool:
    pad = "  " * depth
    if isinstance(node, Term):
        m = node.pattern.search(text)
        if m:
            lines.append(f"{pad}✓ {node} — found {m.group(0)!r} at character {m.start() + 1}: "
                         f"{_snippet(text, m.start(), len(m.group(0)))!r}")
            return True
        lines.append(f"{pad}✗ {node} — not in the text ({match_rule(node.words)})")
        return False
    if isinstance(node, Not):
        inner: list[str] = []
        ok = not _explain_into(node.item, text, depth + 1, inner)
        reason = "the excluded part is absent" if ok else "the excluded part is present, so this is not a match"
        lines.append(f"{pad}{'✓' if ok else '✗'} NOT {_wrap(node.item, (And, Or))} — {reason}")
        lines.extend(inner)
        return ok
    header = len(lines)
    lines.append("")
    results = [_explain_into(i, text, depth + 1, lines) for i in node.items]
    if isinstance(node, And):
        ok = all(results)
        lines[header] = f"{pad}{'✓' if ok else '✗'} all of ({sum(results)} of {len(results)} hold):"
    else:
        ok = any(results)
        lines[header] = f"{pad}{'✓' if ok else '✗'} any of ({sum(results)} of {len(results)} hold):"
    return ok


# ---------------------------------------------------------------- brands
def brand_query(tracked: TrackedName) -> Node:
    """The query for one brand or competitor: its `query` (or keywords and handles), minus its exclusions."""
    advanced = getattr(tracked, "query", None)
    if advanced:
        base = parse(advanced)
    else:
        terms = [term(x) for x in [*tracked.keywords, *tracked.handles]]
        base = terms[0] if len(terms) == 1 else Or(tuple(terms))
    if not tracked.exclusions:
        return base
    excluded = [term(x) for x in tracked.exclusions]
    return And((base, Not(excluded[0] if len(excluded) == 1 else Or(tuple(excluded)))))


def positive_terms(node: Node) -> list[Term]:
    """The terms a text must contain at least one of (what a coarse API search can ask for)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    out: list[Term] = []
    for item in node.items:
        out.extend(t for t in positive_terms(item) if t not in out)
    return out


def to_x(node: Node) -> str:
    """The query in X (Twitter API v2) search syntax: implicit AND, OR, `-` for NOT, quoted phrases."""
    if isinstance(node, Term):
        return str(node)
    if isinstance(node, Not):
        inner = node.item
        return "-" + (f"({to_x(inner)})" if isinstance(inner, (And, Or)) else to_x(inner))
    if isinstance(node, And):
        return " ".join(f"({to_x(i)})" if isinstance(i, Or) else to_x(i) for i in node.items)
    return " OR ".join(f"({to_x(i)})" if isinstance(i, And) else to_x(i) for i in node.items)


def to_reddit(node: Node) -> str:
    """A Reddit search query: the query without its NOT parts, in Reddit's AND/OR syntax.

    Reddit search is fuzzy (it stems words and searches link text) and its NOT is unreliable, so it is
    asked for a superset and the full query, exclusions included, is applied locally to what comes back.
    """
    if isinstance(node, Term):
        return str(node)
    if isinstance(node, Not):  # only reachable at the top of an And, which drops it
        return ""
    if isinstance(node, And):
        kept = [i for i in node.items if not isinstance(i, Not)]
        if len(kept) == 1:
            return to_reddit(kept[0])
        return " AND ".join(f"({to_reddit(i)})" if isinstance(i, Or) else to_reddit(i) for i in kept)
    rendered = [to_reddit(i) for i in node.items]
    return " OR ".join(f"({r})" if " AND " in r else r for r in rendered)


@dataclass
class BrandMatch:
    brand: str
    term: str


class BrandMatcher:
    """Finds the tracked brands (own brands and competitors) a text mentions."""

    def __init__(self, tracked: Iterable[TrackedName]) -> None:
        self._rules = [(t.name, brand_query(t)) for t in tracked]

    def matches(self, text: str) -> list[BrandMatch]:
        """Every tracked name the text matches, with the first term (by position) that made it match."""
        norm = _normalise(text)
        found = []
        for name, node in self._rules:
            ok, hits = _eval(node, norm)
            if ok:
                first = min(hits, key=lambda h: h.at) if hits else None
                found.append(BrandMatch(name, " ".join(first.term.words) if first else ""))
        return found

    def first(self, text: str) -> str | None:
        hits = self.matches(text)
        return hits[0].brand if hits else None

    def query_for(self, name: str) -> Node | None:
        return next((node for n, node in self._rules if n == name), None)

    def matches_brand(self, name: str, text: str) -> bool:
        """Whether `text` is a mention of the tracked name `name`."""
        node = self.query_for(name)
        return node is not None and _eval(node, _normalise(text))[0]
