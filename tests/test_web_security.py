"""The queue web UI and Slack endpoint against a hostile network, over real HTTP.

`overheard serve` runs as a subprocess on 127.0.0.1 (the real command, uvicorn, the real app), with
127.0.0.1 as its trusted proxy, so each test can speak from its own client address through
X-Forwarded-For. Requests go through `requests` and raw sockets; the throttle is hit by real
parallel requests, and by two server processes sharing one database.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from click.testing import CliRunner
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from alerts.users import add_user
from alerts.web.app import create_app
from listener.cli import cli
from listener.store import Store
from tests.queue_support import flagged_items, write_config

PASSWORD = "correct horse battery"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OVERHEARD = str(Path(sys.executable).with_name("overheard"))
WEB = '[web]\ntrusted_proxies = ["127.0.0.1"]\nmax_body_kb = 256\n'
USERS = [("alice", "agent", "U0ALICE"), ("bob", "agent", "U0BOB"), ("root", "admin", None), ("carol", "agent", None),
         ("dave", "agent", None), ("erin", "agent", None), ("frank", "agent", None), ("gina", "agent", None),
         ("hal", "agent", None)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `overheard serve --log-format json` process; its stderr (the log) goes to a file."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, "OVERHEARD_SESSION_SECRET": "s" * 48, "SLACK_SIGNING_SECRET": SLACK_SECRET}
        self.log_file = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [OVERHEARD, "serve", "--config", str(config_path), "--port", str(self.port), "--log-format", "json"],
            env=env, stdout=subprocess.DEVNULL, stderr=self.log_file)
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, log_path.read_text()
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "overheard serve did not start"
            time.sleep(0.1)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))

    def log(self) -> list[dict]:
        time.sleep(0.2)  # lines of requests that just finished
        lines = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log_file.close()


class SlackResponseUrl:
    """A response_url on 127.0.0.1 that records what the server posts to it."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.wait_s = 10
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/actions/T1/123/abc"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, count: int) -> None:
        """Until `count` messages arrived (the server sends them after its answer, in the background)."""
        deadline = time.monotonic() + self.wait_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security")
    config = write_config(tmp, extra=WEB)
    store = Store(config.db_path)
    ids = flagged_items(config, store, threads=4)
    for name, role, slack_id in USERS:
        add_user(store, name, role, PASSWORD, slack_user_id=slack_id)
    store.close()
    server = Server(config.path, tmp / "serve.log")
    slack = SlackResponseUrl()
    yield server, config, ids, slack
    server.stop()
    slack.httpd.shutdown()


class Browser:
    """A browser at one client address (told to the server by its trusted proxy, 127.0.0.1)."""

    def __init__(self, server: Server, address: str, *, https: bool = False) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers.update({"x-forwarded-for": address, "accept": "text/html,application/xhtml+xml"})
        if https:
            self.http.headers["x-forwarded-proto"] = "https"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.server.url + path, allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, data=None, **kwargs) -> requests.Response:
        return self.http.post(self.server.url + path, data=data, allow_redirects=False, timeout=30, **kwargs)

    def token(self, path: str = "/login") -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).text).group(1)

    def login(self, name: str, password: str = PASSWORD, token: str | None = None) -> requests.Response:
        return self.post("/login", {"name": name, "password": password, "csrf_token": token or self.token(),
                                    "next": "/"})

    def act(self, item_id: int, action: str, **fields: str) -> str:
        """Post an item action the way the item page does; returns the page it lands on."""
        token = self.token(f"/items/{item_id}")
        response = self.post(f"/items/{item_id}/{action}", {"csrf_token": token, **fields})
        assert response.status_code == 303 and response.headers["location"] == f"/items/{item_id}"
        return self.get(f"/items/{item_id}").text


def db(config) -> Store:
    return Store(config.db_path)


def events(server: Server, name: str, **match) -> list[dict]:
    return [e for e in server.log() if e.get("event") == name and all(e.get(k) == v for k, v in match.items())]


