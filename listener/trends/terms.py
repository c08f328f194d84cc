"""The terms table (`terms_<period>_<zone>.csv/.json`): per brand and period, the emerging terms,
phrases, hashtags and linked domains (listener.topics.period_topics) and the near-duplicate clusters.

It covers the last `[topics].periods` periods of the window (each compared with the period before and
the `[topics].baseline_periods` before that): reading texts costs their number, so the table does not
reach back over the whole `[trends].since`.

Finished periods are kept in the store (table trend_terms_kept, per period and brand): their term counts,
which later periods compare with, and their rows. A write reads the texts of the open period only (and
of a finished period an hour of which changed in the rollup since: a late mention, a re-score, a forgotten
author; listener.trends.kept.forget_changed_periods drops those). The rows are those of a build from
scratch (tests/test_trends_terms_kept.py compares them).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from listener.config import Config
from listener.models import iso
from listener.store import Store
from listener.topics import TermRow, brand_words, period_topics
from listener.trends.kept import drop_old_terms, forget_changed_periods, keep_terms
from listener.trends.tables import KEY_COLUMNS, TrendTable, TrendWindow, brand_kinds, period_prefix
from sentiment.topics import Corpus
from sentiment.trends import period_bounds, period_text, periods_between

KEEP_FORMAT = 1  # bump when a kept period's meaning changes in a way the code digest cannot see

TERM_COLUMNS = KEY_COLUMNS + ["brand", "kind", "term", "mentions", "share_pct", "previous_mentions",
                              "baseline_per_period", "growth_llr", "baseline_llr", "example_url"]


def terms_table(config: Config, store: Store, window: TrendWindow, periods: int | None = None) -> TrendTable:
    """The terms rows of the window's last `periods` periods (default [topics].periods), oldest first."""
    cfg = config.topics
    table = TrendTable("terms", window.period, TERM_COLUMNS)
    if not cfg.enabled:
        return table
    wanted = periods or cfg.periods
    shown = window.periods()[-wanted:]
    if not shown:
        return table
    # The periods before the first shown one that serve as "previous" and baseline, oldest first.
    reach_back = cfg.baseline_periods + 1
    first_start = period_bounds(shown[0], window.period, window.tz)[0]
    earlier: list = []
    probe = first_start
    while len(earlier) < reach_back:
        before = periods_between(probe - _step(window.period), probe, window.period, window.tz)
        if not before:
            break
        earlier.insert(0, before[0])
        probe = period_bounds(before[0], window.period, window.tz)[0]
    every = earlier + shown
    bounds: list[tuple[datetime, datetime]] = []
    for p in every:
        start, stop = period_bounds(p, window.period, window.tz)
        bounds.append((start, min(stop, window.until)))
    finished = [period_bounds(p, window.period, window.tz)[1] <= window.until for p in every]
    spans = [(iso(start), iso(stop)) for start, stop in bounds]
    key = (window.period, window.tz_name)
    with store.transaction() as conn:
        forget_changed_periods(conn)  # the kept periods an hour changed in since the last write
        # Kept periods older than every period this window compares with are of no more use.
        drop_old_terms(conn, key, spans[0][0])
    for brand in brand_kinds(config):
        mark = fingerprint(config, brand)
        kept = _read_kept(store, key, brand, mark)
        memo: dict = {}  # each period read and counted once, whichever periods it serves as reference for
        for i, p in enumerate(every):
            found = kept.get(period_text(p))
            if finished[i] and found and found["span"] == spans[i]:
                memo[(brand, bounds[i])] = (None, found["corpus"])
            else:
                kept.pop(period_text(p), None)
        new_rows: dict[int, list[TermRow]] = {}
        for offset, p in enumerate(shown):
            index = len(earlier) + offset
            prefix = period_prefix(window, p)
            found = kept.get(period_text(p))
            if found and found["rows"] is not None:
                rows = found["rows"]
            else:
                rows = period_topics(config, store, brand, bounds, index, memo)
                new_rows[index] = rows
            for row in rows:
                table.rows.append({**prefix, "brand": row.brand, "kind": row.kind, "term": row.term,
                                   "mentions": row.mentions, "share_pct": row.share_pct,
                                   "previous_mentions": row.previous_mentions,
                                   "baseline_per_period": row.baseline_per_period, "growth_llr": row.growth_llr,
                                   "baseline_llr": row.baseline_llr, "example_url": row.example_url})
        _keep(store, key, brand, mark, every, spans, finished, memo, bounds, new_rows, reach_back)
    table.rows.sort(key=lambda r: r["period_start"])  # stable: brands in config order within a period
    return table


