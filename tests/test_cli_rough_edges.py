"""Issue 18: every rough edge a new user hit in the CLI, one test each, and a CLI that answers at once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from listener.backends import TEST_URL_ENV
from listener.cli import cli
from listener.commands.core import alert_summary
from listener.demo import run_demo
from listener.display import cut, local_time, plural
from listener.errors import UserError
from listener.store import Store
from listener.timeparse import parse_duration, parse_since, parse_time, parse_until
from tests.helpers import copy_workspace, write_config

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, ok: bool = True, env: dict[str, str] | None = None, input: str | None = None):
    result = CliRunner().invoke(cli, list(args), env=env, input=input)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    """One demo workspace for the module; tests that change it work on a copy (`ws`)."""
    ws = tmp_path_factory.mktemp("demo") / "ws"
    run_demo(ws, channels={})
    return ws


@pytest.fixture
def ws(demo_ws, tmp_path):
    copy = tmp_path / "ws"
    copy_workspace(demo_ws, copy)
    return copy


def modules_after(args: list[str], cwd: Path) -> set[str]:
    """The modules a real `overheard ARGS` process imported (the way a user runs it)."""
    code = ("import sys; from listener.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)))")
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "80", "HOME": str(cwd)}
    if os.environ.get(TEST_URL_ENV):  # --backend=postgresql: the process opens the test's store there too
        env[TEST_URL_ENV] = os.environ[TEST_URL_ENV]
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)
    return set(proc.stderr.rsplit("MODULES ", 1)[1].split())


# ---------------------------------------------------------------- speed
def test_help_and_version_import_nothing_heavy(tmp_path):
    for args in (["--help"], ["--version"], ["queue", "--help"]):
        loaded = modules_after(args, tmp_path)
        assert "listener.cli" in loaded
        heavy = {"pydantic", "sqlite_utils", "numpy", "matplotlib", "rich.table"} & loaded
        if args[0] == "queue":
            heavy -= {"pydantic"}  # the queue's choices (states, outcomes) come from alerts.queue
        assert not heavy, f"overheard {' '.join(args)} imported {heavy}"


def test_queue_and_status_commands_skip_the_pipeline(demo_ws):
    for args in (["queue", "list"], ["status"], ["queue", "stats"]):
        loaded = modules_after([*args, "--config", str(demo_ws / "overheard.toml")], demo_ws)
        assert not {"numpy", "matplotlib", "sqlite_utils", "sentiment.learned"} & loaded, args


def test_unchanged_charts_are_not_drawn_again(ws):
    config = str(ws / "overheard.toml")
    first = modules_after(["trends", "--charts", "--config", config], ws)
    again = modules_after(["trends", "--charts", "--config", config], ws)
    assert "matplotlib" in first or "matplotlib" not in again  # drawn at most once
    assert "matplotlib" not in again  # same rows: the PNGs come from chart_cache
    pngs = sorted((ws / "trends").glob("*.png"))
    assert pngs and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    # a new mention changes the rows, so that chart is drawn afresh
    with Store(ws / "overheard.db") as store:
        before = store.scalar("SELECT COUNT(*) FROM chart_cache")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (ws / "new.jsonl").write_text(json.dumps({"source": "x", "id": "n1", "text": "Brightwave is down again",
                                              "created_at": now, "author": "newbie"}) + "\n", encoding="utf-8")
    run("import", str(ws / "new.jsonl"), "--config", config)
    redrawn = modules_after(["trends", "--charts", "--config", config], ws)
    assert "matplotlib" in redrawn
    with Store(ws / "overheard.db") as store:
        assert store.scalar("SELECT COUNT(*) FROM chart_cache") > before


# ---------------------------------------------------------------- wrong or confusing output
def test_init_says_brands_drops_template_markers_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "overheard.toml"
    result = run("init", str(path))
    assert "Edit [[brands]] and the sources" in result.output
    text = path.read_text(encoding="utf-8")
    assert "[[brands]]" in text and not re.search(r"^# @", text, flags=re.M)
    again = run("init", str(path), ok=False)
    assert again.exit_code == 2 and again.output.startswith("overheard: ") and "exists" in again.output
    assert "Error:" not in again.output


def test_queue_stats_reads_as_words(demo_ws):
    out = run("queue", "stats", "--config", str(demo_ws / "overheard.toml")).output
    with Store(demo_ws / "overheard.db") as store:
        new = store.scalar("SELECT COUNT(*) FROM queue_items WHERE state = 'new'")
    assert "{" not in out and "by state" in out and f"new {new}" in out and "recovery rate" in out


def test_status_and_queue_list_count_open_the_same_way(ws):
    config = str(ws / "overheard.toml")
    run("queue", "snooze", "1", "--for", "2w", "--as", "ann", "--config", config)
    status = json.loads(run("status", "--json", "--config", config, ok=False).output)
    listed = json.loads(run("queue", "list", "--json", "--config", config).output)
    with Store(ws / "overheard.db") as store:
        queued = store.scalar("SELECT COUNT(*) FROM queue_items")
    expected = queued - 1  # the snoozed one is not open
    assert status["queue_open"] == listed["counts"]["open"] == expected
    assert f"{expected} open" in run("status", "--config", config, ok=False).output
    assert f"open {expected}" in run("queue", "list", "--config", config).output


def test_score_detects_csv_without_format(tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("id,text\n1,I love Brightwave\n2,Brightwave is down again\n", encoding="utf-8")
    result = run("score", str(small))
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["id"] for x in lines] == ["1", "2"] and "skipped" not in result.output
    piped = run("score", "-", input=small.read_text(encoding="utf-8"))  # no suffix: the first line decides
    assert len(piped.stdout.splitlines()) == 2


def test_run_once_after_a_source_error_exits_1_and_status_shows_it(tmp_path):
    config = write_config(tmp_path, '[sources.file]\n[[sources.file.imports]]\npaths = ["exports/*.jsonl"]\n')
    result = run("run", "--once", "--config", str(config), ok=False)
    assert result.exit_code == 1
    assert "no file matches this pattern" in result.output and "no such file" not in result.output
    status = run("status", "--config", str(config), ok=False)
    assert status.exit_code == 1 and "failing" in status.output
    as_json = json.loads(run("status", "--json", "--config", str(config), ok=False).output)
    assert as_json["sources"][0]["state"] == "failing"


def test_doctor_without_network_fails_fast_and_names_the_host(tmp_path, monkeypatch):
    import socket

    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setenv("X_BEARER_TOKEN", "t")
    monkeypatch.setenv("REDDIT_CLIENT_ID", "i")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "s")
    config = write_config(tmp_path, '[sources.x]\n[sources.reddit]\nsubreddits = ["brightwave"]\n')
    result = run("doctor", "--config", str(config), ok=False)
    assert result.exit_code == 1
    assert "cannot resolve api.twitter.com" in result.output
    assert "cannot resolve oauth.reddit.com" in result.output and "api.twitter.com" not in result.output.split(
        "reddit")[1]
    assert "retries from the cursor" not in result.output and "Warning" not in result.output
    report = json.loads(run("doctor", "--json", "--config", str(config), ok=False).output)
    assert not report["ok"] and {s["source"] for s in report["sources"]} == {"x", "reddit"}


def test_doctor_makes_one_try_with_a_short_timeout():
    from listener.commands.collect import DOCTOR_TIMEOUT_S, _fail_fast
    from listener.sources.x import XConfig

    quick = _fail_fast(XConfig())
    assert quick.max_retries == 0 and quick.retry_backoff_seconds == 0 and quick.timeout_seconds <= DOCTOR_TIMEOUT_S


def test_check_shows_every_problem_with_did_you_mean(tmp_path):
    path = tmp_path / "overheard.toml"
    path.write_text('[[brands]]\nname = "A"\nkeywrods = ["a"]\n[queue]\ntimezon = "UTC"\n', encoding="utf-8")
    result = run("check", "--config", str(path), ok=False)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert "overheard: overheard.toml: brands[0].keywrods: unknown key; did you mean keywords?" in lines
    assert "overheard: overheard.toml: queue.timezon: unknown key; did you mean timezone?" in lines
    assert "required key is missing" not in result.output and "more problem" not in result.output


def test_check_refuses_inverted_alert_levels(tmp_path):
    path = write_config(tmp_path, "[alerts]\nlevels = { warning = 80, critical = 60 }\n")
    result = run("check", "--config", str(path), ok=False)
    assert result.exit_code == 2 and "alerts.levels.critical" in result.output and "above warning" in result.output
    ok = json.loads(run("check", "--json", "--config", str(write_config(tmp_path, name="ok.toml"))).output)
    assert ok["ok"] and ok["brands"] == ["Brightwave"]


def test_help_names_sources_and_queue_filters():
    assert "Sources: appstore, bluesky, file" in " ".join(run("collect", "--help").output.split())
    listed = " ".join(run("queue", "list", "--help").output.split())
    for option in ("--brand TEXT Only this brand", "--source TEXT Only mentions from this source",
                   "--theme TEXT Only threads about this theme"):
        assert option in listed


def test_summary_counts_alerts_and_receivers_and_plurals(demo_ws):
    with Store(demo_ws / "overheard.db") as store:
        counts = store.counts()
    # the demo's alerts (four threads and the outage spike) each go to its two receivers
    alerts = counts["alerts_distinct"]
    assert alerts >= 4 and counts["alerts"] == 2 * alerts
    assert alert_summary(counts) == f"{alerts} alerts to 2 receivers ({2 * alerts} messages, 0 delivered)"
    delivered = {**counts, "alerts_delivered": 2 * alerts}
    assert alert_summary(delivered).endswith(f"({2 * alerts} messages, all delivered)")
    assert plural(1, "mention") == "1 mention" and plural(2, "thread") == "2 threads"
    assert plural(1, "reply") == "1 reply" and plural(3, "reply") == "3 replies"


def test_times_show_their_zone(demo_ws, tmp_path):
    with Store(demo_ws / "overheard.db") as store:
        billing = store.scalar("SELECT q.id FROM queue_items q JOIN mentions m ON m.thread_key = q.thread_key "
                               "WHERE m.author = 'marcus_h' LIMIT 1")
    shown = run("queue", "show", str(billing), "--config", str(demo_ws / "overheard.toml")).output
    assert re.search(r"\w{3} \d\d \w{3} \d\d:\d\d UTC @marcus_h", shown)
    alerts = run("alerts", "list", "--config", str(demo_ws / "overheard.toml")).output
    assert re.search(r"\w{3} \d\d \w{3} \d\d:\d\d UTC", alerts) and not re.search(r"\d{4}-\d\d-\d\dT", alerts)
    assert local_time("2026-11-28T19:00:00Z", "Europe/London") == "Sat 28 Nov 19:00 GMT"
    assert local_time("2026-07-04T19:00:00Z", "Europe/London") == "Sat 04 Jul 20:00 BST"


def test_a_four_item_queue_fits_80_columns_in_a_few_lines(demo_ws):
    out = run("queue", "list", "--config", str(demo_ws / "overheard.toml"), env={"COLUMNS": "80"}).output
    lines = out.rstrip("\n").splitlines()
    with Store(demo_ws / "overheard.db") as store:
        items = store.scalar("SELECT COUNT(*) FROM queue_items")
    assert len(lines) <= items + 4, out  # title, header, one line per item, counts
    assert all(len(line.rstrip()) <= 80 for line in lines), [line for line in lines if len(line.rstrip()) > 80]
    assert "Is @Brightwave down for" in out and "…" in out
    narrow = run("queue", "list", "--config", str(demo_ws / "overheard.toml"), env={"COLUMNS": "60"}).output
    assert all(len(line.rstrip()) <= 60 for line in narrow.splitlines()), narrow
    assert len(narrow.splitlines()) <= items + 4, narrow


def test_snippets_are_cut_at_a_word_with_an_ellipsis():
    assert cut("Is @Brightwave down for everyone? Whole house offline", 25) == "Is @Brightwave down for…"
    assert cut("short", 25) == "short" and len(cut("x" * 40, 10)) == 10


def test_pyproject_licence_is_an_spdx_string():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]


# ---------------------------------------------------------------- demo data
def test_demo_data_reads_like_real_posts_and_keeps_its_story(demo_ws):
    rows = [json.loads(x) for x in (demo_ws / "data" / "x.jsonl").read_text(encoding="utf-8").splitlines()
            if x.startswith('{"source": "x", "id": "18')]
    texts = [r["text"] for r in rows]
    assert len(set(texts)) >= 0.9 * len(texts)
    assert {"Brightwave", "Lumacell"} <= {r["brand"] for r in rows}
    # the outage: a burst of outage words within a few hours of the big account's post
    root = next(r for r in rows if r["author"] == "techwithjess")
    t0 = datetime.fromisoformat(root["created_at"].replace("Z", "+00:00"))
    words = ("down", "offline", "outage", "no internet", "any update")
    near = [r for r in rows if abs(datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) - t0)
            < timedelta(hours=10) and any(w in r["text"].lower() for w in words)]
    assert len(near) >= 30
    with Store(demo_ws / "overheard.db") as store:
        assert store.scalar("SELECT COUNT(*) FROM quarantine") == 2
        sources = {r["source"] for r in store.query("SELECT DISTINCT source FROM mentions")}
        # the four angry threads are queued (and every question to the support handle awaiting a reply)
        alerted = {r[0] for r in store.conn.execute(
            "SELECT DISTINCT thread_key FROM outbox WHERE thread_key IS NOT NULL AND thread_key NOT LIKE 'spike:%'")}
        queued = {r[0] for r in store.conn.execute("SELECT thread_key FROM queue_items")}
    assert {"x", "reddit", "appstore"} <= sources and len(alerted) >= 4 and alerted <= queued


# ---------------------------------------------------------------- consistency
def test_as_names_who_acts_everywhere_old_names_still_work(ws):
    config = str(ws / "overheard.toml")
    run("alerts", "silence", "add", "--keyword", "wifi", "--for", "1w", "--as", "ann", "--config", config)
    old = run("alerts", "silence", "add", "--keyword", "router", "--for", "1w", "--by", "bob", "--config", config)
    assert "old names of --as" in old.output
    who = {s["value"]: s["created_by"] for s in json.loads(run("alerts", "silence", "list", "--json",
                                                                "--config", config).output)}
    assert who == {"wifi": "ann", "router": "bob"}
    run("sentiment", "label", "5", "negative", "--as", "cy", "--config", config)
    assert "--by" not in run("alerts", "silence", "add", "--help").output
    assert "--actor" not in run("sentiment", "label", "--help").output


def test_one_duration_grammar_for_every_command(ws):
    config = str(ws / "overheard.toml")
    run("queue", "snooze", "1", "--for", "2w", "--as", "ann", "--config", config)
    run("alerts", "silence", "add", "--keyword", "x", "--for", "1w", "--config", config)
    run("trends", "--since", "30m", "--no-charts", "--config", config)
    run("alerts", "backtest", "--since", "90d", "--step", "12h", "--no-details", "--config", config)
    for text, seconds in (("30m", 1800), ("12h", 43200), ("90d", 90 * 86400), ("2w", 14 * 86400), ("1.5h", 5400)):
        assert parse_duration(text).total_seconds() == seconds
    with pytest.raises(UserError, match="--for 'soon' is not a duration"):
        parse_duration("soon", "--for")


def test_one_rule_for_until_time_zones(ws):
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    # without an offset: the config's zone; with Z or an offset: as written
    assert parse_time("2026-12-01T09:00", "Europe/Paris") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert parse_time("2026-12-01T09:00Z", "Europe/Paris") == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert parse_until("2h", now) == now + timedelta(hours=2)
    assert parse_since("2026-11-01", now, "Europe/Paris") == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    config = ws / "overheard.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[queue]\ntimezone = "Europe/Paris"\n',
                      encoding="utf-8")
    # a snooze is at most 90 days ahead: a day 30 days from now, 09:00 in Paris
    local = (datetime.now(UTC) + timedelta(days=30)).astimezone(ZoneInfo("Europe/Paris")).replace(
        hour=9, minute=0, second=0, microsecond=0, tzinfo=None)
    expected = local.replace(tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    typed = local.strftime("%Y-%m-%dT%H:%M")
    run("queue", "snooze", "1", "--until", typed, "--as", "ann", "--config", str(config))
    run("alerts", "silence", "add", "--keyword", "y", "--until", typed, "--config", str(config))
    item = json.loads(run("queue", "show", "1", "--json", "--config", str(config)).output)["item"]
    silence = json.loads(run("alerts", "silence", "list", "--json", "--config", str(config)).output)[0]
    assert item["snoozed_until"].startswith(expected) and silence["ends_at"].startswith(expected)


def test_config_goes_before_the_subcommand_too(demo_ws, tmp_path):
    config = str(demo_ws / "overheard.toml")
    before = run("--config", config, "queue", "list", "--json")
    after = run("queue", "list", "--json", "--config", config)
    assert json.loads(before.output) == json.loads(after.output)
    missing = run("--config", str(tmp_path / "nope.toml"), "status", ok=False)
    assert missing.exit_code == 2 and "nope.toml: no such file" in missing.output
    # typed on the command line, before or after the command, it beats $OVERHEARD_CONFIG
    env = {"OVERHEARD_CONFIG": str(tmp_path / "nope.toml")}
    assert json.loads(run("--config", config, "queue", "list", "--json", env=env).output) == json.loads(after.output)


def test_json_output_parses_for_the_new_json_commands(demo_ws):
    config = str(demo_ws / "overheard.toml")
    for args in (["alerts", "list"], ["alerts", "silence", "list"], ["users", "list"], ["check"],
                 ["query", "show"]):
        data = json.loads(run(*args, "--json", "--config", config).output)
        assert data is not None, args
    matched = run("query", "test", "brightwave", "Brightwave is down", "--json", "--config", config)
    assert json.loads(matched.output)["matched"] is True
