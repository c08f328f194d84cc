"""The HTML report: one self-contained file a marketer can send.

Headline figures per own brand with the change against the previous period of the same length,
the charts (inline PNG data: URIs), the top negative and positive threads (with links), the top
themes and the support-queue figures. No script, no external stylesheet, font or image: it opens
offline and makes no request. Every piece of text from mentions is escaped (Jinja2 autoescape), and
only http(s) links become links.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment

from listener.config import Config
from listener.models import iso, utcnow
from listener.store import Store
from listener.trends.cache import window_tables
from listener.trends.charts import Chart, build_charts
from listener.trends.rollup import COUNTED, TALLY_COLUMNS, mentions_reach, update_rollup
from listener.trends.tables import make_window, read_queue_items
from sentiment.trends import ALL_THEMES, QueueFigures, Tally, hour_start, queue_figures, share_of_voice

TOP_THREADS = 5
TOP_THEMES = 8
SNIPPET = 200


@dataclass
class Figure:
    """One headline figure with its value in the previous period and how to read the change."""

    label: str
    now: float | None
    before: float | None
    unit: str = ""  # "", "%", " pts", " min"
    good_when: str = "up"  # up, down, or "" when neither is good news
    relative: bool = True  # change shown in % of before (counts) rather than in points

    def show(self, value: float | None) -> str:
        if value is None:
            return "—"
        if self.unit == " min":
            return _duration(value)
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        return text + self.unit

    @property
    def change(self) -> str:
        if self.now is None:
            return ""
        if self.before is None:
            return "no earlier figure"
        diff = self.now - self.before
        if self.relative:
            if not self.before:
                return "new" if self.now else "no change"
            return f"{100 * diff / self.before:+.0f}%"
        if self.unit == " min":
            return ("+" if diff >= 0 else "−") + _duration(abs(diff))
        return f"{diff:+.1f}" + (" pts" if self.unit in ("%", " pts") else self.unit)

    @property
    def mood(self) -> str:
        if self.now is None or self.before is None or self.now == self.before or not self.good_when:
            return "flat"
        return "good" if (self.now > self.before) == (self.good_when == "up") else "bad"


def _duration(minutes: float) -> str:
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


@dataclass
class ThreadLine:
    text: str
    url: str | None
    source: str
    mentions: int
    positive: int
    negative: int
    reach: int
    risk: float | None
    started: str


@dataclass
class ThemeLine:
    theme: str
    mentions: int
    negative: int
    negative_pct: float | None
    before: int

    @property
    def change(self) -> str:
        return Figure("", self.mentions, self.before).change


@dataclass
class MemberLine:
    """One row of the competitor table: a member of the brand's competitor set, now and before."""

    brand: str
    own: bool
    mentions: Figure
    net: Figure
    negative_pct: Figure
    share: Figure


@dataclass
class TermLine:
    kind: str
    term: str
    mentions: int
    share_pct: float
    before: int | None

    @property
    def change(self) -> str:
        return Figure("", self.mentions, self.before).change if self.before is not None else "new"


@dataclass
class SliceLine:
    """A source or a language: its mentions, share of the brand's mentions and negative share."""

    name: str
    mentions: int
    share_pct: float | None
    negative_pct: float | None


@dataclass
class InfluencerLine:
    """An author (or, on Reddit, a community) by the audience that could see their posts."""

    name: str
    source: str
    audience: int
    noun: str  # followers or members
    mentions: int
    negative: int
    url: str | None


@dataclass
class SpikeLine:
    """A spike in the report's range and what drove it (listener.topics.explain)."""

    period: str
    what: str  # "36 mentions, 47% negative"
    headline: str
    lines: list[str]
    clusters: list[tuple[int, str, str | None]]  # (size, representative post, link)
    summary: str = ""  # the language model's, when [topics.summary] is on and it answered


