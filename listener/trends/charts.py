"""Charts for decks and the report (matplotlib, Agg, PNG), drawn from the trend tables.

Figures are built with matplotlib.figure.Figure (no pyplot): no global state, safe in the daemon.
Every chart names the brand, the period and the time zone, marks the last period when it is still
running, and annotates spikes so the eye goes where the story is.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listener.config import Config
from listener.models import iso, utcnow
from listener.trends.tables import TrendTable, TrendWindow
from sentiment.trends import find_spikes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from listener.store import Store

COLORS = {"positive": "#2e7d32", "neutral": "#9e9e9e", "negative": "#c62828", "unscored": "#d7ccc8"}
LINE = "#1a237e"
SERIES = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#558b2f", "#4e342e", "#37474f"]
MAX_TICKS = 12
# What drove a spike, for an annotation: (brand, period_start text, negative only) -> a few words
# (listener.topics.explain's top terms), or "" when nothing stands out.
Explainer = Callable[[str, str, bool], str]


@dataclass(frozen=True)
class Chart:
    """One chart: a file-name stem, its title (alt text in the report) and the PNG bytes."""

    name: str
    title: str
    png: bytes
    brand: str = ""  # the own brand (or competitor set) it is about


def slug(text: str) -> str:
    """A brand or set name fit for a file name."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return cleaned or "brand"


def _tick(start: str, period: str) -> str:
    if period == "hour":
        return datetime.fromisoformat(start).strftime("%d %b %H:%M")
    d = date.fromisoformat(start)
    if period == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return d.strftime("%b %Y")
    return d.strftime("%d %b")


def _axis(ax: Any, starts: Sequence[str], window: TrendWindow) -> None:
    n = len(starts)
    step = max(1, -(-n // MAX_TICKS))
    ax.set_xticks(range(0, n, step))
    ax.set_xticklabels([_tick(s, window.period) for s in starts[::step]], rotation=30, ha="right", fontsize=8)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_xlabel(f"{window.period} ({window.tz_name})")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top"]].set_visible(False)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure  # only when a chart is drawn: importing it takes ~0.6 s

    fig = Figure(figsize=(10, 4.8), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=12, fontweight="bold", loc="left")
    return fig, ax


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=12, color="#616161")
    ax.set_xticks([])
    ax.set_yticks([])


def _partial_note(ax: Any, rows: Sequence[dict[str, Any]]) -> None:
    if rows and not rows[-1]["complete"]:
        ax.text(1.0, 1.01, "last period still running", ha="right", va="bottom", transform=ax.transAxes,
                fontsize=8, color="#616161")


def sentiment_chart(overview: TrendTable, brand: str, window: TrendWindow, explain: Explainer | None = None) -> Chart:
    """Net sentiment (line, top) over volume by sentiment (stacked bars); spikes annotated with what drove them."""
    rows = [r for r in overview.rows if r["brand"] == brand]
    title = f"{brand}: net sentiment and mentions"
    if not any(r["mentions"] for r in rows):
        fig, ax = _figure(title)
        _empty(ax, f"No mentions of {brand} in this range")
        return Chart(f"sentiment_{slug(brand)}", title, _png(fig), brand)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.6), layout="constrained")
    net_ax, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2])
    net_ax.set_title(title, fontsize=12, fontweight="bold", loc="left")
    xs = range(len(rows))
    net = [r["net_sentiment"] for r in rows]
    net_ax.plot([i for i, v in enumerate(net) if v is not None], [v for v in net if v is not None],
                color=LINE, marker="o", markersize=3, linewidth=2)
    net_ax.axhline(0, color="#616161", linewidth=0.8)
    net_ax.set_ylim(-100, 100)
    net_ax.set_yticks([-100, -50, 0, 50, 100])
    net_ax.set_ylabel("net sentiment\n(% pos − % neg)", fontsize=9)
    net_ax.grid(axis="y", alpha=0.3)
    net_ax.spines[["top", "right"]].set_visible(False)
    _partial_note(net_ax, rows)

    bottom = [0] * len(rows)
    for label in ("negative", "neutral", "positive", "unscored"):
        values = [r[label] for r in rows]
        if label == "unscored" and not any(values):
            continue
        bars = ax.bar(xs, values, bottom=bottom, color=COLORS[label], label=label, width=0.8)
        if not rows[-1]["complete"]:
            bars[-1].set_alpha(0.45)
        bottom = [b + v for b, v in zip(bottom, values, strict=False)]
    ax.set_ylabel("mentions")
    totals = [r["mentions"] for r in rows]
    negatives = [r["negative"] for r in rows]
    volume_spikes = find_spikes(totals)
    for n, i in enumerate(sorted(set(volume_spikes) | set(find_spikes(negatives)))):
        text = (f"spike: {totals[i]} mentions\n{round(100 * negatives[i] / totals[i])}% negative"
                if i in volume_spikes else f"{negatives[i]} negative\nof {totals[i]}")
        drivers = explain(brand, rows[i]["period_start"], i not in volume_spikes) if explain else ""
        if drivers:
            text += f"\n{drivers}"
        ax.annotate(text, xy=(i, totals[i]), xytext=(0, 14 + 22 * (n % 2)), textcoords="offset points",
                    ha="center", fontsize=8, fontweight="bold", arrowprops={"arrowstyle": "->", "color": "#424242"},
                    bbox={"boxstyle": "round,pad=0.2", "fc": "#fff8e1", "ec": "#ffb300"})
    ax.set_ylim(0, max(totals) * 1.55 + 1)
    ax.legend(loc="upper left", fontsize=8, ncols=4, frameon=False)
    _axis(ax, [r["period_start"] for r in rows], window)
    return Chart(f"sentiment_{slug(brand)}", title, _png(fig), brand)


