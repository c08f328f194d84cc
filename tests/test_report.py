"""The HTML report and the charts: self-contained, escaped, valid PNGs, change against the period before."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from listener.cli import cli
from listener.models import parse_iso
from listener.store import Store
from listener.trendfiles import write_trend_files
from listener.trends.files import read_csv
from listener.trends.report import safe_link, write_report
from tests.test_trends_files import add, make_config

NOW = parse_iso("2026-04-15T12:00:00Z")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Assets(HTMLParser):
    """Every tag and every src/href/srcset/action attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") and value is not None:
                self.urls.append((tag, name, value))


def seed(store: Store) -> None:
    """Acme: 6 mentions in the last 7 days (2 positive, 4 negative), 3 in the 7 days before."""
    # this week: an outage thread, a happy thread, a hostile mention
    add(store, "o1", "2026-04-13T09:00:00Z", label="negative", compound=-0.8, detractor=True, followers=5000,
        text="Acme is down again", url="https://x.com/jo/status/1", author="jo", themes=("outage",))
    add(store, "o2", "2026-04-13T09:10:00Z", label="negative", compound=-0.6, thread="o1", author="kim",
        text="same here, Acme offline", themes=("outage",))
    add(store, "o3", "2026-04-13T09:20:00Z", label="negative", compound=-0.5, thread="o1", author="lee",
        themes=("outage",))
    add(store, "h1", "2026-04-14T10:00:00Z", label="positive", compound=0.9, url="https://reddit.com/r/acme/1",
        text="Acme support sorted me out in minutes", author="max", source="reddit")
    add(store, "h2", "2026-04-14T11:00:00Z", label="positive", compound=0.7, thread="h1", author="ned",
        source="reddit")
    add(store, "evil", "2026-04-14T12:00:00Z", label="negative", compound=-0.9, author="<b>x</b>",
        text="<script>alert('owned')</script> Acme </a><img src=https://evil.example/x.png>",
        url="javascript:alert(1)")
    # the week before
    add(store, "p1", "2026-04-06T09:00:00Z", label="positive", compound=0.5, author="amy")
    add(store, "p2", "2026-04-07T09:00:00Z", label="neutral", compound=0.0, author="amy")
    add(store, "p3", "2026-04-07T10:00:00Z", label="negative", compound=-0.5, author="ben", themes=("outage",))
    add(store, "r1", "2026-04-14T10:00:00Z", brand="Rival", label="positive", compound=0.5, author="zed")


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp_path = tmp_path_factory.mktemp("report")
    config = make_config(tmp_path)
    with Store(config.db_path) as store:
        seed(store)
        path = write_report(config, store, tmp_path / "report.html", since=parse_iso("2026-04-08T12:00:00Z"),
                            now=NOW)
    return path.read_text(encoding="utf-8")


def test_report_requests_nothing_from_outside(report_html: str) -> None:
    page = Assets()
    page.feed(report_html)
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(page.tags)
    assert "url(" not in report_html  # no stylesheet fetches (fonts, backgrounds)
    images = [v for tag, name, v in page.urls if tag == "img"]
    assert len(images) == 5  # the five charts of the one own brand (it has competitors)
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    links = [(tag, v) for tag, name, v in page.urls if tag != "img"]
    assert links and all(tag == "a" and v.startswith("https://") for tag, v in links)  # thread links only


def test_report_escapes_mention_text_and_drops_unsafe_links(report_html: str) -> None:
    assert "<script>" not in report_html and "&lt;script&gt;" in report_html
    assert "evil.example" not in asset_urls(report_html)
    assert "javascript:" not in report_html


def asset_urls(html: str) -> str:
    page = Assets()
    page.feed(html)
    return " ".join(v for _, _, v in page.urls)


def test_report_headline_change_and_top_threads(report_html: str) -> None:
    text = " ".join(report_html.split())
    # mentions: 6 now against 3 before (+100%); net sentiment: (2-4)/6 = -33.3 now, (1-1)/3 = 0.0 before
    assert '<div class="label">Mentions</div><div class="value">6</div>' in text
    assert "+100%" in text
    assert '<div class="label">Net sentiment</div><div class="value">-33.3 pts</div>' in text
    assert "-33.3 pts" in text and "(before: 0 pts)" in text
    # share of voice: Acme 6 of 7 mentions in the set = 85.7%
    assert '<div class="label">Share of voice</div><div class="value">85.7%</div>' in text
    negative = text.split("Top negative threads", 1)[1].split("Top positive threads", 1)[0]
    positive = text.split("Top positive threads", 1)[1].split("Support queue", 1)[0]
    assert negative.index("Acme is down again") < negative.index("&lt;script&gt;")  # 3 negative before 1
    assert 'href="https://x.com/jo/status/1"' in negative
    assert "Acme support sorted me out in minutes" in positive and 'href="https://reddit.com/r/acme/1"' in positive
    themes = text.split("<h3>Themes</h3>", 1)[1]
    assert "<td>outage</td><td class=\"num\">3</td><td class=\"num\">3</td>" in themes
    assert "Europe/London" in text