@dataclass
class BrandSection:
    brand: str
    figures: list[Figure]
    negative_threads: list[ThreadLine]
    positive_threads: list[ThreadLine]
    themes: list[ThemeLine]
    queue: list[Figure]
    charts: list[tuple[str, str]] = field(default_factory=list)  # (title, data: URI)
    chart_by_name: dict[str, tuple[str, str]] = field(default_factory=dict)  # "sentiment" -> (title, URI)
    members: list[MemberLine] = field(default_factory=list)
    terms: list[TermLine] = field(default_factory=list)
    terms_note: str = ""
    sources: list[SliceLine] = field(default_factory=list)
    languages: list[SliceLine] = field(default_factory=list)
    influencers: list[InfluencerLine] = field(default_factory=list)
    communities: list[InfluencerLine] = field(default_factory=list)
    spikes: list[SpikeLine] = field(default_factory=list)
    queue_note: str = ""


@dataclass
class ReportData:
    title: str
    tz_name: str
    since: str
    until: str
    before_since: str
    generated_at: str
    brands: list[BrandSection]


def safe_link(url: str | None) -> str | None:
    """The URL when it is a plain http(s) link, else None (javascript:, data: and the like are dropped)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


_SUMS = ", ".join(f"SUM({c})" for c in TALLY_COLUMNS)


def _tallies(store: Store, since: datetime, until: datetime, tz: ZoneInfo) -> dict[str, Tally]:
    """Each brand's tally over the local hours from the one holding `since` up to `until`."""
    rows = store.conn.execute(
        f"SELECT brand, {_SUMS} FROM trend_hours WHERE hour_start >= ? AND hour_start < ? AND theme = ? "
        "GROUP BY brand", (iso(hour_start(since, tz)), iso(until), ALL_THEMES))
    tallies = {row[0]: Tally(*row[1:]) for row in rows}
    for tally in tallies.values():
        tally.reach = 0
    for brand, reach in _reach(store, since, until, tz).items():
        if brand in tallies:
            tallies[brand].reach = reach
    return tallies


def _reach(store: Store, since: datetime, until: datetime, tz: ZoneInfo) -> dict[str, int]:
    """Each brand's reach over the range: every distinct audience once, at its largest size (docs/trends.md)."""
    rows = store.conn.execute(
        "SELECT brand, SUM(size) FROM (SELECT brand, MAX(followers) AS size FROM trend_hour_audiences "
        "WHERE hour_start >= ? AND hour_start < ? AND theme = ? GROUP BY brand, source, audience) GROUP BY brand",
        (iso(hour_start(since, tz)), iso(until), ALL_THEMES))
    return {brand: int(reach) for brand, reach in rows}


def _theme_counts(store: Store, since: datetime, until: datetime, tz: ZoneInfo, brand: str) -> dict[str, Tally]:
    rows = store.conn.execute(
        f"SELECT theme, {_SUMS} FROM trend_hours WHERE hour_start >= ? AND hour_start < ? AND theme != ? "
        "AND brand = ? GROUP BY theme", (iso(hour_start(since, tz)), iso(until), ALL_THEMES, brand))
    return {row[0]: Tally(*row[1:]) for row in rows}


def _authors(store: Store, since: datetime, until: datetime, tz: ZoneInfo) -> dict[str, int]:
    rows = store.conn.execute(
        "SELECT brand, COUNT(DISTINCT source || char(0) || author) FROM trend_hour_authors "
        "WHERE hour_start >= ? AND hour_start < ? AND theme = ? GROUP BY brand",
        (iso(hour_start(since, tz)), iso(until), ALL_THEMES))
    return dict(rows.fetchall())