def share_of_voice_chart(sov: TrendTable, competitor_set: str, window: TrendWindow) -> Chart:
    """Each brand's share of the competitor set's mentions per period (stacked to 100%)."""
    rows = [r for r in sov.rows if r["competitor_set"] == competitor_set]
    title = f"Share of voice: {competitor_set} and competitors"
    fig, ax = _figure(title)
    starts = list(dict.fromkeys(r["period_start"] for r in rows))
    by_brand: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        by_brand[r["brand"]][r["period_start"]] = r
    if not any(r["mentions"] for r in rows):
        _empty(ax, f"No mentions of {competitor_set} or its competitors in this range")
        return Chart(f"share_of_voice_{slug(competitor_set)}", title, _png(fig), competitor_set)
    bottom = [0.0] * len(starts)
    for n, (brand, per) in enumerate(by_brand.items()):
        values = [per[s]["share_of_voice_pct"] or 0.0 for s in starts]
        ax.bar(range(len(starts)), values, bottom=bottom, label=brand, color=SERIES[n % len(SERIES)], width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=False)]
    own = by_brand[competitor_set]
    total_set = sum(per["set_mentions"] for per in own.values())
    total_own = sum(per["mentions"] for per in own.values())
    ax.text(0.99, 0.02, f"{competitor_set}: {round(100 * total_own / total_set)}% of the set's mentions overall",
            ha="right", va="bottom", transform=ax.transAxes, fontsize=9, fontweight="bold", color="white",
            bbox={"boxstyle": "round,pad=0.3", "fc": "#263238", "alpha": 0.8})
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of voice (% of the set's mentions)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    _axis(ax, starts, window)
    _partial_note(ax, list(own.values()))
    return Chart(f"share_of_voice_{slug(competitor_set)}", title, _png(fig), competitor_set)


def negative_themes_chart(themes: TrendTable, brand: str, window: TrendWindow, periods: Sequence[str],
                          top: int = 6, explain: Explainer | None = None) -> Chart:
    """Negative mentions per theme per period as small multiples (one panel a theme, the same scale),
    for the themes with the most negative mentions; the biggest spike annotated with what drove it."""
    title = f"{brand}: negative mentions by theme"
    per_theme: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in themes.rows:
        if r["brand"] == brand:
            per_theme[r["theme"]][r["period_start"]] += r["negative"]
    ranked = sorted(per_theme, key=lambda t: (-sum(per_theme[t].values()), t))
    ranked = [t for t in ranked if sum(per_theme[t].values())][:top]
    if not ranked:
        fig, ax = _figure(title)
        _empty(ax, f"No negative mentions with a theme for {brand} in this range\n"
                   "(themes come from [sentiment.themes] in the config)")
        return Chart(f"negative_themes_{slug(brand)}", title, _png(fig), brand)
    cols = 2 if len(ranked) > 1 else 1
    rows_n = -(-len(ranked) // cols)
    # A fixed layout: the constraint solver costs more than the drawing for a grid of small panels.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, max(4.8, 1.9 * rows_n + 0.9)))
    fig.suptitle(title, fontsize=12, fontweight="bold", x=0.01, ha="left")
    axes = fig.subplots(rows_n, cols, sharex=True, sharey=True, squeeze=False,
                        gridspec_kw={"left": 0.05, "right": 0.99, "top": 1 - 0.55 / fig.get_figheight(),
                                     "bottom": 0.75 / fig.get_figheight(), "hspace": 0.45, "wspace": 0.06})
    ceiling = max(max(per_theme[t].values()) for t in ranked)
    best: tuple[int, int, str] | None = None
    for theme in ranked:
        values = [per_theme[theme].get(p, 0) for p in periods]
        for i in find_spikes(values, min_excess=3):
            if best is None or values[i] > best[1]:
                best = (i, values[i], theme)
    for n, theme in enumerate(ranked):
        ax = axes[n // cols][n % cols]
        values = [per_theme[theme].get(p, 0) for p in periods]
        bars = ax.bar(range(len(periods)), values, color=COLORS["negative"], width=0.8)
        if themes.rows and not themes.rows[-1].get("complete", True) and bars:
            bars[-1].set_alpha(0.45)
        ax.set_title(f"{theme} · {sum(values)} negative", fontsize=9.5, loc="left")
        ax.set_ylim(0, ceiling * 1.45 + 1)
        if best is not None and best[2] == theme:
            i, v, _ = best
            drivers = explain(brand, periods[i], True) if explain else ""
            label = f"spike: {v} negative" + (f"\n{drivers}" if drivers else "")
            ax.annotate(label, xy=(i, v), xytext=(0, 8), textcoords="offset points", ha="center", fontsize=7.5,
                        fontweight="bold", bbox={"boxstyle": "round,pad=0.2", "fc": "#ffebee",
                                                 "ec": COLORS["negative"]})
        _axis(ax, periods, window)
        ax.set_xlabel("")
        if n // cols < rows_n - 1 and n + cols < len(ranked):  # tick labels on the bottom panel of each column
            ax.tick_params(labelbottom=False)
    for n in range(len(ranked), rows_n * cols):
        axes[n // cols][n % cols].set_visible(False)
    return Chart(f"negative_themes_{slug(brand)}", title, _png(fig), brand)


def queue_chart(queue: TrendTable, brand: str, window: TrendWindow) -> Chart:
    """First-response and resolution times (median, p90, in hours) with flagged threads per period."""
    rows = [r for r in queue.rows if r["brand"] == brand]
    title = f"{brand}: support queue response times"
    fig, ax = _figure(title)
    if not any(r["flagged_threads"] for r in rows):
        _empty(ax, f"No threads of {brand} were flagged for the queue in this range")
        return Chart(f"queue_{slug(brand)}", title, _png(fig), brand)
    xs = list(range(len(rows)))
    flagged_ax = ax.twinx()
    flagged_ax.bar(xs, [r["flagged_threads"] for r in rows], color="#cfd8dc", width=0.8, label="flagged threads")
    flagged_ax.set_ylabel("flagged threads")
    ax.set_zorder(flagged_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    for column, label, style in (
        ("first_response_median_min", "first response, median", "-"),
        ("first_response_p90_min", "first response, p90", "--"),
        ("resolution_median_min", "resolution, median", ":"),
    ):
        points = [(i, r[column] / 60) for i, r in enumerate(rows) if r[column] is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], linestyle=style, marker="o", markersize=4,
                    linewidth=2, label=label, color=SERIES[0] if "first" in column else SERIES[1])
    ax.set_ylabel("hours from flagging")
    ax.set_ylim(bottom=0)
    if not any(r[c] is not None for r in rows for c in ("first_response_median_min", "resolution_median_min")):
        waiting = sum(r["flagged_threads"] - r["dismissed"] for r in rows)
        ax.text(0.5, 0.55, f"No response times yet: none of the {waiting} flagged threads has a first\n"
                "response or a resolution in the queue. Times appear here once someone answers.",
                ha="center", va="center", transform=ax.transAxes, fontsize=10, color="#616161")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = flagged_ax.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper left", fontsize=8, ncols=4, frameon=False)
    _axis(ax, [r["period_start"] for r in rows], window)
    _partial_note(ax, rows)
    return Chart(f"queue_{slug(brand)}", title, _png(fig), brand)


def competitors_chart(overview: TrendTable, brand: str, members: Sequence[str], window: TrendWindow) -> Chart:
    """The brand and its competitors side by side: mentions (top) and net sentiment (bottom) per period."""
    title = f"{brand} and competitors: mentions and net sentiment"
    starts = list(dict.fromkeys(r["period_start"] for r in overview.rows))
    by: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in overview.rows:
        if r["brand"] in members:
            by[r["brand"]][r["period_start"]] = r
    if not any(r["mentions"] for per in by.values() for r in per.values()):
        fig, ax = _figure(title)
        _empty(ax, f"No mentions of {brand} or its competitors in this range")
        return Chart(f"competitors_{slug(brand)}", title, _png(fig), brand)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.6))  # a fixed layout: the constraint solver costs more than the drawing
    vol_ax, net_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"left": 0.1, "right": 0.98, "top": 0.93,
                                                                  "bottom": 0.14, "hspace": 0.12})
    vol_ax.set_title(title, fontsize=12, fontweight="bold", loc="left")
    for n, member in enumerate(members):
        per = by.get(member, {})
        color = SERIES[n % len(SERIES)]
        vol_ax.plot(range(len(starts)), [per.get(s, {}).get("mentions", 0) for s in starts], color=color,
                    marker="o", markersize=3, linewidth=2.4 if member == brand else 1.6, label=member)
        points = [(i, per[s]["net_sentiment"]) for i, s in enumerate(starts)
                  if s in per and per[s]["net_sentiment"] is not None]
        net_ax.plot([p[0] for p in points], [p[1] for p in points], color=color, marker="o", markersize=3,
                    linewidth=2.4 if member == brand else 1.6, label=member)
    vol_ax.set_ylabel("mentions")
    vol_ax.set_ylim(bottom=0)
    vol_ax.legend(loc="upper left", fontsize=8, ncols=4, frameon=False)
    vol_ax.grid(axis="y", alpha=0.3)
    vol_ax.spines[["top", "right"]].set_visible(False)
    net_ax.axhline(0, color="#616161", linewidth=0.8)
    net_ax.set_ylim(-100, 100)
    net_ax.set_ylabel("net sentiment\n(% pos − % neg)", fontsize=9)
    _axis(net_ax, starts, window)
    _partial_note(vol_ax, list(by.get(brand, {}).values()))
    return Chart(f"competitors_{slug(brand)}", title, _png(fig), brand)


