"""Report v2 on the demo: what drove the spike, competitors side by side, top terms, sources and
languages, influencers, empty states that say why, and a page that reads on a phone."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from listener.demo import run_demo
from sentiment.themes import DEFAULT_THEMES


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    result = run_demo(tmp_path_factory.mktemp("report2") / "demo", channels={})
    path = result.config.resolve(result.config.trends.out_dir) / "report.html"
    return result, path, " ".join(path.read_text(encoding="utf-8").split())


def section(text: str, title: str) -> str:
    return text.split(f"<h3>{title}</h3>", 1)[1].split("<h3>", 1)[0]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.add(tag)


def test_the_spike_is_explained_by_outage_words(demo) -> None:
    result, _, text = demo
    spikes = section(text, "What drove the spikes")
    outage = {w for p in [*DEFAULT_THEMES["outage"], *result.config.sentiment.themes["outage"]]
              if not p.startswith("-") for w in re.findall(r"\w+", p) if len(w) > 3}
    # the day of the outage: its headline names outage words, with the share of the spike each covers
    headlines = re.findall(r"driven by ((?:&#34;|\")[^<]*)", spikes)
    assert any(outage & set(re.findall(r"\w+", h)) for h in headlines), headlines
    assert "near-identical posts" in spikes and "Most-reached authors" in spikes and "Sources:" in spikes


def test_competitors_terms_sources_and_influencers(demo) -> None:
    _, _, text = demo
    competitors = section(text, "Competitors")
    assert "<td>Lumacell</td>" in competitors and 'class="own"><td>Brightwave</td>' in competitors
    assert "net sentiment" in competitors and "share of voice" in competitors and "<img" in competitors
    terms = section(text, "Top terms")
    assert "<table>" in terms or "No term grew" in terms
    sources = section(text, "Sources and languages")
    assert "<td>x</td>" in sources and "<td>reddit</td>" in sources and "<td>en</td>" in sources
    people = section(text, "Influencers")
    assert "followers" in people and "members" in people  # authors by followers, subreddits by members


def test_empty_queue_times_say_why(demo) -> None:
    _, _, text = demo
    queue = section(text, "Support queue")
    assert "none has a first response or a resolution recorded" in queue


def test_still_one_file_without_script(demo) -> None:
    _, path, text = demo
    parser = Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    assert not {"script", "link", "iframe", "object", "embed"} & parser.tags
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'<img src="([^"]+)"', text))


@pytest.mark.browser
def test_reads_on_a_phone_without_horizontal_scroll(demo) -> None:
    from playwright.sync_api import sync_playwright

    _, path, _ = demo
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox",
                                                                              "--disable-gpu"])
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.getBoundingClientRect().right)")
        browser.close()
    assert width <= 390
    assert images and max(images) <= 390