# ---------------------------------------------------------------- login throttling
def _parallel_wrong_passwords(servers: list[Server], name: str, address: str, n: int) -> list[int]:
    browsers = [Browser(servers[i % len(servers)], address) for i in range(n)]
    tokens = [b.token() for b in browsers]
    start = threading.Barrier(n)

    def attempt(i: int) -> int:
        start.wait()
        return browsers[i].login(name, "wrong password!", tokens[i]).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(attempt, range(n)))


def test_twenty_parallel_wrong_passwords_are_not_all_checked(site):
    server, *_ = site
    statuses = _parallel_wrong_passwords([server], "alice", "10.1.0.1", 20)
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= 5 and statuses.count(429) >= 15  # 5 checked, the rest refused unchecked
    failures = events(server, "login_failed", user="alice", client="10.1.0.1")
    assert len(failures) == 20  # each one logged, checked or not
    assert {e["why"] for e in failures} == {"wrong name or password", "throttled"}


def test_two_server_processes_share_one_throttle(site, tmp_path):
    server, config, *_ = site
    second = Server(config.path, tmp_path / "second.log")
    try:
        statuses = _parallel_wrong_passwords([server, second], "dave", "10.1.0.2", 20)
    finally:
        second.stop()
    assert statuses.count(401) <= 5 and statuses.count(429) >= 15