def build_charts(config: Config, tables: dict[str, TrendTable], window: TrendWindow,
                 explain: Explainer | None = None, *, store: Store | None = None) -> list[Chart]:
    """The charts for each own brand, from one window's tables; `explain` words the spikes.

    With a store, a chart whose inputs (rows, window, this module's code) are unchanged is read back
    from chart_cache instead of being drawn again: drawing is most of what `trends` and `report` cost.
    The spike annotations come from the same mentions as the rows, so they change when the rows do.
    """
    periods = list(dict.fromkeys(r["period_start"] for r in tables["overview"].rows))
    charts: list[Chart] = []
    for own in config.brands:
        brand = own.name
        charts.append(_cached(store, sentiment_chart, tables["overview"], brand, window, explain=explain))
        charts.append(_cached(store, share_of_voice_chart, tables["share_of_voice"], brand, window))
        if own.competitors:
            charts.append(_cached(store, competitors_chart, tables["overview"], brand, window,
                                  members=[brand, *own.competitors]))
        charts.append(_cached(store, negative_themes_chart, tables["themes"], brand, window, periods,
                              explain=explain))
        charts.append(_cached(store, queue_chart, tables["queue"], brand, window))
    if store is not None:
        # Charts nobody asked for in a week are for windows long gone.
        store.conn.execute("DELETE FROM chart_cache WHERE used_at < ?", (iso(utcnow() - timedelta(days=7)),))
    return charts


