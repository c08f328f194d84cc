"""The score stage: every stored mention without a score gets one, and detractors are flagged."""

from __future__ import annotations

from listener.config import Config
from listener.models import iso, utcnow
from listener.store import Store
from sentiment import Score, Scorer, get_scorer
from sentiment.risk import nps_bucket

CHUNK = 2000


def build_scorer(config: Config | None) -> Scorer:
    """The configured scorer, told the brand names so they never carry sentiment."""
    if config is None:
        return get_scorer("vader")
    s = config.sentiment
    names = [t.name for t in config.all_tracked()]
    terms = [x for t in config.all_tracked() for x in (*t.keywords, *t.handles)]
    return get_scorer(
        s.scorer,
        positive_threshold=s.positive_threshold,
        negative_threshold=s.negative_threshold,
        brand_terms=sorted(set(names + terms)),
        cues=list(s.cues),
        themes={k: list(v) for k, v in s.themes.items()},
    )


def is_detractor(score: Score, stars: int | None, detractor_confidence: float) -> bool:
    """Negative with enough confidence; a review in the NPS detractor bucket (1-3 stars) whatever the words say."""
    if nps_bucket(stars) == "detractor":
        return True
    return score.label == "negative" and score.confidence >= detractor_confidence


def score_pending(store: Store, scorer: Scorer, detractor_confidence: float = 0.3) -> int:
    """Score every unscored mention; each chunk commits on its own, so a crash redoes at most one chunk."""
    total = 0
    while True:
        rows = store.query(
            "SELECT id, text, title, source_lang, stars, source, author, created_at, thread_key FROM mentions "
            "WHERE scored_at IS NULL ORDER BY id LIMIT ?",
            (CHUNK,),
        )
        if not rows:
            return total
        texts = [(r["title"] + "\n" + r["text"]) if r["title"] else r["text"] for r in rows]
        scores = scorer.score_many(texts, [r["source_lang"] for r in rows])
        now = iso(utcnow())
        with store.transaction() as conn:
            for row, score in zip(rows, scores, strict=True):
                detractor = is_detractor(score, row["stars"], detractor_confidence)
                conn.execute(
                    "UPDATE mentions SET lang = ?, label = ?, compound = ?, confidence = ?, themes = ?, "
                    "detractor = ?, scored_at = ? WHERE id = ?",
                    (score.lang, score.label, score.compound, score.confidence, _themes_json(score),
                     int(detractor), now, row["id"]),
                )
                conn.execute(
                    "INSERT OR REPLACE INTO scores (mention_id, model, label, compound, confidence, lang, scored_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (row["id"], score.model, score.label, score.compound, score.confidence, score.lang, now),
                )
                # The thread may have been rolled up while this mention was unscored (the daemon
                # collects while it processes): roll it up again with the score.
                conn.execute("UPDATE threads SET dirty = 1 WHERE thread_key = ? AND dirty = 0", (row["thread_key"],))
                if score.label == "negative" and row["author"]:
                    conn.execute(
                        "UPDATE authors SET negative = negative + 1, "
                        "last_negative_at = MAX(COALESCE(last_negative_at, ''), ?) WHERE source = ? AND author = ?",
                        (row["created_at"], row["source"], row["author"]),
                    )
        total += len(rows)


def _themes_json(score: Score) -> str:
    import json

    return json.dumps(list(score.themes))