def test_safe_link_keeps_only_web_links() -> None:
    assert safe_link("https://x.com/a/status/1") == "https://x.com/a/status/1"
    for bad in ("javascript:alert(1)", "data:text/html,hi", "//evil.example", "ftp://x", "", None, "https:///x"):
        assert safe_link(bad) is None


def test_charts_are_valid_pngs(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Store(config.db_path) as store:
        seed(store)
        paths = write_trend_files(config, store, tmp_path / "out", since=parse_iso("2026-04-01T00:00:00Z"),
                                  now=NOW, charts=True)
    pngs = sorted(p.name for p in paths if p.suffix == ".png")
    assert pngs == [f"{c}_acme_day_Europe-London.png" for c in
                    ("competitors", "negative_themes", "queue", "sentiment", "share_of_voice")]
    for name in pngs:
        data = (tmp_path / "out" / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            assert image.width >= 1000 and image.height >= 500  # big enough to read on a slide


def test_trends_and_report_commands(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config.path.write_text('[[brands]]\nname = "Acme"\nkeywords = ["acme"]\n[trends]\ntimezone = "Europe/London"\n',
                           encoding="utf-8")
    with Store(config.db_path) as store:
        seed(store)
    runner = CliRunner()
    out = tmp_path / "files"
    result = runner.invoke(cli, ["trends", "--config", str(config.path), "--period", "week", "--since", "90d",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "overview_week_Europe-London.csv").exists() and (out / "queue_week_Europe-London.json").exists()
    assert not list(out.glob("*.png"))  # charts only when asked
    result = runner.invoke(cli, ["report", "--config", str(config.path), "--since", "30d",
                                 "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    bad = runner.invoke(cli, ["trends", "--config", str(config.path), "--since", "ninety days"])
    assert bad.exit_code == 2
    lines = bad.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("overheard: --since 'ninety days': use a duration (30m, 12h")
    assert "(in Europe/London unless it has an offset or Z)" in lines[0]


def test_bad_trends_config_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "overheard.toml"
    path.write_text('[[brands]]\nname = "Acme"\nkeywords = ["acme"]\n[trends]\nsince = "3 months"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["trends", "--config", str(path)])
    assert result.exit_code == 2
    assert "overheard.toml: trends.since: '3 months' is not a duration" in result.output


@pytest.mark.browser
def test_report_opens_in_chromium_without_requests(tmp_path: Path, report_html: str) -> None:
    from playwright.sync_api import sync_playwright

    page_path = tmp_path / "open.html"
    page_path.write_text(report_html, encoding="utf-8")
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        page = browser.new_page()
        page.on("request", lambda r: requested.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        title = page.title()
        browser.close()
    assert all(u.startswith(("file:", "data:")) for u in requested), requested
    assert len(widths) == 5 and all(w > 0 for w in widths)  # every chart decoded
    assert title == "Acme: what customers said"


def test_demo_writes_trend_files_charts_and_report(tmp_path: Path) -> None:
    from listener.demo import run_demo

    result = run_demo(tmp_path / "demo", channels={})
    names = {p.name for p in result.files}
    assert {"overview_day_Europe-London.csv", "share_of_voice_week_Europe-London.csv", "report.html",
            "sentiment_brightwave_day_Europe-London.png", "queue_brightwave_day_Europe-London.png"} <= names
    trends = tmp_path / "demo" / "trends"
    assert (trends / "overview_day_Europe-London.json").exists()  # written, just not listed
    _, rows = read_csv(trends / "overview_day_Europe-London.csv")
    brightwave = sum(int(r["mentions"]) for r in rows if r["brand"] == "Brightwave")
    with Store(result.config.db_path) as store:
        stored = store.scalar(
            "SELECT COUNT(*) FROM mentions WHERE is_brand_account = 0 AND (brand = 'Brightwave' OR EXISTS "
            "(SELECT 1 FROM json_each(also_brands) WHERE value = 'Brightwave'))")
    # every customer mention of Brightwave is in the daily file, those collected for Lumacell that name it too
    assert brightwave == stored
