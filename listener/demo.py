"""`overheard demo`: a workspace with demo data and config, run through the whole pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from listener.config import Config, load_config
from listener.demo_data.generate import generate
from listener.pipeline import PipelineReport, run_pipeline
from listener.store import Store

DEMO_CONFIG = """\
# overheard demo workspace — written by `overheard demo`. Safe to edit; the demo never overwrites it.
# Every key is explained in config.example.toml at the root of the overheard repository.

[[brands]]
name = "Brightwave"
keywords = ["Brightwave", "Bright Wave"]
handles = ["@Brightwave", "@BrightwaveHelp"]
exclusions = ["brightwave festival"]
competitors = ["Lumacell"]

[[competitors]]
name = "Lumacell"
keywords = ["Lumacell"]
handles = ["@Lumacell", "@LumacellCare"]

[store]
path = "overheard.db"

[sentiment]
scorer = "cascade"

[sources.file]
interval_minutes = 60

[[sources.file.imports]]
paths = ["data/x.jsonl", "data/reddit.jsonl"]

[[sources.file.imports]]
paths = ["data/reviews.csv"]
default_source = "appstore"
[sources.file.imports.fields]
id = "review_id"
text = "body"
title = "headline"
stars = "rating"
author = "reviewer"
created_at = "date"
brand = "app"

[[alerts.receivers]]
name = "console"
type = "console"

[[alerts.receivers]]
name = "outbox-file"
type = "file"
path = "alerts.jsonl"

[[alerts.rules]]
name = "negative-threads"
brands = ["Brightwave"]
kinds = ["thread", "spike"]
min_risk = 50
receivers = ["console", "outbox-file"]

[sentiment.themes]
outage = ["down", "offline", "outage", "no internet", "dropped"]
billing = ["bill", "billing", "charged", "refund", "chargeback", "price"]
support = ["hold", "customer service", "support", "engineer", "nobody calls back"]
app = ["app", "log in", "logs me out", "logging me out", "crashes"]
speed = ["speed", "speeds", "fast", "ping", "5g"]

[topics]
# A small brand (a few dozen posts a day): lower minimums than the defaults, so its outage shows.
min_count = 3
min_posts = 10
min_llr = 6.63

[trends]
out_dir = "trends"
timezone = "Europe/London"
periods = ["day", "week"]
since = "14d"
charts = true
report = true
report_since = "7d"
"""


@dataclass
class DemoResult:
    workspace: Path
    config: Config
    report: PipelineReport
    counts: dict[str, int]
    files: list[Path]
    login: tuple[str, str] | None = None  # (name, password) of the demo workspace's queue login


def demo_anchor(now: datetime | None = None) -> datetime:
    """Start of today (UTC): the demo's two weeks end here, so re-running the same day changes nothing."""
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def prepare_workspace(workspace: Path, now: datetime | None = None) -> Path:
    """Write the demo config (unless one is there) and the demo data; returns the config path."""
    if not workspace.exists():
        workspace.mkdir(parents=True)
        workspace.chmod(0o700)  # it holds the database and alert files: people's posts and handles
    config_path = workspace / "overheard.toml"
    if not config_path.exists():
        config_path.write_text(DEMO_CONFIG, encoding="utf-8")
    data_dir = workspace / "data"
    marker = data_dir / ".anchor"
    anchor = demo_anchor(now)
    # Regenerate only when the day changed: unchanged files are skipped by the file source's cursor.
    if not marker.exists() or marker.read_text() != anchor.isoformat():
        generate(data_dir, anchor)
        marker.write_text(anchor.isoformat())
    return config_path


def run_demo(workspace: Path, *, channels: dict | None = None, now: datetime | None = None) -> DemoResult:
    config_path = prepare_workspace(workspace, now)
    config = load_config(config_path)
    with Store(config.database) as store:
        report = run_pipeline(config, store, channels=channels)
        replay_spikes(config, store, channels)
        counts = store.counts()
        login = demo_login(store, workspace)
    # The trend tables are also written as JSON beside each CSV; listing the CSVs is enough here.
    files = [config.db_path, *(p for p in report.trend_files if p.suffix != ".json")]
    alerts_file = workspace / "alerts.jsonl"
    if alerts_file.exists():
        files.append(alerts_file)
    return DemoResult(workspace, config, report, counts, files, login)


def replay_spikes(config: Config, store: Store, channels: dict | None) -> int:
    """The spike check of every hour of the demo's two weeks, then delivery.

    The daemon checks for spikes at each pass, in the hour just ended; the demo loads two weeks in
    one pass, so it checks each of those hours as the daemon would have. Each spike alert is keyed by
    its hour: a second run sends nothing twice."""
    from datetime import timedelta

    from alerts.outbox import deliver_pending
    from alerts.spikes import check_spikes
    from listener.pipeline import build_channels

    end = demo_anchor()
    written = 0
    hour = end - timedelta(days=14)
    while hour <= end:
        hour += timedelta(hours=1)
        written += check_spikes(store, config, hour)
    if written:
        deliver_pending(store, channels if channels is not None else build_channels(config))
    return written


DEMO_USER = "demo"


def demo_login(store: Store, workspace: Path) -> tuple[str, str]:
    """The demo workspace's queue login (an admin), created once with a random password kept in
    demo-login.txt (mode 600). Only the demo does this; a real config starts with no users."""
    import os
    import secrets

    from alerts.users import add_user, get_user, set_password

    path = workspace / "demo-login.txt"
    password = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if not password:
        password = secrets.token_urlsafe(9)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(password + "\n")
        if get_user(store, DEMO_USER):
            set_password(store, DEMO_USER, password)
    if not get_user(store, DEMO_USER):
        add_user(store, DEMO_USER, "admin", password)
    return DEMO_USER, password