def top_threads(store: Store, brand: str, since: datetime, until: datetime, *, negative: bool,
                limit: int = TOP_THREADS) -> list[ThreadLine]:
    """The brand's threads with the most negative (or positive) mentions in the range."""
    # A thread is on the negative list when it has more negative than positive mentions (and the
    # other way round), so a pile-on with two sarcastic "great job" replies is never a "top positive".
    more, less = ("neg", "pos") if negative else ("pos", "neg")
    rows = store.query(
        "SELECT thread_key, COUNT(*) AS n, SUM(label = 'negative') AS neg, SUM(label = 'positive') AS pos, "
        "MAX(COALESCE(author_followers, 0)) AS widest, MIN(created_at) AS started "
        f"FROM mentions WHERE brand = ? AND created_at >= ? AND created_at < ? AND {COUNTED} "
        f"GROUP BY thread_key HAVING {more} > {less} ORDER BY {more} DESC, widest DESC, thread_key LIMIT ?",
        (brand, iso(since), iso(until), limit),
    )
    lines = []
    for r in rows:
        thread = store.query("SELECT url, title, risk FROM threads WHERE thread_key = ?", (r["thread_key"],))
        first = store.query("SELECT source, text, title, url FROM mentions WHERE thread_key = ? "
                            "ORDER BY created_at, id LIMIT 1", (r["thread_key"],))[0]
        t = thread[0] if thread else {"url": None, "title": None, "risk": None}
        reach = mentions_reach(store.query(
            f"SELECT * FROM mentions WHERE thread_key = ? AND brand = ? AND created_at >= ? AND created_at < ? "
            f"AND {COUNTED}", (r["thread_key"], brand, iso(since), iso(until))))
        text = t["title"] or first["title"] or first["text"]
        text = " ".join(text.split())
        lines.append(ThreadLine(
            text=text if len(text) <= SNIPPET else text[:SNIPPET - 1] + "…",
            url=safe_link(t["url"] or first["url"]), source=first["source"], mentions=r["n"],
            positive=r["pos"], negative=r["neg"], reach=reach, risk=t["risk"], started=r["started"],
        ))
    return lines


def _slices(store: Store, since: datetime, until: datetime, tz: ZoneInfo, brand: str, column: str) -> list[SliceLine]:
    """The brand's mentions by source (or language) over the range, from the hourly rollup."""
    rows = store.conn.execute(
        f"SELECT {column}, {_SUMS} FROM trend_hours WHERE hour_start >= ? AND hour_start < ? AND theme = ? "
        f"AND brand = ? GROUP BY {column}", (iso(hour_start(since, tz)), iso(until), ALL_THEMES, brand))
    tallies = [(row[0], Tally(*row[1:])) for row in rows]
    total = sum(t.mentions for _, t in tallies)
    return [SliceLine(name, t.mentions, round(100 * t.mentions / total, 1) if total else None, t.negative_pct)
            for name, t in sorted(tallies, key=lambda kv: (-kv[1].mentions, kv[0]))]


def influencers(store: Store, brand: str, since: datetime, until: datetime,
                limit: int = 5) -> tuple[list[InfluencerLine], list[InfluencerLine]]:
    """The most-reached authors of the range by followers, and the communities (subreddits) by members."""
    from listener.trends.rollup import stored_audience

    span = (brand, iso(since), iso(until))
    where = f"brand = ? AND created_at >= ? AND created_at < ? AND {COUNTED} AND author_followers > 0"
    authors = [
        InfluencerLine(author, source, int(followers), "followers", n, int(neg or 0), safe_link(url))
        for source, author, followers, n, neg, url in store.conn.execute(
            "SELECT source, author, MAX(author_followers) AS f, COUNT(*), SUM(label = 'negative'), MIN(url) "
            f"FROM mentions WHERE {where} AND source != 'reddit' AND author IS NOT NULL "
            "GROUP BY source, author ORDER BY f DESC, COUNT(*) DESC, author LIMIT ?", (*span, limit))]
    # Reddit: a thread lives in one subreddit, so group by thread in SQL, then threads by community.
    communities: dict[str, InfluencerLine] = {}
    for sub, thread, followers, n, neg, url in store.conn.execute(
            "SELECT json_extract(metrics, '$.subreddit'), thread_key, MAX(author_followers), COUNT(*), "
            f"SUM(label = 'negative'), MIN(url) FROM mentions WHERE {where} AND source = 'reddit' "
            "GROUP BY 1, thread_key", span):
        key = stored_audience({"source": "reddit", "author": None, "url": url, "thread_key": thread,
                               "metrics": json.dumps({"subreddit": sub}) if sub else "{}", "id": thread})
        line = communities.get(key)
        if line is None:
            line = communities[key] = InfluencerLine(key.split(":", 1)[1], "reddit", 0, "members", 0, 0,
                                                     safe_link(url))
        line.audience = max(line.audience, int(followers))
        line.mentions += n
        line.negative += int(neg or 0)
    ranked = sorted(communities.values(), key=lambda i: (-i.audience, -i.mentions, i.name))
    return authors, ranked[:limit]


