"""Secrets: URLs are checked at load and `check`, and no secret is printed, logged or stored.

A Slack webhook URL without https:// used to pass `check`, then crash delivery with a traceback
that printed the URL and held up the other receivers. Now `check` refuses it (without printing it),
a delivery failure of one receiver never stops the others, and every error the receivers answer is
masked before it reaches the outbox, the CLI or the daemon log.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from alerts.channels.base import Channel, ChannelConfig
from alerts.outbox import deliver_pending
from alerts.rules import evaluate_pending
from listener.cli import cli
from listener.config import load_config
from listener.errors import ConfigError
from listener.logs import setup_logging
from listener.masking import MASK, mask, remember
from listener.pipeline import build_channels
from listener.store import Store
from tests.alerts_support import put_thread
from tests.helpers import write_config

SLACK_SECRET = "T0A1B2C3D/B0E1F2G3H/Zq8sW3xY7kP2mN5vR1tU9aLd"
TOKEN = "tok_live_8f3Kq92LmZx71PaQ"


def _config_text(slack_url_env="HOOK_URL", extra=""):
    return f"""
    [alerts]
    queue_url = "http://127.0.0.1:8377"
    [[alerts.receivers]]
    name = "slack"
    type = "slack_webhook"
    url_env = "{slack_url_env}"
    max_per_hour = 0
    [[alerts.receivers]]
    name = "file"
    type = "file"
    path = "alerts.jsonl"
    max_per_hour = 0
    {extra}
    [[alerts.rules]]
    name = "all"
    min_risk = 0
    receivers = ["slack", "file"{', "hook"' if "hook" in extra else ""}]
    [alerts.levels]
    warning = 10
    """


@pytest.mark.parametrize("value, words", [
    (f"hooks.slack.com/services/{SLACK_SECRET}", "must start with https://"),
    (f"http://hooks.slack.com/services/{SLACK_SECRET}", "must start with https://"),
    ("https:///services/x/y/z", "has no host name"),
    (f"https://hooks.slack.com/services/{SLACK_SECRET} ", None),  # a trailing newline from `export` is fine
])
def test_check_refuses_a_bad_slack_webhook_url_without_printing_it(tmp_path, monkeypatch, value, words):
    monkeypatch.setenv("HOOK_URL", value)
    config = write_config(tmp_path, _config_text())
    result = CliRunner().invoke(cli, ["check", "--config", str(config)])
    if words is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.startswith("overheard: overheard.toml: alerts.receivers[0].url_env: environment variable HOOK_URL")
    assert words in line and "not shown because it is a secret" in line
    assert SLACK_SECRET not in result.output and "Zq8sW3" not in result.output


def test_slack_webhook_over_plain_http_is_allowed_only_to_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/services/T/B/X")
    load_config(write_config(tmp_path, _config_text()))  # a local relay or test server
    monkeypatch.setenv("HOOK_URL", "http://relay.internal.example/services/T/B/X")
    with pytest.raises(ConfigError, match="https"):
        load_config(write_config(tmp_path, _config_text()))


def test_every_url_in_the_file_is_checked_at_load(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_URL", f"https://hooks.slack.com/services/{SLACK_SECRET}")
    bad_queue = write_config(tmp_path, _config_text().replace('queue_url = "http://127.0.0.1:8377"',
                                                              'queue_url = "127.0.0.1:8377"'))
    with pytest.raises(ConfigError, match=r"alerts\.queue_url: '127\.0\.0\.1:8377' must start with http"):
        load_config(bad_queue, check_secrets=False)
    source = write_config(tmp_path, _config_text() + '\n[sources.hackernews]\nbase_url = "hn.algolia.com"\n')
    with pytest.raises(ConfigError, match=r"sources\.hackernews\.base_url: 'hn\.algolia\.com' must start"):
        load_config(source, check_secrets=False)
    hook = '[[alerts.receivers]]\nname = "hook"\ntype = "webhook"\nurl = "http://ops.example.com/in"\n' \
           'token_env = "HOOK_TOKEN"\n'
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match=r"alerts\.receivers\[2\]\.url: must start with https://.*bearer token"):
        load_config(write_config(tmp_path, _config_text(extra=hook)))
    # Without a secret to protect, a generic webhook may use plain http (an internal service).
    load_config(write_config(tmp_path, _config_text(extra=hook.replace('token_env = "HOOK_TOKEN"\n', ""))))


class _Echo(BaseHTTPRequestHandler):
    """A webhook receiver that refuses every call and echoes the URL and the Authorization header back."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = f"bad request to {self.path} with {self.headers.get('Authorization')}".encode()
        self.send_response(400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class _Buggy(Channel):
    """A channel with a bug: its exception message quotes the secret."""

    def send(self, alert, idem_key, previous_ref=None):
        raise RuntimeError(f"unexpected answer from https://hooks.slack.com/services/{SLACK_SECRET}")


def test_one_receiver_failing_never_holds_up_the_others_and_no_secret_reaches_db_cli_or_log(
        tmp_path, monkeypatch, echo):
    # Loaded as `import` and `alerts deliver` do (no secrets check): the bad Slack URL reaches delivery.
    monkeypatch.setenv("HOOK_URL", f"hooks.slack.com/services/{SLACK_SECRET}")
    monkeypatch.setenv("HOOK_SECRET_URL", f"{echo}/in/{TOKEN}")
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    hook = '[[alerts.receivers]]\nname = "hook"\ntype = "webhook"\nurl_env = "HOOK_SECRET_URL"\n' \
           'token_env = "HOOK_TOKEN"\nmax_per_hour = 0\n'
    path = write_config(tmp_path, _config_text(extra=hook))
    config = load_config(path, check_secrets=False)
    log = io.StringIO()
    handler = setup_logging("text", logging.INFO, stream=log)
    try:
        with Store(config.db_path) as store:
            put_thread(store, "x:t1", 80, text="Brightwave double charged me, refund")
            evaluate_pending(store, config)
            channels = build_channels(config)
            channels["buggy"] = _Buggy(ChannelConfig(name="buggy", type="test", max_per_hour=0), None)
            store.conn.execute("INSERT INTO outbox (idem_key, receiver, rule, thread_key, level, payload, created_at) "
                               "SELECT 'buggy-1', 'buggy', rule, thread_key, level, payload, created_at FROM outbox "
                               "LIMIT 1")
            report = deliver_pending(store, channels)
            rows = {r["receiver"]: r for r in store.query("SELECT * FROM outbox")}
            stored = json.dumps(store.query("SELECT * FROM outbox")) + json.dumps(store.query("SELECT * FROM runs"))
    finally:
        logging.getLogger().removeHandler(handler)
    assert rows["file"]["delivered_at"] is not None  # the good receiver got its alert
    assert report.delivered == 1 and report.failed == 3
    assert "must start with https://" in rows["slack"]["last_error"] and rows["slack"]["attempts"] == 12  # gave up
    assert rows["hook"]["last_error"].startswith("webhook answered 400") and MASK in rows["hook"]["last_error"]
    assert rows["buggy"]["last_error"].startswith("RuntimeError: unexpected answer from ***")
    listing = CliRunner().invoke(cli, ["alerts", "list", "--config", str(path)]).output
    for text in (stored, log.getvalue(), listing):
        assert SLACK_SECRET not in text and TOKEN not in text and "Zq8sW3" not in text
    assert "Traceback" not in log.getvalue() and "alert" in log.getvalue()
    assert "gave up" in listing


def test_mask_hides_remembered_secrets_their_parts_and_credential_shapes():
    remember([f"https://hooks.slack.com/services/{SLACK_SECRET}", "s3cr3t-smtp-pass"])
    text = (f"POST /services/{SLACK_SECRET} failed; host hooks.slack.com/services/{SLACK_SECRET}; "
            "login s3cr3t-smtp-pass; proxy https://bob:hunter22@proxy.example:8080/; "
            "Authorization: Bearer abcdefghijklmnop; token=xoxb-123456-abcdef; ?access_token=EAAGm0PX4ZCps")
    out = mask(text)
    for secret in (SLACK_SECRET, "s3cr3t-smtp-pass", "hunter22", "abcdefghijklmnop", "xoxb-123456", "EAAGm0PX4ZCps"):
        assert secret not in out, (secret, out)
    assert "proxy.example:8080" in out and "failed" in out  # the rest of the message still says what happened
    assert mask("the password is in password_env") == "the password is in password_env"