def test_a_stranger_cannot_lock_out_the_real_user(site):
    server, *_ = site
    attacker = Browser(server, "10.2.0.66")
    statuses = [attacker.login("bob", f"guess number {i}").status_code for i in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    refused = attacker.login("bob")  # even the right password, from the attacker's address
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert "Too many failed attempts for this name from your address" in refused.text
    bob = Browser(server, "10.2.0.7")
    assert bob.login("bob").status_code == 303  # the real bob, elsewhere, gets in
    assert "bob" in bob.get("/").text


def test_spraying_many_names_from_one_address_is_cut_off(site):
    server, *_ = site
    sprayer = Browser(server, "10.3.0.9")
    statuses = [sprayer.login(f"someone{i}", "Winter2026!").status_code for i in range(20)]
    assert statuses == [401] * 20
    assert sprayer.login("carol").status_code == 429  # a new name from the same address: refused unchecked
    assert Browser(server, "10.3.0.10").login("carol").status_code == 303


def test_a_spread_out_attack_still_lets_the_user_in_from_a_known_browser(site):
    server, *_ = site
    erins_laptop = Browser(server, "10.4.0.1")
    assert erins_laptop.login("erin").status_code == 303  # she has logged in from it before
    for n in range(6):  # 30 wrong passwords from six addresses, five each (under the per-address limits)
        attacker = Browser(server, f"10.4.1.{n}")
        assert [attacker.login("erin", f"nope {i}").status_code for i in range(5)] == [401] * 5
    new_browser = Browser(server, "10.4.2.1")
    refused = new_browser.login("erin")
    assert refused.status_code == 429 and "log in from a browser you used before" in refused.text
    erins_laptop.http.headers["x-forwarded-for"] = "10.4.0.2"  # same laptop, another network
    assert erins_laptop.login("erin").status_code == 303


# ---------------------------------------------------------------- sessions end when they should
class Thief:
    """Someone replaying a copy of a session cookie, as copied (whatever the server answers since)."""

    def __init__(self, server: Server, cookie: str) -> None:
        self.server, self.cookie = server, cookie

    def get(self, path: str) -> requests.Response:
        return requests.get(self.server.url + path, headers={"cookie": f"overheard_session={self.cookie}",
                                                             "x-forwarded-for": "10.66.0.1"},
                            allow_redirects=False, timeout=30)


def _logged_in(server: Server, name: str, address: str) -> tuple[Browser, Thief]:
    """A logged-in browser and a thief holding a copy of its cookie."""
    browser = Browser(server, address)
    assert browser.login(name).status_code == 303
    thief = Thief(server, browser.http.cookies["overheard_session"])
    assert thief.get("/").status_code == 200
    return browser, thief


def test_logout_ends_every_session_of_the_user(site):
    server, *_ = site
    browser, thief = _logged_in(server, "gina", "10.5.0.1")
    other_tab = Browser(server, "10.5.0.2")
    assert other_tab.login("gina").status_code == 303
    assert browser.post("/logout", {"csrf_token": browser.token("/")}).status_code == 303
    for b in (browser, thief, other_tab):
        response = b.get("/")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_new_password_ends_every_session(site):
    server, config, *_ = site
    _, thief = _logged_in(server, "hal", "10.5.1.1")
    result = CliRunner().invoke(cli, ["users", "passwd", "hal", "--password-stdin", "--config", str(config.path)],
                                input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert thief.get("/").status_code == 303
    assert Browser(server, "10.5.1.2").login("hal", "a brand new password").status_code == 303


def test_disabling_a_user_ends_their_sessions_for_good(site):
    server, config, *_ = site
    _, thief = _logged_in(server, "frank", "10.5.2.1")
    run = CliRunner().invoke
    assert run(cli, ["users", "disable", "frank", "--config", str(config.path)]).exit_code == 0
    assert thief.get("/").status_code == 303
    assert run(cli, ["users", "disable", "frank", "--enable", "--config", str(config.path)]).exit_code == 0
    assert thief.get("/").status_code == 303  # enabling again does not bring old cookies back


# ---------------------------------------------------------------- request bodies
def _raw(server: Server, head: str, timeout: float = 5) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.sendall(head.encode())
    return sock


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize("path, length", [
    ("/slack/actions", 100_000),  # over Slack's 64 KB
    ("/slack/actions", 300_000_000),
    ("/login", 300_000_000),
    ("/items/1/note", 2_000_000),
    ("/bulk", 2_000_000),
    ("/no/such/page", 2_000_000),
])
def test_a_declared_oversized_body_is_refused_before_it_is_sent(site, path, length):
    server, *_ = site
    # Headers only: the server must answer without waiting for a body it will never get.
    sock = _raw(server, f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                        f"\r\nContent-Length: {length}\r\n\r\n")
    with sock:
        assert _status(sock) == 413


def test_a_streamed_oversized_body_is_cut_off_while_reading(site):
    server, *_ = site
    before = server.rss_kb()
    sock = _raw(server, "POST /slack/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                        "application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n", timeout=3)
    chunk = b"payload=" + b"A" * (64 * 1024 - 8)
    sent = 0
    status = None
    with sock:
        try:
            while sent < 200 * 1024 * 1024:  # offer 200 MB
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        try:
            status = _status(sock)
        except (ConnectionResetError, TimeoutError, IndexError, ValueError):
            status = None  # the server hung up without us reading its answer first
    assert sent < 50 * 1024 * 1024, "the server kept reading"
    assert status in (413, None)
    assert server.rss_kb() - before < 20_000  # not buffered (the old code grew by the whole body)
    assert events(server, "body_too_large", path="/slack/actions")
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


# ---------------------------------------------------------------- Slack replays
def _slack_click(slack: SlackResponseUrl, item_id: int, action_id: str, user_id: str, action_ts: str) -> tuple:
    payload = {
        "type": "block_actions", "user": {"id": user_id, "username": user_id.lower(), "team_id": "T1"},
        "team": {"id": "T1"}, "channel": {"id": "C0ALERTS"}, "response_url": slack.url,
        "message": {"type": "message", "text": "[CRITICAL] Outage thread", "blocks": []},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "queue", "value": str(item_id),
                     "action_ts": action_ts}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()))
    headers = {"x-slack-request-timestamp": ts, "content-type": "application/x-www-form-urlencoded",
               "x-slack-signature": SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=ts, body=body)}
    return body, headers