def _terms(config: Config, store: Store, brand: str, since: datetime, now: datetime) -> tuple[list[TermLine], str]:
    """Top growing terms of the range against the range before and the baseline before that."""
    from listener.topics import period_topics

    cfg = config.topics
    if not cfg.enabled:
        return [], "Topics are off ([topics].enabled = false)."
    span = now - since
    n = cfg.baseline_periods + 2
    bounds = [(now - (n - i) * span, now - (n - i - 1) * span) for i in range(n)]
    rows = [r for r in period_topics(config, store, brand, bounds, n - 1) if r.kind != "cluster"]
    lines = [TermLine(r.kind, r.term, r.mentions, r.share_pct, r.previous_mentions) for r in rows[:12]]
    note = "" if lines else (
        f"No term grew significantly: a term needs {cfg.min_count}+ posts, a period {cfg.min_posts}+ posts, "
        f"and a keyness (G²) of {cfg.min_llr:g} against the brand's baseline ([topics] in the config).")
    return lines, note


def _spikes(config: Config, store: Store, brand: str, tables: dict[str, Any] | None, window: Any,
            explainer: Any = None, limit: int = 2) -> list[SpikeLine]:
    """The biggest spikes of the chart's periods (as annotated on the chart) and what drove each."""
    from listener.trends.charts import StoreExplainer
    from sentiment.trends import find_spikes

    if not tables or window is None:
        return []
    explainer = explainer or StoreExplainer(config, store, window)
    rows = [r for r in tables["overview"].rows if r["brand"] == brand]
    totals, negatives = [r["mentions"] for r in rows], [r["negative"] for r in rows]
    volume = set(find_spikes(totals))
    picked = sorted(volume | set(find_spikes(negatives)), key=lambda i: -totals[i])[:limit]
    out = []
    for i in sorted(picked):
        r = rows[i]
        found = explainer.explanation(brand, r["period_start"], i not in volume)
        if config.topics.summary.enabled and not found.summary:
            from listener.summary import summarise

            found.summary = summarise(config.topics.summary, found) or ""
        what = f"{totals[i]} mentions, {round(100 * negatives[i] / totals[i]) if totals[i] else 0}% negative"
        out.append(SpikeLine(r["period_start"], what, found.headline(), found.lines(clusters=False),
                             [(c.size, c.text, safe_link(c.url)) for c in found.clusters], found.summary))
    return out


def _queue(store: Store, brand: str, since: datetime, until: datetime, now: datetime) -> QueueFigures:
    return queue_figures([i for i in read_queue_items(store, since, until) if i.brand == brand], now)


