"""The web UI as two real `overheard serve` processes on one store, as behind a load balancer without
sticky sessions: a session, a CSRF token and the login throttle made by one process hold on the other.

The in-process version (two app instances) is in tests/test_workers.py; this one runs the real command,
so nothing can be shared through module state, and on --backend=postgresql both processes use the
test's PostgreSQL store.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from alerts.users import add_user
from listener.pipeline import process
from listener.store import Store
from tests.browser_support import free_port
from tests.queue_support import angry_thread, write_config

PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _serve(config_path: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "OVERHEARD_SESSION_SECRET"}  # the store's key
    command = [sys.executable, "-c", "from listener.cli import main; main()",
               "serve", "--config", str(config_path), "--port", str(port)]
    return subprocess.Popen(command, cwd=config_path.parent, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _wait_up(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the web process ended: {log.read_text()[-2000:]}"
        try:
            if requests.get(f"{base}/login", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the web process did not answer within 60 s: {log.read_text()[-2000:]}")


def test_two_serve_processes_share_sessions_csrf_and_the_login_throttle(tmp_path):
    config = write_config(tmp_path)
    with Store(config.database) as store:
        angry_thread(store, "t1", author="dana")
        process(config, store, channels={})
        item = store.scalar("SELECT id FROM queue_items")
        add_user(store, "alice", "agent", PASSWORD)
        add_user(store, "bob", "agent", PASSWORD)
    ports = free_port(), free_port()
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    procs = [_serve(config.path, p, tmp_path / f"web{n}.log") for n, p in enumerate(ports)]
    try:
        for base, proc, n in ((a, procs[0], 0), (b, procs[1], 1)):
            _wait_up(base, proc, tmp_path / f"web{n}.log")
        assert not (tmp_path / "session.key").exists()  # the key is the store's, not a file on one host

        # One browser (one cookie jar for 127.0.0.1), its requests sent to either process in turn.
        browser = requests.Session()
        page = browser.get(f"{a}/login")
        signed_in = browser.post(f"{b}/login", data={"name": "alice", "password": PASSWORD,
                                                     "csrf_token": _csrf(page.text), "next": "/"},
                                 allow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text[:500]
        token = _csrf(browser.get(f"{a}/items/{item}").text)
        claimed = browser.post(f"{b}/items/{item}/claim", data={"csrf_token": token})
        assert claimed.status_code == 200
        with Store(config.database) as store:
            assert store.scalar("SELECT assignee FROM queue_items WHERE id = ?", (item,)) == "alice"
        assert browser.get(f"{b}/items/{item}").status_code == 200  # still signed in on the other one
        assert browser.post(f"{a}/items/{item}/note", data={"csrf_token": "forged", "text": "x"}).status_code == 403

        # Wrong passwords for bob, spread over both processes, add up to one lock-out on both.
        for n in range(5):
            base = (a, b)[n % 2]
            guesser = requests.Session()
            page = guesser.get(f"{base}/login")
            wrong = guesser.post(f"{base}/login", data={"name": "bob", "password": "nope nope",
                                                        "csrf_token": _csrf(page.text)}, allow_redirects=False)
            assert wrong.status_code == 401
        for base in (a, b):
            guesser = requests.Session()
            page = guesser.get(f"{base}/login")
            right = guesser.post(f"{base}/login", data={"name": "bob", "password": PASSWORD,
                                                        "csrf_token": _csrf(page.text)}, allow_redirects=False)
            assert right.status_code == 429
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