def _step(period: str):
    from datetime import timedelta

    return {"hour": timedelta(minutes=30), "day": timedelta(hours=12), "week": timedelta(days=3),
            "month": timedelta(days=14)}[period]


@lru_cache(maxsize=1)
def _code_digest() -> str:
    import listener.topics
    import sentiment.topics

    digest = hashlib.sha256()
    for file in (listener.topics.__file__, sentiment.topics.__file__, __file__):
        try:
            digest.update(Path(file or "").read_bytes())
        except OSError:  # no source to read (a frozen build): the package version has to do
            from importlib.metadata import PackageNotFoundError, version

            try:
                digest.update(version("overheard").encode())
            except PackageNotFoundError:
                pass
    return digest.hexdigest()


def fingerprint(config: Config, brand: str) -> str:
    """What a kept period's counts and rows depend on besides the texts: [topics], the words never
    reported for the brand (every tracked brand's names), the code."""
    what = [KEEP_FORMAT, config.topics.model_dump(mode="json"), sorted(brand_words(config, brand)), _code_digest()]
    return hashlib.sha256(json.dumps(what, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:32]


def _read_kept(store: Store, key: tuple[str, str], brand: str, mark: str) -> dict[str, dict[str, Any]]:
    kept: dict[str, dict[str, Any]] = {}
    for start_text, start, stop, posts, mentions, terms, rows in store.conn.execute(
        "SELECT period_start, start_utc, stop_utc, posts, mentions, terms_json, rows_json FROM trend_terms_kept "
        "WHERE period = ? AND zone = ? AND brand = ? AND fingerprint = ? ORDER BY period_start",
        (*key, brand, mark),
    ):
        c = Corpus(posts=posts, mentions=mentions, terms=Counter({(k, t): n for k, t, n in json.loads(terms)}))
        kept[start_text] = {"span": (start, stop), "corpus": c,
                            "rows": None if rows is None else [TermRow(**r) for r in json.loads(rows)]}
    return kept


def _keep(store: Store, key: tuple[str, str], brand: str, mark: str, every: list, spans: list[tuple[str, str]],
          finished: list[bool], memo: dict, bounds: list, new_rows: dict[int, list[TermRow]], reach_back: int) -> None:
    """Store the finished periods read afresh (their counts) and the finished periods' new rows."""
    counts, rows = [], []
    for i, p in enumerate(every):
        if not finished[i]:
            continue
        entry = memo.get((brand, bounds[i]))
        ref_start = spans[max(0, i - reach_back)][0]
        made = new_rows.get(i)
        rows_json = None if made is None else json.dumps([r.__dict__ for r in made], ensure_ascii=False)
        if entry is not None and entry[0] is not None:  # read from the texts this time
            c = entry[1]
            counts.append((*key, period_text(p), brand, *spans[i], ref_start, mark, c.posts, c.mentions,
                           json.dumps([[k, t, n] for (k, t), n in c.terms.items()], ensure_ascii=False), rows_json))
        elif rows_json is not None:
            rows.append((rows_json, ref_start, *key, period_text(p), brand))
    if not counts and not rows:
        return
    with store.transaction() as conn:
        keep_terms(conn, counts, rows)