def test_a_replayed_slack_request_does_not_act_twice(site):
    server, config, ids, slack = site
    item_id = ids[3]
    body, headers = _slack_click(slack, item_id, "queue_snooze", "U0ALICE", "1732400100.000200")
    before = len(slack.received)
    with ThreadPoolExecutor(5) as pool:  # the request and four replays, at once
        statuses = list(pool.map(lambda _: requests.post(server.url + "/slack/actions", data=body, headers=headers,
                                                         timeout=30).status_code, range(5)))
    assert statuses == [200] * 5
    slack.wait_for(before + 1)
    time.sleep(0.5)  # room for a second message, which must not come
    with db(config) as store:
        assert store.scalar("SELECT COUNT(*) FROM queue_events WHERE item_id = ? AND action = 'snoozed'",
                            (item_id,)) == 1
    assert len(slack.received) - before == 1  # one message update
    assert len(events(server, "slack_replay")) >= 4
    # a real second click (its own action_ts and signature) still works
    body, headers = _slack_click(slack, item_id, "queue_dismiss", "U0ALICE", "1732400200.000300")
    assert requests.post(server.url + "/slack/actions", data=body, headers=headers, timeout=30).status_code == 200
    with db(config) as store:
        assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (item_id,)) == "dismissed"


def test_a_bad_slack_signature_is_refused_and_logged(site):
    server, _, ids, slack = site
    body, headers = _slack_click(slack, ids[0], "queue_claim", "U0ALICE", "1732400300.1")
    headers["x-slack-signature"] = "v0=" + "0" * 64
    assert requests.post(server.url + "/slack/actions", data=body, headers=headers, timeout=30).status_code == 401
    assert events(server, "slack_bad_signature")


# ---------------------------------------------------------------- who may do what
def test_an_agent_cannot_take_over_a_colleagues_item_by_any_road(site):
    server, config, ids, slack = site
    item_id = ids[0]
    alice, bob = Browser(server, "10.6.0.1"), Browser(server, "10.6.0.2")
    alice.login("alice")
    bob.login("bob")
    assert "Claimed." in alice.act(item_id, "claim")
    assert "only alice or an admin can unassign it" in bob.act(item_id, "unassign")
    assert "is claimed by alice; only an admin can take it over" in bob.act(item_id, "claim", take_over="1")
    assert "is claimed by alice; only an admin can take it over" in bob.act(item_id, "assign", assignee="bob")
    assert "only alice or an admin can resolve it" in bob.act(item_id, "resolve", outcome="other")
    result = CliRunner().invoke(cli, ["queue", "unassign", str(item_id), "--as", "bob", "--config", str(config.path)])
    assert result.exit_code == 2 and "only alice or an admin can unassign it" in result.output
    result = CliRunner().invoke(cli, ["queue", "claim", str(item_id), "--take-over", "--as", "bob",
                                      "--config", str(config.path)])
    assert result.exit_code == 2 and "bob is an agent" in result.output
    body, headers = _slack_click(slack, item_id, "queue_claim", "U0BOB", "1732400400.1")
    before = len(slack.received)
    assert requests.post(server.url + "/slack/actions", data=body, headers=headers, timeout=30).status_code == 200
    slack.wait_for(before + 1)
    assert "is claimed by alice" in slack.received[before]["text"]
    with db(config) as store:
        assert store.query("SELECT state, assignee FROM queue_items WHERE id = ?", (item_id,)) == [
            {"state": "claimed", "assignee": "alice"}]
    root = Browser(server, "10.6.0.3")
    root.login("root")
    assert "Claimed." in root.act(item_id, "claim", take_over="1")  # an admin may
    assert "Back in the queue." in root.act(item_id, "unassign")


def test_no_item_goes_to_a_disabled_user_and_snoozes_are_bounded(site):
    server, config, ids, _ = site
    item_id = ids[1]
    with db(config) as store:
        add_user(store, "ivan", "agent", PASSWORD)
    run = CliRunner().invoke
    assert run(cli, ["users", "disable", "ivan", "--config", str(config.path)]).exit_code == 0
    root = Browser(server, "10.7.0.1")
    root.login("root")
    assert "ivan&#39; is disabled: items cannot be assigned to a disabled user" in root.act(
        item_id, "assign", assignee="ivan")
    result = run(cli, ["queue", "assign", str(item_id), "ivan", "--as", "root", "--config", str(config.path)])
    assert result.exit_code == 2 and "disabled" in result.output
    for until in ("9999-12-31T00:00", "91d", "3000h"):
        assert "at most 90 days ahead" in root.act(item_id, "snooze", until=until), until
    assert "too far ahead" in root.act(item_id, "snooze", until="999999999d")
    with db(config) as store:
        assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (item_id,)) == "new"
    assert "Snoozed." in root.act(item_id, "snooze", until="89d")


