"""The cascade: the fast learned model scores every mention; the second look (sentiment/strong.py)
re-scores the ones it is unsure of and every one that could raise an alert.

Routed to the second look: a scored mention whose fast label has a probability below `route_below`,
every fast negative, every mention that needs a reply, and every mention the caller marks as a
priority (high reach, addressed to a support handle: the pipeline knows those, see
listener/scoring.py). The two models' probabilities are mixed (the second look's share
`STRONG_WEIGHT`) and the label is chosen as the fast model chooses it. `Score.model` says which
decided: `learned` or `learned+e5`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from sentiment import strong
from sentiment.cues import cue_strength
from sentiment.learned import CLASSES, FastParts, LearnedScorer
from sentiment.preprocess import has_content, prepare
from sentiment.score import Score
from sentiment.tone import rewrite_slang, tone_logits

SECOND_LOOK = "learned+e5"
# Languages the second look is not asked about: on UMSAB Hindi (Hinglish) val it took macro-F1 from 0.363 to
# 0.337 (chosen on val; it helped every other language's val split but Portuguese, which was level).
NO_SECOND_LOOK = frozenset({"hi"})
# Chosen on TweetEval val and UMSAB val (never on the dev splits, which report it): of routing below 0.7, 0.8
# or 0.9 and a share of 0.3 or 0.5, this had the best mean of the seven other UMSAB languages (0.593 against
# the fast model's 0.580) with UMSAB English unchanged (0.752) and TweetEval 0.004 lower (0.817).
ROUTE_BELOW = 0.7
STRONG_WEIGHT = 0.3
DETRACTOR_CONFIDENCE = 0.3  # SentimentConfig.detractor_confidence's default


class CascadeScorer:
    """LearnedScorer for everything, the embedding model's second look where it matters."""

    name = "cascade"
    accepts_priority = True

    def __init__(self, model_path: str | Path | None = None, strong_model_path: str | Path | None = None,
                 route_below: float = ROUTE_BELOW, strong_weight: float = STRONG_WEIGHT, **options: object) -> None:
        self.fast = LearnedScorer(model_path, **options)  # type: ignore[arg-type]
        head_path = Path(strong_model_path) if strong_model_path else strong.DEFAULT_HEAD
        self.head = strong.load_head(str(head_path.resolve())) if strong.available() and head_path.exists() else None
        self.route_below = route_below
        self.strong_weight = strong_weight
        self.routed_last = 0  # how many texts the last call sent to the second look (for the benchmark)
        # [sentiment].detractor_confidence (the score stage sets it): see _can_change
        self.detractor_confidence = DETRACTOR_CONFIDENCE
        self._last_fast: tuple[Sequence[str], list[Score], dict[int, FastParts]] | None = None  # see score_many

    def score(self, text: str, lang: str | None = None) -> Score:
        return self.score_many([text], [lang])[0]

    def score_many(self, texts: Sequence[str], langs: Iterable[str | None] | None = None,
                   priority: Sequence[bool] | None = None, second_look: bool = True) -> list[Score]:
        """Fast scores for all; with `second_look`, the routed ones re-scored (see the module doc)."""
        tags = list(langs) if langs is not None else [None] * len(texts)
        fast, parts = self.fast.score_many_parts(texts, tags)
        # Kept for could_change and look_again on these same lists: the fast probabilities are not computed twice.
        self._last_fast = (texts, fast, parts)
        route = self.routed(texts, fast, priority)
        self.routed_last = len(route)
        if not second_look or self.head is None or not route:
            return fast
        return self.look_again(texts, fast, route)

    def routed(self, texts: Sequence[str], fast: Sequence[Score], priority: Sequence[bool] | None = None) -> list[int]:
        """Indexes of the mentions the second look should re-score."""
        out = []
        for i, s in enumerate(fast):
            if s.label == "unscored" or (s.confidence == 1.0 and s.compound == 0.0) or s.lang in NO_SECOND_LOOK:
                continue  # unreadable, nothing but brand names and links, or a language it reads worse
            if (s.confidence < self.route_below or s.label == "negative" or s.needs_reply
                    or (priority is not None and priority[i])):
                out.append(i)
        return out

    def look_again(self, texts: Sequence[str], fast: Sequence[Score], route: Sequence[int]) -> list[Score]:
        """Re-score the mentions at `route` with both models mixed (those whose label the mix cannot
        change keep their fast score: see could_change)."""
        assert self.head is not None
        route, prepared, langs, hits, p_fast, unboosted = self._fast_parts(texts, fast, route)
        if not route:
            return list(fast)
        needed = self._can_change(p_fast, [fast[i] for i in route], langs, unboosted)
        route = [route[k] for k in needed]
        if not route:
            return list(fast)
        prepared = [prepared[k] for k in needed]
        langs = [langs[k] for k in needed]
        hits = [hits[k] for k in needed]
        p_fast = p_fast[needed]
        p_strong = self.strong_probabilities(prepared, hits)
        probs = (1.0 - self.strong_weight) * p_fast + self.strong_weight * p_strong
        labels, compounds, confidences = self.fast.decide(probs, langs, [unboosted[k] for k in needed])
        out = list(fast)
        for row, i in enumerate(route):
            old = fast[i]
            # A theme scored on its own clause keeps that label; a theme that just took the mention's takes the new.
            themes = tuple((t, labels[row] if lab == old.label else lab) for t, lab in old.theme_sentiment)
            new = replace(old, label=labels[row], compound=compounds[row], confidence=confidences[row],
                          model=SECOND_LOOK, theme_sentiment=themes, needs_reply=None)
            out[i] = self.fast._with_reply(new, prepared[row], self.fast._addressed(texts[i], prepared[row]))
        return out

    def could_change(self, texts: Sequence[str], fast: Sequence[Score], route: Sequence[int]) -> list[int]:
        """The routed mentions whose label the second look could change (look_again reads only those)."""
        route, _prepared, langs, _hits, p_fast, unboosted = self._fast_parts(texts, fast, route)
        if not route:
            return []
        return [route[k] for k in self._can_change(p_fast, [fast[i] for i in route], langs, unboosted)]

    def _fast_parts(self, texts: Sequence[str], fast: Sequence[Score], route: Sequence[int]
                    ) -> tuple[list[int], list[str], list[str | None], list[int], np.ndarray, list[bool]]:
        """For the routed mentions with something to read: their indexes, prepared texts, languages, cue
        strengths, fast probabilities and unboosted flags. Taken from the score_many call that gave `fast`
        (the same list objects) where it computed them, else computed here, as that call would have: the
        model's probabilities of a text do not depend on the batch it is scored in."""
        last = self._last_fast
        known = last[2] if last is not None and last[0] is texts and last[1] is fast else {}
        found: dict[int, tuple[str, int, np.ndarray, bool]] = {}
        missing = []
        for i in route:
            part = known.get(i)
            if part is not None and part.raw is texts[i]:
                found[i] = (part.prepared, part.cue_hits, part.probs, part.unboosted)
            else:
                missing.append(i)
        if missing:
            prepared = [prepare(texts[i] if isinstance(texts[i], str) else "", self.fast._brands) for i in missing]
            keep = [k for k, t in enumerate(prepared) if t and has_content(t)]
            if keep:
                prepared = [prepared[k] for k in keep]
                hits = [cue_strength(self.fast._cues.find(t)) for t in prepared]
                p_fast = self.fast.probabilities(prepared, [fast[missing[k]].lang for k in keep], hits)
                unboosted = self.fast.unboosted(prepared, hits)
                for row, k in enumerate(keep):
                    found[missing[k]] = (prepared[row], hits[row], p_fast[row], unboosted[row])
        route = [i for i in route if i in found]
        rows = [found[i] for i in route]
        probs = np.array([r[2] for r in rows], dtype=np.float64).reshape(len(rows), 3)
        return (route, [r[0] for r in rows], [fast[i].lang for i in route], [r[1] for r in rows], probs,
                [r[3] for r in rows])

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_last_fast"] = None  # the last batch's texts: not worth sending to a pool process
        return state

    def _can_change(self, p_fast: np.ndarray, fast: Sequence[Score], langs: Sequence[str | None],
                    unboosted: Sequence[bool]) -> list[int]:
        """Rows whose label some second-look probabilities could change; the rest keep the fast label
        whatever e5 says, so it is not asked (most routed mentions: a confident complaint stays one).

        The mix is (1 - w) * fast + w * strong, w = strong_weight, strong anywhere on the simplex, then
        the fast model's rule (the most probable class, P(negative) raised by the language's boost when
        it is at least boost_floor). The label L is safe when, for every other class k, L still wins with
        all of the strong model's mass on k: L's share is then smallest and k's largest (the boost counted
        for 'negative' only where it must apply as L, and wherever it may apply as k). The label kept is
        the same, and so is a negative's detractor flag (its confidence stays on the same side of
        `detractor_confidence`); the compound and confidence stay the fast model's (Score.model says
        `learned`)."""
        f = self.fast
        if f.positive_threshold is not None or f.negative_threshold is not None:
            return list(range(len(fast)))  # labels by compound thresholds: always look
        w, a = self.strong_weight, 1.0 - self.strong_weight
        labels = f.decide(p_fast, langs, unboosted)[0]
        boost = np.array([0.0 if u else f.model.boost_by_language.get(lang or "", f.model.negative_boost)
                          for lang, u in zip(langs, unboosted, strict=True)])
        needed = []
        for row, (p, label) in enumerate(zip(p_fast, labels, strict=True)):
            if label != fast[row].label:
                needed.append(row)
                continue
            L = CLASSES.index(label)
            b = boost[row]
            # A negative's confidence decides whether it is a detractor (listener.scoring.is_detractor):
            # the mixed one, anywhere in [a * p, a * p + w], must fall on the fast one's side of the bar.
            bar = self.detractor_confidence
            safe = L != 0 or (p[0] >= bar) == (a * p[0] >= bar) == (a * p[0] + w >= bar)
            for k in range(3):
                if k == L or not safe:
                    continue
                if L == 0:  # strong all on k: P(negative) at its lowest
                    ours = a * p[0] + (b if a * p[0] >= f.boost_floor else 0.0)
                    theirs = a * p[k] + w
                elif k == 0:  # strong all on 'negative': at its highest, boosted if it may be
                    ours = a * p[L]
                    theirs = a * p[0] + w + (b if a * p[0] + w >= f.boost_floor else 0.0)
                else:
                    ours, theirs = a * p[L], a * p[k] + w
                if not ours > theirs + 1e-9:  # a tie goes to the lower class: not safe
                    safe = False
                    break
            if not safe:
                needed.append(row)
        return needed

    def strong_probabilities(self, prepared: Sequence[str], cue_hits: Sequence[int] | None = None,
                             embeddings: np.ndarray | None = None) -> np.ndarray:
        """The second look's P(negative), P(neutral), P(positive), with the sarcasm and slang rules'
        pushes applied as for the fast model (they are rules, not learned)."""
        assert self.head is not None
        hits = cue_hits if cue_hits is not None else [0] * len(prepared)
        if self.fast.tone_rules:
            prepared = [rewrite_slang(t, h) for t, h in zip(prepared, hits, strict=True)]
        vectors = strong.embed(prepared) if embeddings is None else embeddings
        probs = self.head.probabilities(vectors)
        pushes = np.array([tone_logits(t, h) if self.fast.tone_rules else (0.0, 0.0)
                           for t, h in zip(prepared, hits, strict=True)], dtype=np.float64).reshape(len(prepared), 2)
        if pushes.any():
            logits = np.log(np.clip(probs, 1e-9, 1.0))
            logits[:, 0] += pushes[:, 0]
            logits[:, 2] += pushes[:, 1]
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return probs


__all__ = ["CLASSES", "CascadeScorer", "ROUTE_BELOW", "SECOND_LOOK", "STRONG_WEIGHT"]