def report_data(config: Config, store: Store, since: datetime, now: datetime,
                charts: list[Chart] | None = None, tables: dict[str, Any] | None = None,
                window: Any = None, explainer: Any = None) -> ReportData:
    """Everything the report shows, computed from the store for [since, now) and the period before."""
    tz_name = config.trends.timezone
    tz = ZoneInfo(tz_name)
    before = since - (now - since)
    cur, prev = _tallies(store, since, now, tz), _tallies(store, before, since, tz)
    cur_a, prev_a = _authors(store, since, now, tz), _authors(store, before, since, tz)
    sections = []
    for own in config.brands:
        b = own.name
        c, p = cur.get(b, Tally()), prev.get(b, Tally())
        members = [b, *own.competitors]
        sov_c = share_of_voice(members, {m: cur.get(m, Tally()) for m in members})[0]
        sov_p = share_of_voice(members, {m: prev.get(m, Tally()) for m in members})[0]
        figures = [
            Figure("Mentions", c.mentions, p.mentions, good_when=""),
            Figure("Net sentiment", c.net_sentiment, p.net_sentiment, " pts", relative=False),
            Figure("Negative share", c.negative_pct, p.negative_pct, "%", "down", relative=False),
            Figure("Detractors", c.detractors, p.detractors, good_when="down"),
            Figure("Unique authors", cur_a.get(b, 0), prev_a.get(b, 0), good_when=""),
            Figure("Reach", c.reach, p.reach, good_when=""),
        ]
        if own.competitors:
            figures += [
                Figure("Share of voice", sov_c.share_of_voice_pct, sov_p.share_of_voice_pct, "%", relative=False),
                Figure("Positive share of voice", sov_c.positive_share_of_voice_pct,
                       sov_p.positive_share_of_voice_pct, "%", relative=False),
            ]
        if c.unscored:
            figures.append(Figure("Unscored (language not covered)", c.unscored, p.unscored, good_when="down"))
        themes_c = _theme_counts(store, since, now, tz, b)
        themes_p = _theme_counts(store, before, since, tz, b)
        themes = sorted(themes_c.items(), key=lambda kv: (-kv[1].mentions, kv[0]))[:TOP_THEMES]
        q_c, q_p = _queue(store, b, since, now, now), _queue(store, b, before, since, now)
        queue = [
            Figure("Flagged threads", q_c.flagged_threads, q_p.flagged_threads, good_when="down"),
            Figure("First response, median", q_c.first_response_median_min, q_p.first_response_median_min,
                   " min", "down", relative=False),
            Figure("First response, p90", q_c.first_response_p90_min, q_p.first_response_p90_min, " min", "down",
                   relative=False),
            Figure("Resolution, median", q_c.resolution_median_min, q_p.resolution_median_min, " min", "down",
                   relative=False),
            Figure("Resolution, p90", q_c.resolution_p90_min, q_p.resolution_p90_min, " min", "down",
                   relative=False),
            Figure("First-response SLA met", q_c.first_response_sla_pct, q_p.first_response_sla_pct, "%",
                   relative=False),
            Figure("Resolution SLA met", q_c.resolution_sla_pct, q_p.resolution_sla_pct, "%", relative=False),
            Figure("Unanswered", q_c.unanswered, q_p.unanswered, good_when="down"),
            Figure("Recovered customers", q_c.recovered_pct, q_p.recovered_pct, "%", relative=False),
        ]
        section = BrandSection(
            brand=b, figures=figures,
            negative_threads=top_threads(store, b, since, now, negative=True),
            positive_threads=top_threads(store, b, since, now, negative=False),
            themes=[ThemeLine(t, tally.mentions, tally.negative, tally.negative_pct,
                              themes_p.get(t, Tally()).mentions) for t, tally in themes],
            queue=queue,
        )
        for chart in charts or []:
            if chart.brand == b:
                section.charts.append((chart.title, data_uri(chart.png)))
                section.chart_by_name[chart.name.rsplit("_", 1)[0]] = (chart.title, data_uri(chart.png))
        all_c = share_of_voice(members, {m: cur.get(m, Tally()) for m in members})
        all_p = {x.brand: x for x in share_of_voice(members, {m: prev.get(m, Tally()) for m in members})}
        for sov in all_c:
            m, mc, mp = sov.brand, cur.get(sov.brand, Tally()), prev.get(sov.brand, Tally())
            section.members.append(MemberLine(
                m, m == b, Figure("Mentions", mc.mentions, mp.mentions, good_when=""),
                Figure("Net sentiment", mc.net_sentiment, mp.net_sentiment, " pts", relative=False),
                Figure("Negative share", mc.negative_pct, mp.negative_pct, "%", "down", relative=False),
                Figure("Share of voice", sov.share_of_voice_pct, all_p[m].share_of_voice_pct, "%", relative=False)))
        section.terms, section.terms_note = _terms(config, store, b, since, now)
        section.sources = _slices(store, since, now, tz, b, "source")
        section.languages = _slices(store, since, now, tz, b, "lang")
        section.influencers, section.communities = influencers(store, b, since, now)
        section.spikes = _spikes(config, store, b, tables, window, explainer)
        if not q_c.flagged_threads:
            section.queue_note = ("No thread was flagged for the support queue in this period, so there are no "
                                  "response times to show.")
        elif q_c.first_response_median_min is None and q_c.resolution_median_min is None:
            section.queue_note = (f"{q_c.flagged_threads} threads were flagged, and none has a first response or a "
                                  "resolution recorded in the queue yet, so response times are empty until someone "
                                  "answers (in `overheard serve`, or Slack's buttons).")
        sections.append(section)
    local = "%Y-%m-%d %H:%M"
    names = ", ".join(config.brand_names())
    return ReportData(
        title=f"{names}: what customers said",
        tz_name=tz_name,
        since=since.astimezone(tz).strftime(local),
        until=now.astimezone(tz).strftime(local),
        before_since=before.astimezone(tz).strftime(local),
        generated_at=now.astimezone(tz).strftime(local),
        brands=sections,
    )


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_report(data: ReportData) -> str:
    """The report as one HTML document (escaped, self-contained)."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(r=data)


def write_report(config: Config, store: Store, path: Path, *, since: datetime | None = None,
                 now: datetime | None = None, update: bool = True) -> Path:
    """Write the report for [since, now) (default: the last [trends].report_since) to `path`."""
    html = report_html(config, store, since, now, update=update)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


def report_html(config: Config, store: Store, since: datetime | None = None, now: datetime | None = None,
                *, update: bool = True) -> str:
    """The report for [since, now) (default: the last [trends].report_since) as one HTML document."""
    from listener.trendfiles import chart_period
    from listener.trends.since import parse_duration, up_to_now

    now = up_to_now(now or utcnow())
    since = since or now - parse_duration(config.trends.report_since)
    tz_name = config.trends.timezone
    if update:
        update_rollup(store, tz_name, now)
    window = make_window(chart_period("day", since, now, tz_name), tz_name, since, now)
    # The charts' tables through the periods kept for the trend files (the same rows as from scratch).
    tables = {t.name: t for t in window_tables(config, store, window, now)}
    from listener.trends.charts import StoreExplainer

    explainer = StoreExplainer(config, store, window)
    charts = build_charts(config, tables, window, explainer, store=store)
    return render_report(report_data(config, store, since, now, charts, tables, window, explainer))


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>{{ r.title }}</title>
<style>
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121; margin: 0;
       background: #f5f5f5; line-height: 1.4; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
header p, .note { color: #616161; }
h1 { margin-bottom: 4px; } h2 { margin-top: 40px; border-bottom: 2px solid #e0e0e0; padding-bottom: 4px; }
h3 { margin-top: 28px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
.card, .panel { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.card .label { font-size: 13px; color: #616161; } .card .value { font-size: 26px; font-weight: 600; }
.card .change { font-size: 13px; } .good { color: #2e7d32; } .bad { color: #c62828; } .flat { color: #616161; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; align-items: start; }
img { display: block; max-width: 100%; height: auto; background: #fff; border-radius: 8px; margin: 8px 0; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eee; vertical-align: top;
         overflow-wrap: break-word; }
td.text { overflow-wrap: anywhere; }
th { background: #fafafa; } td.num, th.num { text-align: right; white-space: nowrap; }
tr.own td { font-weight: 600; } .chg { font-size: 12px; font-weight: normal; }
.spike { border-left: 4px solid #ffb300; }
.spike ul { margin: 6px 0; padding-left: 20px; }
blockquote { margin: 6px 0; padding: 6px 10px; background: #fafafa; border-left: 3px solid #bdbdbd;
             overflow-wrap: anywhere; }
@media (max-width: 760px) {
  main { padding: 12px; }
  .grid2 { grid-template-columns: minmax(0, 1fr); }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
  .card .value { font-size: 20px; }
  table { font-size: 13px; }
  th, td { padding: 5px 4px; }
  td.num, th.num { white-space: normal; }
  .wide { display: none; }
}
</style>
</head>
<body><main>
<header>
<h1>{{ r.title }}</h1>
<p>{{ r.since }} to {{ r.until }} ({{ r.tz_name }}), compared with {{ r.before_since }} to {{ r.since }}.
Generated {{ r.generated_at }} {{ r.tz_name }} by overheard. How each figure is counted: docs/trends.md.</p>
</header>
{% macro card(f) -%}
<div class="card"><div class="label">{{ f.label }}</div><div class="value">{{ f.show(f.now) }}</div>
<div class="change {{ f.mood }}">{{ f.change }}
{%- if f.before is not none %} <span class="flat">(before: {{ f.show(f.before) }})</span>{% endif %}</div></div>
{%- endmacro %}
{% macro cell(f) -%}
<td class="num">{{ f.show(f.now) }}<div class="chg {{ f.mood }}">{{ f.change }}</div></td>
{%- endmacro %}
{% macro chart(b, name) -%}
{% if name in b.chart_by_name %}{% set c = b.chart_by_name[name] %}<img src="{{ c[1] }}" alt="{{ c[0] }}">{% endif %}
{%- endmacro %}
{% macro threads(list, what) -%}
<table><tr><th>thread</th><th class="wide">source</th><th class="num">{{ what }}</th><th class="num">mentions</th>
<th class="num wide">reach</th>{% if what == "negative" %}<th class="num">risk</th>{% endif %}</tr>
{% for t in list %}
<tr><td class="text">
{%- if t.url %}<a href="{{ t.url }}" rel="noopener noreferrer">{{ t.text }}</a>{% else %}{{ t.text }}{% endif -%}
</td>
<td class="wide">{{ t.source }}</td><td class="num">{{ t.negative if what == "negative" else t.positive }}</td>
<td class="num">{{ t.mentions }}</td><td class="num wide">{{ "{:,}".format(t.reach) }}</td>
{%- if what == "negative" %}
<td class="num">{{ "%.0f"|format(t.risk) if t.risk is not none else "—" }}</td>{% endif %}</tr>
{% endfor %}
</table>
{%- endmacro %}
{% for b in r.brands %}
<section>
<h2>{{ b.brand }}</h2>
<div class="cards">
{% for f in b.figures %}{{ card(f) }}
{% endfor %}
</div>
<p class="note">Net sentiment: % positive minus % negative of the mentions a model could rate, in points.
Reach: the audience that could see the mentions, each author's followers (or a community's members) once.
Changes compare with the period of the same length just before.</p>

<h3>What drove the spikes</h3>
{% if b.spikes %}
{% for s in b.spikes %}
<div class="panel spike"><strong>{{ s.period }}: {{ s.what }}</strong>{% if s.headline %}, {{ s.headline }}{% endif %}
{% if s.summary %}<p><em>Summary written by a language model:</em> {{ s.summary }}</p>{% endif %}
<ul>{% for line in s.lines %}<li>{{ line }}</li>{% endfor %}</ul>
{% for size, text, url in s.clusters %}
<blockquote>{{ size }} near-identical posts, for example:
{% if url %}<a href="{{ url }}" rel="noopener noreferrer">{{ text }}</a>{% else %}{{ text }}{% endif %}</blockquote>
{% endfor %}
</div>
{% endfor %}
{% else %}
<p class="note">No spike in this period: no day with at least twice the median mentions (or negative
mentions) and 5 more than it.</p>
{% endif %}
{{ chart(b, "sentiment") }}

<h3>Competitors</h3>
{% if b.members|length > 1 %}
<div class="grid2">
<div><table><tr><th>brand</th><th class="num">mentions</th><th class="num">net sentiment</th>
<th class="num">negative share</th><th class="num">share of voice</th></tr>
{% for m in b.members %}
<tr{% if m.own %} class="own"{% endif %}><td>{{ m.brand }}</td>{{ cell(m.mentions) }}{{ cell(m.net) }}
{{ cell(m.negative_pct) }}{{ cell(m.share) }}</tr>
{% endfor %}
</table>
<p class="note">Share of voice: the brand's mentions as % of all mentions of the set (a mention naming
two brands counts for both). Change against the period before.</p></div>
<div>{{ chart(b, "competitors") }}</div>
</div>
{{ chart(b, "share_of_voice") }}
{% else %}
<p class="note">No competitors configured for {{ b.brand }} (add <code>competitors = [...]</code> to its
[[brands]] entry).</p>
{% endif %}

<h3>Top terms</h3>
{% if b.terms %}
<table><tr><th>term</th><th class="wide">kind</th><th class="num">posts</th><th class="num">share</th>
<th class="num">before</th><th class="num">change</th></tr>
{% for t in b.terms %}
<tr><td class="text">{{ t.term }}</td><td class="wide">{{ t.kind }}</td><td class="num">{{ t.mentions }}</td>
<td class="num">{{ "%.1f%%"|format(t.share_pct) }}</td>
<td class="num">{{ t.before if t.before is not none else "—" }}</td><td class="num">{{ t.change }}</td></tr>
{% endfor %}
</table>
<p class="note">Terms, phrases, hashtags and linked domains that grew most against the period before
and the brand's baseline (log-likelihood keyness); near-identical posts count once.</p>
{% else %}<p class="note">{{ b.terms_note }}</p>{% endif %}

<h3>Themes</h3>
{{ chart(b, "negative_themes") }}
{% if b.themes %}
<table><tr><th>theme</th><th class="num">mentions</th><th class="num">negative</th><th class="num">negative share</th>
<th class="num">vs before</th></tr>
{% for t in b.themes %}
<tr><td>{{ t.theme }}</td><td class="num">{{ t.mentions }}</td><td class="num">{{ t.negative }}</td>
<td class="num">{{ "%.1f%%"|format(t.negative_pct) if t.negative_pct is not none else "—" }}</td>
<td class="num">{{ t.change }}</td></tr>
{% endfor %}
</table>
{% else %}
<p class="note">No mentions with a theme (themes come from [sentiment.themes] in the config).</p>
{% endif %}

<h3>Sources and languages</h3>
{% if b.sources %}
<div class="grid2">
{% for title, rows in (("source", b.sources), ("language", b.languages)) %}
<table><tr><th>{{ title }}</th><th class="num">mentions</th><th class="num">share</th>
<th class="num">negative share</th></tr>
{% for x in rows %}
<tr><td>{{ x.name }}</td><td class="num">{{ x.mentions }}</td>
<td class="num">{{ "%.1f%%"|format(x.share_pct) if x.share_pct is not none else "—" }}</td>
<td class="num">{{ "%.1f%%"|format(x.negative_pct) if x.negative_pct is not none else "—" }}</td></tr>
{% endfor %}
</table>
{% endfor %}
</div>
{% else %}<p class="note">No mentions of {{ b.brand }} in this period.</p>{% endif %}

<h3>Influencers</h3>
{% if b.influencers or b.communities %}
<div class="grid2">
{% for title, rows in (("author", b.influencers), ("community", b.communities)) if rows %}
<table><tr><th>{{ title }}</th><th class="wide">source</th><th class="num">audience</th>
<th class="num">mentions</th><th class="num">negative</th></tr>
{% for i in rows %}
<tr><td class="text">
{%- if i.url %}<a href="{{ i.url }}" rel="noopener noreferrer">{{ i.name }}</a>{% else %}{{ i.name }}{% endif -%}
</td>
<td class="wide">{{ i.source }}</td><td class="num">{{ "{:,}".format(i.audience) }} {{ i.noun }}</td>
<td class="num">{{ i.mentions }}</td><td class="num">{{ i.negative }}</td></tr>
{% endfor %}
</table>
{% endfor %}
</div>
<p class="note">The authors whose posts could reach the most people (their followers), and the
communities where the brand was discussed (a subreddit counts once, by its members); each links to one post.</p>
{% else %}
<p class="note">No author with a follower count in this period (some sources, such as app-store
reviews, give none).</p>
{% endif %}

<h3>Top negative threads</h3>
{% if b.negative_threads %}{{ threads(b.negative_threads, "negative") }}
{% else %}<p class="note">No negative mentions in this period.</p>{% endif %}
<h3>Top positive threads</h3>
{% if b.positive_threads %}{{ threads(b.positive_threads, "positive") }}
{% else %}<p class="note">No positive mentions in this period.</p>{% endif %}

<h3>Support queue</h3>
<div class="cards">
{% for f in b.queue %}{{ card(f) }}
{% endfor %}
</div>
{% if b.queue_note %}<p class="note">{{ b.queue_note }}</p>{% endif %}
{{ chart(b, "queue") }}
<p class="note">Times run from when a thread was flagged. p90: 90% of threads were answered within it.
SLA met: share of threads whose target has passed that were answered (or resolved) in time.</p>
</section>
{% endfor %}
</main></body>
</html>
"""