_CODE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _cached(store: Store | None, draw: Callable[..., Chart], table: TrendTable, brand: str, window: TrendWindow,
            *extra: Any, explain: Explainer | None = None, members: Sequence[str] | None = None) -> Chart:
    def drawn() -> Chart:
        if members is not None:
            return draw(table, brand, members, window)
        if explain is not None:
            return draw(table, brand, window, *extra, explain=explain)
        return draw(table, brand, window, *extra)

    if store is None:
        return drawn()
    # The charts read the window's period and zone only (its bounds are in the rows' period starts).
    key = json.dumps([_CODE_DIGEST, draw.__name__, brand, window.period, window.tz_name, table.rows, extra,
                      members, explain is not None], default=str, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = iso(utcnow())
    row = store.conn.execute("SELECT name, title, brand, png FROM chart_cache WHERE digest = ?", (digest,)).fetchone()
    if row is not None:
        store.conn.execute("UPDATE chart_cache SET used_at = ? WHERE digest = ?", (now, digest))
        return Chart(row[0], row[1], bytes(row[3]), row[2])
    chart = drawn()
    store.conn.execute("INSERT OR REPLACE INTO chart_cache VALUES (?, ?, ?, ?, ?, ?)",
                       (digest, chart.name, chart.title, chart.brand, chart.png, now))
    return chart


class StoreExplainer:
    """An Explainer reading the store (listener.topics.explain), each period explained once: the
    charts' annotations and the report's "what drove the spikes" share it."""

    def __init__(self, config: Config, store: Any, window: TrendWindow) -> None:
        self.config, self.store, self.window = config, store, window
        self._done: dict[tuple[str, str, bool], Any] = {}

    def explanation(self, brand: str, start: str, negative_only: bool) -> Any:
        from listener.topics import explain
        from sentiment.trends import period_bounds

        key = (brand, start, negative_only)
        if key not in self._done:
            w = self.window
            p: Any = datetime.fromisoformat(start) if w.period == "hour" else date.fromisoformat(start)
            since, until = period_bounds(p, w.period, w.tz)
            self._done[key] = explain(self.config, self.store, brand, since, min(until, w.until),
                                      negative_only=negative_only)
        return self._done[key]

    def __call__(self, brand: str, start: str, negative_only: bool) -> str:
        return ", ".join(t.name for t in self.explanation(brand, start, negative_only).terms[:3])


def store_explainer(config: Config, store: Any, window: TrendWindow) -> StoreExplainer:
    return StoreExplainer(config, store, window)


def write_charts(charts: Sequence[Chart], out_dir: Any, tz_name: str, period: str) -> list[Any]:
    """Write each chart as `<name>_<period>_<zone>.png` under out_dir; returns the paths."""
    from listener.trends.files import zone_slug

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for chart in charts:
        path = out_dir / f"{chart.name}_{period}_{zone_slug(tz_name)}.png"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(chart.png)
        tmp.replace(path)
        paths.append(path)
    return paths