# ---------------------------------------------------------------- redirects, odd input, logs
def test_redirects_never_carry_the_host_header(site):
    server, _, ids, _ = site
    hostile = {"host": "evil.example"}
    stranger = Browser(server, "10.8.0.1")
    for path in ("/", f"/items/{ids[0]}/", "/items/", f"/items/{ids[0]}"):
        response = stranger.get(path, headers=hostile)
        location = response.headers.get("location", "")
        if response.status_code in (301, 302, 303, 307, 308):
            assert location.startswith("/") and not location.startswith("//") and "evil" not in location, path
    browser = Browser(server, "10.8.0.2")
    browser.http.headers.update(hostile)
    response = browser.login("root")
    assert response.status_code == 303 and response.headers["location"] == "/"
    slash = browser.get(f"/items/{ids[0]}/")
    assert slash.status_code == 307 and slash.headers["location"] == f"/items/{ids[0]}"


ODD = [
    ("GET", "/items/abc", None), ("GET", "/items/-1", None), ("GET", "/items/0", None),
    ("GET", "/items/99999999999999999999999", None), ("GET", "/items/9223372036854775807", None),
    ("GET", "/items/1e9", None), ("GET", "/items/99999999999999999999/presence", None),
    ("GET", "/items/9223372036854775807/presence", None),
    ("POST", "/items/99999999999999999999/claim", {}), ("POST", "/items/9223372036854775807/claim", {}),
    ("POST", "/items/{id}/bogus", {}), ("POST", "/items/{id}/snooze", {"until": "2026-13-45"}),
    ("POST", "/items/{id}/snooze", {"until": "0001-01-01T00:00"}), ("POST", "/items/{id}/snooze", {"until": "soon"}),
    ("POST", "/items/{id}/snooze", {"until": "99999999999999999999d"}),
    ("POST", "/items/{id}/relabel", {"mention_id": "999999999999999999999", "label": "neutral"}),
    ("POST", "/items/{id}/relabel", {"mention_id": "abc", "label": "neutral"}),
    ("POST", "/items/{id}/relabel", {"mention_id": "1", "label": "furious"}),
    ("POST", "/items/{id}/resolve", {"outcome": ""}), ("POST", "/items/{id}/dismiss", {"reason": "\x00"}),
    ("POST", "/items/{id}/assign", {"assignee": "x" * 5000}), ("POST", "/items/{id}/tag", {"tags": "-" * 300}),
    ("POST", "/items/{id}/note", {"text": "\udcff".encode("utf-8", "surrogatepass").decode("latin-1")}),
    ("POST", "/bulk", {"action": "claim", "ids": ["99999999999999999999999", "x", "-5"]}),
    ("POST", "/bulk", {"action": "nope"}),
    ("GET", "/?state=bogus&sort=bogus&priority=%00", None), ("GET", "/?q=%22%29%20OR%20*%20NEAR(", None),
    ("GET", "/?q=" + "a" * 4000, None), ("GET", "/nope", None), ("PUT", "/login", None), ("DELETE", "/", None),
    ("GET", "/static/../../etc/passwd", None), ("GET", "/static/%2e%2e/%2e%2e/etc/passwd", None),
    ("GET", "/static/nothing.js", None), ("POST", "/login", {"name": ["a", "b"], "password": ["x", "y"]}),
]


