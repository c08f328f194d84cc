"""The score stage: every stored mention without a score gets one, and detractors are flagged."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from listener import leases
from listener.config import Config, SentimentConfig
from listener.errors import ConfigError, UserError
from listener.models import iso, utcnow
from listener.quarantine import describe, one_by_one, quarantine_mention
from listener.query import BrandMatcher
from listener.store import Store, count_negatives, save_scores, save_second_look
from listener.threads import forget_counted, mark_dirty
from sentiment import Score, Scorer, get_scorer
from sentiment.datasets import LabelledSet
from sentiment.evaluate import Figures, figures
from sentiment.learned import ModelFileError
from sentiment.risk import nps_bucket

CHUNK = 2000
DEFAULT_SCORER = SentimentConfig.model_fields["scorer"].default


def build_scorer(config: Config | None, extra_brand_terms: Sequence[str] = ()) -> Scorer:
    """The configured scorer, told the brand names (the config's and `extra_brand_terms`) so they never
    carry sentiment."""
    if config is None:
        return get_scorer(DEFAULT_SCORER, brand_terms=list(extra_brand_terms))
    s = config.sentiment
    names = [t.name for t in config.all_tracked()] + list(extra_brand_terms)
    terms = [x for t in config.all_tracked() for x in (*t.keywords, *t.handles)]
    try:
        return get_scorer(
            s.scorer,
            positive_threshold=s.positive_threshold,
            negative_threshold=s.negative_threshold,
            brand_terms=sorted(set(names + terms)),
            cues=list(s.cues),
            themes={k: list(v) for k, v in s.themes.items()},
            model_path=str(config.resolve(s.model)) if s.model else None,
        )
    except ModelFileError as exc:
        raise ConfigError(config.path.name, "sentiment.model", str(exc)) from None


def is_detractor(score: Score, stars: int | None, detractor_confidence: float) -> bool:
    """Negative with enough confidence; a review in the NPS detractor bucket (1-3 stars) whatever the words say;
    a question about a problem or a request to the brand ("any update on my refund?"): a customer waiting
    for an answer is one to look after, whatever the words sound like."""
    if nps_bucket(stars) == "detractor":
        return True
    if score.needs_reply in ("question", "request"):
        return True
    return score.label == "negative" and score.confidence >= detractor_confidence


# A mention by an author with at least this many followers could raise an alert on its own: it gets the
# cascade's second look whatever the fast model's confidence.
HIGH_REACH_FOLLOWERS = 10_000
# The cascade's second look reads about 60 texts a second: a pass gives at most this many at once; a larger
# backlog (a backfill, an import) keeps its fast labels and is re-scored over the next passes.
SECOND_LOOK_PER_PASS = 500


def _priority(rows: Sequence[Mapping[str, Any]]) -> list[bool]:
    return [(r["author_followers"] or 0) >= HIGH_REACH_FOLLOWERS for r in rows]


def _score_chunk(scorer: Scorer, texts: list[str], rows: Sequence[Mapping[str, Any]]) -> tuple[list[Score], set[int]]:
    """Scores for a chunk, and the rows whose second look is deferred (a cascade with a backlog)."""
    langs = [r["source_lang"] for r in rows]
    if not getattr(scorer, "accepts_priority", False):
        return scorer.score_many(texts, langs), set()
    priority = _priority(rows)
    fast = scorer.score_many(texts, langs, priority=priority, second_look=False)  # type: ignore[call-arg]
    routed = scorer.routed(texts, fast, priority)  # type: ignore[attr-defined]
    backlog = len(routed) > SECOND_LOOK_PER_PASS  # decided on all routed, as before the skip below
    if hasattr(scorer, "could_change"):  # only where the second look could change the label (cascade.py)
        routed = scorer.could_change(texts, fast, routed)
    if not backlog:
        return scorer.look_again(texts, fast, routed), set()  # type: ignore[attr-defined]
    return fast, set(routed)


STARS_MODEL = "stars"


def text_of(row: Mapping[str, Any]) -> str:
    """What is scored and matched of a stored mention: its title (if any) and its text."""
    return (row["title"] + "\n" + row["text"]) if row["title"] else row["text"]


def other_brands(matcher: BrandMatcher, text: str, brand: str | None) -> list[str]:
    """The tracked brands besides `brand` that `text` names, in config order."""
    return [m.brand for m in matcher.matches(text) if m.brand != brand]


def star_score(stars: int, text_score: Score) -> Score:
    """A rated review's score from its stars: 1-2 negative, 3 neutral, 4-5 positive; compound (stars - 3) / 2.

    The customer rated it: confidence 1, in any language (a Japanese 1-star review is negative, not
    unscored). Themes come from the text; a theme the text scored on its own keeps that sentiment.
    """
    label = "negative" if stars <= 2 else "neutral" if stars == 3 else "positive"
    per_theme = dict(text_score.theme_sentiment)
    mixed = len(set(per_theme.values())) > 1  # the text itself said different things about its themes
    theme_sentiment = tuple((t, per_theme[t] if mixed and per_theme.get(t) != "unscored" else label)
                            for t in text_score.themes)
    return Score(label, (stars - 3) / 2, 1.0, text_score.lang, STARS_MODEL, text_score.themes, theme_sentiment)


def score_pending(store: Store, scorer: Scorer, detractor_confidence: float = 0.3,
                  label_reviews_by_stars: bool = True, matcher: BrandMatcher | None = None,
                  workers: int | None = None, holder: str | None = None,
                  lease_s: float = leases.ONE_SHOT_LEASE_S) -> int:
    """Score every unscored mention; each chunk commits on its own, so a crash redoes at most one chunk.

    Several workers share the backlog: a chunk is a block of mention ids (id // CHUNK) claimed by lease
    (listener.leases.Blocks) before it is scored and released once its scores are committed, so two
    workers never score one block at once and a dead worker's block is scored by another once its
    lease runs out. `holder`: the worker's lease name (default: one of its own for this call).

    With `label_reviews_by_stars`, a review with a star rating is labelled by its stars (see star_score);
    the text's own score is stored beside it in `scores`. With a `matcher`, the other tracked brands a
    mention names are noted (`mentions.also_brands`): "switching from Brightwave to Lumacell" counts in
    both brands' trend figures and share of voice, as it is about both."""
    total = 0
    options = (detractor_confidence, label_reviews_by_stars, matcher)
    if hasattr(scorer, "detractor_confidence"):  # the cascade skips second looks that cannot change the flag
        scorer.detractor_confidence = detractor_confidence  # type: ignore[attr-defined]
    workers = pool_workers() if workers is None else workers
    looked: list[bool] = []  # the pool gave this pass's second looks (see _score_in_pool)
    blocks = leases.Blocks(store, "score", holder, lease_s)
    try:
        backlog = 0 if workers <= 1 else int(store.scalar(
            "SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL AND quarantined IS NULL") or 0)
        if backlog >= POOL_MIN_BACKLOG:
            total += _score_in_pool(store, scorer, workers, options, blocks, looked)
        last = 0
        while True:
            rows, last = _claim_chunk(store, blocks, last)
            if not rows:
                break
            total += _write_chunk(store, rows, *_score_rows(scorer, rows), options)
            blocks.release(rows[0]["id"] // CHUNK)
    finally:
        blocks.release_all()
    if getattr(scorer, "accepts_priority", False) and not looked:
        with leases.held(store, "score:second looks", blocks.holder, lease_s) as mine:
            if mine:  # else another worker is giving them their look right now
                total += second_look_pending(store, scorer, detractor_confidence, label_reviews_by_stars)
    return total


def _claim_chunk(store: Store, blocks: leases.Blocks, after: int) -> tuple[list[dict[str, Any]], int]:
    """The unscored mentions of the first block past id `after` that this worker could claim, and the
    id to go on from; ([], after) when every block left is scored or held by another worker."""
    while True:
        first = store.scalar("SELECT MIN(id) FROM mentions WHERE scored_at IS NULL AND quarantined IS NULL "
                             "AND id > ?", (after,))
        if first is None:
            return [], after
        block = int(first) // CHUNK
        after = (block + 1) * CHUNK - 1  # this block is done with, by us or by whoever holds it
        if not blocks.claim(block):
            continue
        rows = store.query(
            "SELECT id, text, title, source_lang, stars, source, author, created_at, thread_key, brand, "
            "author_followers, is_brand_account FROM mentions WHERE scored_at IS NULL AND quarantined IS NULL "
            "AND id >= ? AND id <= ? ORDER BY id LIMIT ?", (block * CHUNK, after, CHUNK))
        if rows:
            return rows, after
        blocks.release(block)  # scored by another worker between the two reads


# A backlog this big (a bulk import, a backfill) is scored by a pool of processes, one per core; below it a
# pass scores in-process (starting the pool and loading the model in it takes a second or two, which a
# daemon pass of a few hundred mentions, and the alert latency, should not wait for).
POOL_MIN_BACKLOG = 4 * CHUNK
POOL_WORKERS_ENV = "OVERHEARD_SCORE_WORKERS"


def pool_workers() -> int:
    """Processes that score a backlog: $OVERHEARD_SCORE_WORKERS, else the CPUs this process may use, at most 4."""
    value = os.environ.get(POOL_WORKERS_ENV, "").strip()
    if value.isdigit():
        return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return min(cpus, 4)


def _score_rows(scorer: Scorer, rows: Sequence[Mapping[str, Any]]) -> tuple[list[Score | Exception], set[int]]:
    """Scores (or the exception of each mention no scorer can take) and the deferred second looks."""
    # A mention no scorer can take (a poisoned stored value) is quarantined at this stage and the
    # rest go on: one_by_one retries the chunk mention by mention only when the chunk fails.
    whole: list[set[int]] = []

    def run(chunk: Sequence[Mapping[str, Any]], size: int = len(rows)) -> list[Score]:
        scored, deferred_here = _score_chunk(scorer, [text_of(r) for r in chunk], chunk)
        if len(chunk) == size:
            whole.append(deferred_here)  # the backlog's deferred second looks, by row index
        return scored

    results = one_by_one(rows, run)
    failed = any(isinstance(r, Exception) for r in results)
    return results, whole[0] if whole and not failed else set()


_WORKER: dict[str, Any] = {}


def _worker_start(pickled: bytes, threads: int = 0, per_pass: int | None = None) -> None:
    import pickle

    global SECOND_LOOK_PER_PASS
    if per_pass is not None:  # the parent's cap, so a chunk defers in the pool as it would in the parent
        SECOND_LOOK_PER_PASS = per_pass
    if threads:
        # The second look's OpenMP threads: one pool process per core already keeps the cores busy, and
        # more threads than cores spin against each other (e5's embeddings are the same for any count).
        os.environ["OMP_NUM_THREADS"] = str(threads)
    _WORKER["scorer"] = pickle.loads(pickled)


def _worker_score(rows: list[dict[str, Any]]) -> tuple[list[Score], set[int]]:
    """In a pool process: the whole chunk, or its exception (the parent then goes mention by mention)."""
    return _score_chunk(_WORKER["scorer"], [text_of(r) for r in rows], rows)


def _worker_second_look(texts: list[str], langs: list[str | None]) -> list[Score]:
    """In a pool process: second_look_pending's scores for its share of the deferred mentions."""
    scorer = _WORKER["scorer"]
    fast = scorer.score_many(texts, langs, second_look=False)
    return scorer.look_again(texts, fast, list(range(len(texts))))


def _score_in_pool(store: Store, scorer: Scorer, workers: int, options: tuple,
                   blocks: leases.Blocks | None = None, looked: list[bool] | None = None) -> int:
    """Score the backlog in chunks spread over `workers` processes while this one reads and writes, then
    give the pass's deferred second looks in the same processes (noted in `looked`).

    Each chunk still commits on its own, in id order, as it would in-process: a crash redoes at most the
    chunks in flight. A chunk that fails in the pool is scored again here, mention by mention."""
    import pickle
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    try:
        pickled = pickle.dumps(scorer)
    except Exception:  # a scorer that cannot travel to another process (a test double): score in-process
        return 0
    total = 0
    last = 0
    blocks = blocks or leases.Blocks(store, "score")
    # spawn, not fork: the daemon has threads (sources, streams) whose locks a forked child would inherit.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_start,
                             initargs=(pickled, max(1, (os.cpu_count() or 1) // workers),
                                       SECOND_LOOK_PER_PASS)) as pool:
        inflight: list[tuple[list[dict[str, Any]], Any]] = []
        while True:
            while len(inflight) < workers + 1:
                rows, last = _claim_chunk(store, blocks, last)
                if not rows:
                    break
                inflight.append((rows, pool.submit(_worker_score, rows)))
            if not inflight:
                if looked is not None and getattr(scorer, "accepts_priority", False):
                    # e5 on one core per process beats two OpenMP threads fighting for a busy machine's cores.
                    with leases.held(store, "score:second looks", blocks.holder, blocks.seconds) as mine:
                        if mine:  # else another worker is giving them their look right now
                            total += second_look_pending(store, scorer, *options[:2], pool=pool, workers=workers)
                    looked.append(True)
                return total
            rows, future = inflight.pop(0)
            try:
                scores, deferred = future.result()
                results: list[Score | Exception] = list(scores)
            except Exception:
                results, deferred = _score_rows(scorer, rows)
            total += _write_chunk(store, rows, results, deferred, options)
            blocks.release(rows[0]["id"] // CHUNK)


def _write_chunk(store: Store, rows: list[dict[str, Any]], results: list[Score | Exception], deferred: set[int],
                 options: tuple) -> int:
    """Store a chunk's scores in one transaction; returns how many were scored (the rest are quarantined)."""
    detractor_confidence, label_reviews_by_stars, matcher = options
    with store.transaction() as conn:
        return _write_chunk_in(store, conn, rows, results, deferred, options)


def _write_chunk_in(store: Store, conn: Any, rows: list[dict[str, Any]], results: list[Score | Exception],
                    deferred: set[int], options: tuple) -> int:
    detractor_confidence, label_reviews_by_stars, matcher = options
    # Only mentions still unscored, read inside the write transaction: a worker that lost its claim on
    # this block (paused past its lease) while another scored it writes nothing twice (an author's
    # negative count counts a mention once).
    if rows:
        still = {r[0] for r in conn.execute(
            "SELECT id FROM mentions WHERE id >= ? AND id <= ? AND scored_at IS NULL",
            (min(r["id"] for r in rows), max(r["id"] for r in rows)))}
        if len(still) < len(rows):
            kept_rows = [(r, x) for r, x in zip(rows, results, strict=True) if r["id"] in still]
            rows, results = [r for r, _ in kept_rows], [x for _, x in kept_rows]
    failed = [(row, exc) for row, exc in zip(rows, results, strict=True) if isinstance(exc, Exception)]
    rows, scores = ([r for r, s in zip(rows, results, strict=True) if not isinstance(s, Exception)],
                    [s for s in results if not isinstance(s, Exception)])
    texts = [text_of(r) for r in rows]
    now = iso(utcnow())
    updates: list[tuple] = []
    kept: list[tuple] = []
    threads: dict[str, None] = {}
    negatives: list[tuple] = []
    for row_index, (row, text, text_score) in enumerate(zip(rows, texts, scores, strict=True)):
        stars = row["stars"]
        rated = label_reviews_by_stars and isinstance(stars, int) and 1 <= stars <= 5
        if row["is_brand_account"] and text_score.needs_reply:
            text_score = replace(text_score, needs_reply=None)  # the brand's own posts ask nobody
        score = star_score(stars, text_score) if rated else text_score
        detractor = is_detractor(score, stars, detractor_confidence)
        also = other_brands(matcher, text, row["brand"]) if matcher is not None else []
        updates.append((score.lang, score.label, score.compound, score.confidence, _themes_json(score),
                        json.dumps(dict(score.theme_sentiment)), int(detractor), now,
                        json.dumps(also) if also else None, text_score.needs_reply, score.model,
                        int(row_index in deferred), row["id"]))
        for one in (text_score, score) if rated else (score,):
            kept.append((row["id"], one.model, one.label, one.compound, one.confidence, one.lang, now))
        # The thread may have been rolled up while this mention was unscored (the daemon
        # collects while it processes): roll it up again with the score.
        threads[row["thread_key"]] = None
        if score.label == "negative" and row["author"]:
            negatives.append((row["created_at"], row["created_at"], row["source"], row["author"]))
    # One statement of each kind per chunk (executemany), in the one transaction.
    for row, exc in failed:
        quarantine_mention(conn, row, "score", describe(exc))
    forget_counted(conn, [u[-1] for u in updates])
    save_scores(conn, updates)
    keep_scores(conn, kept)
    mark_dirty(conn, list(threads))
    count_negatives(conn, negatives)
    return len(rows)  # scored ones: the quarantined are counted in the quarantine


def second_look_pending(store: Store, scorer: Scorer, detractor_confidence: float = 0.3,
                        label_reviews_by_stars: bool = True, limit: int | None = None, pool: Any = None,
                        workers: int = 1) -> int:
    """Give up to `limit` mentions whose second look was deferred (a backlog) that look; a changed label
    updates the mention, its detractor flag and its thread (rolled up and checked for alerts again).
    With a `pool` (the score stage's), the looks are shared among its `workers` processes: each mention's
    score is the same whichever process reads it."""
    if not getattr(scorer, "accepts_priority", False):
        return 0
    if hasattr(scorer, "detractor_confidence"):
        scorer.detractor_confidence = detractor_confidence  # type: ignore[attr-defined]
    rows = store.query(
        "SELECT id, text, title, source_lang, stars, thread_key, label, author_followers, is_brand_account "
        "FROM mentions WHERE second_look = 1 ORDER BY id LIMIT ?", (limit or SECOND_LOOK_PER_PASS,))
    if not rows:
        return 0
    texts = [text_of(r) for r in rows]
    langs = [r["source_lang"] for r in rows]
    scores: list[Score] = []
    if pool is not None and workers > 1 and len(rows) >= 2 * workers:
        size = -(-len(rows) // workers)
        parts = [(texts[i:i + size], langs[i:i + size]) for i in range(0, len(rows), size)]
        for (part_texts, part_langs), future in [(p, pool.submit(_worker_second_look, *p)) for p in parts]:
            try:
                scores += future.result()
            except Exception:  # that share is read here instead
                fast = scorer.score_many(part_texts, part_langs, second_look=False)  # type: ignore[call-arg]
                scores += scorer.look_again(part_texts, fast, list(range(len(part_texts))))  # type: ignore[attr-defined]
    else:
        fast = scorer.score_many(texts, langs, second_look=False)  # type: ignore[call-arg]
        scores = scorer.look_again(texts, fast, list(range(len(rows))))  # type: ignore[attr-defined]
    now = iso(utcnow())
    with store.transaction() as conn:
        for row, text_score in zip(rows, scores, strict=True):
            if row["is_brand_account"] and text_score.needs_reply:
                text_score = replace(text_score, needs_reply=None)
            stars = row["stars"]
            rated = label_reviews_by_stars and isinstance(stars, int) and 1 <= stars <= 5
            score = star_score(stars, text_score) if rated else text_score
            forget_counted(conn, [row["id"]])
            save_second_look(conn, (
                score.label, score.compound, score.confidence, json.dumps(dict(score.theme_sentiment)),
                int(is_detractor(score, stars, detractor_confidence)), text_score.needs_reply, score.model,
                row["id"]))
            keep_scores(conn, [(row["id"], text_score.model, text_score.label, text_score.compound,
                                text_score.confidence, text_score.lang, now)])
            if score.label != row["label"]:
                mark_dirty(conn, [row["thread_key"]])
    return len(rows)


def keep_scores(conn: Any, rows: list[tuple]) -> None:
    """Each model's score of each mention (mention_id, model, label, compound, confidence, lang, scored_at),
    the latest replacing an earlier one by the same model."""
    conn.executemany(
        "INSERT INTO scores (mention_id, model, label, compound, confidence, lang, scored_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mention_id, model) DO UPDATE SET label = excluded.label, "
        "compound = excluded.compound, confidence = excluded.confidence, lang = excluded.lang, "
        "scored_at = excluded.scored_at", rows)


def _themes_json(score: Score) -> str:
    return json.dumps(list(score.themes))


# ---------------------------------------------------------------- training and evaluation helpers
DATA_ENV = "OVERHEARD_DATA"


def default_data_dir() -> Path:
    """The labelled development data: $OVERHEARD_DATA, else ../shared/data from the working directory."""
    return Path(os.environ.get(DATA_ENV) or Path("..") / "shared" / "data")


def corrections(store: Store) -> LabelledSet:
    """Every mention a human re-labelled, with its latest human label (the correction loop's data)."""
    rows = store.query(
        "SELECT m.id, m.title, m.text, COALESCE(m.source_lang, m.lang) AS lang, l.label FROM labels l "
        "JOIN mentions m ON m.id = l.mention_id "
        "WHERE l.id = (SELECT MAX(id) FROM labels WHERE mention_id = l.mention_id) ORDER BY m.id"
    )
    texts = [text_of(r) for r in rows]
    return LabelledSet("human corrections", texts, [r["label"] for r in rows], [r["lang"] for r in rows])


@dataclass
class EvalResult:
    model: str
    figures: Figures
    texts_per_second: float


GOLD_NAMES = {"0": "negative", "1": "neutral", "2": "positive", "negative": "negative", "neutral": "neutral",
              "positive": "positive", "neg": "negative", "neu": "neutral", "pos": "positive"}


def gold_label(value: str, where: str) -> str:
    """One gold label (negative/neutral/positive, neg/neu/pos or 0/1/2, any case); UserError names `where`."""
    name = GOLD_NAMES.get(value.strip().lower())
    if name is None:
        raise UserError(f"{where}: label {value.strip()!r} is not negative/neutral/positive, neg/neu/pos or 0/1/2")
    return name


def read_gold_labels(path: Path) -> list[str]:
    """Gold labels, one per line: negative/neutral/positive or 0/1/2 (TweetEval's numbering)."""
    return [gold_label(line, f"{path}: line {number}")
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)]


def evaluate_csv(scorer: Scorer, path: Path, text_column: str | None = None, label_column: str | None = None,
                 lang: str | None = None) -> EvalResult:
    """Score a labelled CSV export (a text and a label column, any case; a `lang` column is used when
    present) and time it."""
    from listener.scorefile import csv_reader, pick_column, require_column

    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv_reader(fh)
        header = next(reader, [])
        columns = {"text": require_column(header, text_column, "text", str(path)),
                   "label": require_column(header, label_column, "label", str(path))}
        lang_col = pick_column(header, None, "lang")
        texts, gold, langs = [], [], []
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) <= max(columns.values()):
                raise UserError(f"{path}: line {number}: has {len(row)} cells, fewer than the header's")
            texts.append(row[columns["text"]])
            gold.append(gold_label(row[columns["label"]], f"{path}: line {number}"))
            row_lang = row[header.index(lang_col)] if lang_col and len(row) > header.index(lang_col) else ""
            langs.append(lang or row_lang or None)
    started = time.perf_counter()
    scores = scorer.score_many(texts, langs)
    elapsed = max(time.perf_counter() - started, 1e-9)
    return EvalResult(scorer.name, figures(gold, [s.label for s in scores]), len(texts) / elapsed)


def evaluate_files(scorer: Scorer, texts_path: Path, labels_path: Path, lang: str | None = None) -> EvalResult:
    """Score a text file against a label file (line by line) and time it."""
    texts = texts_path.read_text(encoding="utf-8", errors="replace").splitlines()
    gold = read_gold_labels(labels_path)
    if len(texts) != len(gold):
        raise UserError(f"{texts_path.name} has {len(texts)} lines but {labels_path.name} has {len(gold)}")
    started = time.perf_counter()
    scores = scorer.score_many(texts, [lang] * len(texts))
    elapsed = max(time.perf_counter() - started, 1e-9)
    return EvalResult(scorer.name, figures(gold, [s.label for s in scores]), len(texts) / elapsed)
