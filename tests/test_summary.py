"""The optional language-model summary of a spike, against a local server speaking the OpenAI
chat-completions API (POST /v1/chat/completions): it answers, hangs, or fails; the alert goes out
in every case, with the summary only when the model answered in time."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.message import Alert
from listener.config import SummaryConfig
from listener.summary import summarise
from listener.topics import Author, Explanation, Share


class FakeChat(BaseHTTPRequestHandler):
    mode = "ok"
    seen: list[dict] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeChat.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if FakeChat.mode == "hang":
            time.sleep(3)
        if FakeChat.mode == "500":
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "model overloaded", "type": "server_error"}}')
            return
        answer = {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1764633600, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant",
                "content": "Negative mentions jumped as customers in Leeds reported the broadband down."}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 16, "total_tokens": 136},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    FakeChat.seen = []
    FakeChat.mode = "ok"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeChat)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


EXPLANATION = Explanation(
    brand="Brightwave", since="2026-11-29T19:00:00Z", until="2026-11-29T20:00:00Z", mentions=15,
    negative_only=True, terms=[Share("down", 4, 26.7), Share("no internet", 3, 20.0)],
    themes=[Share("outage", 8, 53.3)], sources=[Share("x", 15, 100.0)], languages=[Share("en", 15, 100.0)],
    authors=[Author("fran.15", "x", 5200, 1)],
)


def config(url: str, **extra: object) -> SummaryConfig:
    return SummaryConfig(enabled=True, base_url=url, model="llama3.1:8b", **extra)


def test_summary_uses_only_the_explanation(server, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_LLM_KEY", "sk-test")
    text = summarise(config(server, api_key_env="FAKE_LLM_KEY"), EXPLANATION)
    assert text == "Negative mentions jumped as customers in Leeds reported the broadband down."
    (call,) = FakeChat.seen
    assert call["path"] == "/v1/chat/completions" and call["auth"] == "Bearer sk-test"
    assert call["body"]["model"] == "llama3.1:8b"
    system, user = call["body"]["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    facts = json.loads(user["content"])
    assert facts["terms"][0]["name"] == "down" and "summary" not in facts
    assert set(facts) == set(EXPLANATION.to_dict()) - {"summary"}  # nothing but the explanation


def test_a_hanging_endpoint_is_cut_off_by_the_timeout(server) -> None:
    FakeChat.mode = "hang"
    started = time.monotonic()
    assert summarise(config(server, timeout_seconds=0.5), EXPLANATION) is None
    assert time.monotonic() - started < 2


def test_a_failing_endpoint_gives_no_summary(server) -> None:
    FakeChat.mode = "500"
    assert summarise(config(server), EXPLANATION) is None
    assert len(FakeChat.seen) == 1  # asked once: an alert does not wait on retries


def test_off_by_default_and_nothing_is_sent(server) -> None:
    assert summarise(SummaryConfig(base_url=server, model="m"), EXPLANATION) is None
    assert FakeChat.seen == []


def test_missing_key_variable_means_no_summary(server, monkeypatch) -> None:
    monkeypatch.delenv("NOT_SET_LLM_KEY", raising=False)
    assert summarise(config(server, api_key_env="NOT_SET_LLM_KEY"), EXPLANATION) is None
    assert FakeChat.seen == []


def test_the_spike_alert_goes_out_with_and_without_it(server, tmp_path) -> None:
    """Through check_spikes on a store with an outage hour: the alert reaches the outbox whatever the model does."""
    from datetime import timedelta

    from alerts.spikes import check_spikes
    from listener.models import Batch, Mention, iso, parse_iso
    from listener.store import Store
    from tests.alerts_support import alerts_config

    now = parse_iso("2026-11-29T20:00:00Z")
    texts = ["Is Brightwave down? No internet since 7", "Brightwave outage again, no internet in Leeds",
             "Brightwave down for everyone here", "still no internet, Brightwave down",
             "Brightwave broadband down in LS6", "no internet and no word from Brightwave",
             "Brightwave outage map is all red", "Brightwave down, working from a cafe",
             "Brightwave down again tonight", "third Brightwave outage this month"]
    for mode, summary in (("ok", True), ("hang", False), ("500", False)):
        FakeChat.mode = mode
        (tmp_path / mode).mkdir()
        cfg = alerts_config(tmp_path / mode, """
        [[alerts.receivers]]
        name = "rec"
        type = "file"
        max_per_hour = 0
        """, """
        [[alerts.rules]]
        name = "spikes"
        kinds = ["spike"]
        receivers = ["rec"]
        group_interval_minutes = 0
        """, extra=f"""
        [topics.summary]
        enabled = true
        base_url = "{server}"
        model = "m"
        timeout_seconds = 0.5
        """)
        with Store(cfg.db_path) as store:
            mentions = [Mention(source="x", native_id=f"{mode}{i}", text=t, brand="Brightwave", author=f"u{i}",
                                author_followers=100 * i, created_at=now - timedelta(minutes=50 - 4 * i))
                        for i, t in enumerate(texts)]
            mentions += [Mention(source="x", native_id=f"{mode}old{i}", text=f"Brightwave plan question {w}",
                                 brand="Brightwave", author=f"o{i}", created_at=now - timedelta(days=2, minutes=7 * i))
                         for i, w in enumerate("alpha beta gamma delta epsilon zeta eta theta".split())]
            store.save_batch("x", "q", Batch(mentions))
            store.conn.execute("UPDATE mentions SET label = CASE WHEN native_id LIKE '%old%' THEN 'neutral' "
                               "ELSE 'negative' END, compound = -0.6, scored_at = ?", (iso(now),))
            assert check_spikes(store, cfg, now) >= 1
            payload = json.loads(store.scalar("SELECT payload FROM outbox ORDER BY id DESC LIMIT 1"))
            alert = Alert.from_dict(payload)
            assert alert.kind == "spike" and alert.explanation["terms"], mode
            assert bool(alert.explanation.get("summary")) is summary, mode