def test_odd_input_gives_html_4xx_pages_never_a_500(site):
    server, _, ids, _ = site
    browser = Browser(server, "10.9.0.1")
    assert browser.login("carol").status_code == 303
    token = browser.token("/")
    for method, path, data in ODD:
        path = path.replace("{id}", str(ids[2]))
        if data is not None:
            data = {"csrf_token": token, **data}
        response = browser.http.request(method, server.url + path, data=data, allow_redirects=False, timeout=30)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("text/html"), (method, path)
            assert response.status_code in (400, 401, 403, 404, 405, 413, 422, 429), (method, path)
    # a file where text belongs, as multipart
    files = {"text": ("note.txt", b"a file, not a note", "text/plain"), "csrf_token": (None, token)}
    response = browser.http.post(f"{server.url}/items/{ids[2]}/note", files=files, allow_redirects=False, timeout=30)
    assert response.status_code == 303
    # a script asking for JSON still gets JSON
    api = browser.http.get(server.url + "/items/abc", headers={"accept": "application/json"}, timeout=30)
    assert api.status_code == 422 and api.json()["error"].startswith("Not understood")
    assert not [e for e in server.log() if e.get("level") == "ERROR"]


def test_serve_logs_each_request_and_each_security_event(site):
    server, _, ids, _ = site
    browser = Browser(server, "10.10.0.1")
    assert browser.login("root").status_code == 303
    browser.get(f"/items/{ids[0]}")
    assert browser.post(f"/items/{ids[0]}/note", {"csrf_token": "forged", "text": "hi"}).status_code == 403
    assert browser.login("root", "wrong password").status_code == 401
    [page] = events(server, "request", path=f"/items/{ids[0]}", client="10.10.0.1", method="GET")
    assert page["status"] == 200 and page["user"] == "root" and page["duration_ms"] >= 0 and page["level"] == "INFO"
    [csrf] = events(server, "csrf_failed", client="10.10.0.1")
    assert csrf["level"] == "WARNING" and csrf["user"] == "root"
    assert events(server, "login_failed", client="10.10.0.1", user="root")
    assert "wrong password" not in server.log_path.read_text()  # passwords never reach the log


# ---------------------------------------------------------------- cookies
def test_cookies_are_secure_over_https_from_the_trusted_proxy(site):
    server, *_ = site
    for https in (True, False):
        browser = Browser(server, "10.11.0.1", https=https)
        page = browser.get("/login")
        session = page.headers["set-cookie"].split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        # `requests` keeps Secure cookies off plain http (as a browser would): send the session by hand
        response = browser.post("/login", {"name": "carol", "password": PASSWORD, "csrf_token": token, "next": "/"},
                                headers={"cookie": session})
        assert response.status_code == 303
        cookies = [c.lower() for c in response.raw.headers.getlist("set-cookie")]
        assert len(cookies) == 2  # the session and the known-browser cookie
        for cookie in cookies:
            assert "httponly" in cookie and "samesite=lax" in cookie
            assert ("secure" in cookie) is https
        assert ("strict-transport-security" in response.headers) is https
        assert "server" not in response.headers  # no banner naming the server and its version


def test_proxy_headers_are_ignored_from_anyone_but_the_trusted_proxy(tmp_path):
    config = write_config(tmp_path, extra='[web]\ntrusted_proxies = ["10.9.9.9"]\n')
    with Store(config.db_path) as store:
        add_user(store, "alice", "agent", PASSWORD)
    client = TestClient(create_app(config, secret="x" * 40))
    page = client.get("/login", headers={"x-forwarded-proto": "https"})
    assert "secure" not in page.headers["set-cookie"].lower()
    for i in range(5):  # claiming to be five different addresses does not spread the count
        client.post("/login", data={"name": "alice", "password": "nope nope", "next": "/",
                                    "csrf_token": re.search(r'value="([^"]+)"', page.text).group(1)},
                    headers={"x-forwarded-for": f"10.0.0.{i}"})
    with Store(config.db_path) as store:
        assert store.query("SELECT DISTINCT client FROM login_attempts") == [{"client": "testclient"}]


def test_secure_cookies_config_marks_every_cookie_secure(tmp_path):
    config = write_config(tmp_path, extra="[web]\nsecure_cookies = true\n")
    client = TestClient(create_app(config, secret="x" * 40))  # plain http: the TLS proxy is in front
    cookie = client.get("/login").headers["set-cookie"]
    assert cookie.startswith("__Host-overheard_session=") and "; secure" in cookie.lower()
    assert "; path=/;" in cookie.lower() and "domain" not in cookie.lower()
