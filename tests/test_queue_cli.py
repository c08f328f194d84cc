"""`overheard queue …`, `overheard users …` and `overheard serve`, as a support person uses them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import cli
from listener.demo import run_demo
from listener.store import Store
from tests.queue_support import flagged_items, write_config


def run(*args: str, input: str | None = None, ok: bool = True):
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def workspace(tmp_path):
    config = write_config(tmp_path)
    with Store(config.db_path) as store:
        ids = flagged_items(config, store, threads=2)
    return str(config.path), ids


def test_every_queue_command_has_help():
    for group, names in (("queue", ["list", "show", "claim", "assign", "unassign", "note", "reply", "wait",
                                    "resolve", "dismiss", "snooze", "wake", "reopen", "tag", "relabel", "stats"]),
                         ("users", ["add", "passwd", "disable", "list"])):
        for name in names:
            out = run(group, name, "--help").output
            assert "--config" in out and len(out.splitlines()) > 3
    assert "127.0.0.1" in run("serve", "--help").output


def test_users_add_hashes_the_password_and_refuses_duplicates(workspace):
    config, _ = workspace
    run("users", "add", "alice", "--role", "agent", "--config", config, input="s3cret-pass\ns3cret-pass\n")
    run("users", "add", "root", "--role", "admin", "--slack-id", "U1", "--password-stdin", "--config", config,
        input="another-pass\n")
    listed = json.loads(run("users", "list", "--json", "--config", config).output)
    assert [(u["name"], u["role"], u["slack_user_id"]) for u in listed] == [("alice", "agent", None),
                                                                            ("root", "admin", "U1")]
    with Store(config.replace("overheard.toml", "overheard.db")) as store:
        stored = store.scalar("SELECT password_hash FROM users WHERE name = 'alice'")
    assert stored.startswith("scrypt$") and "s3cret-pass" not in stored
    dup = run("users", "add", "alice", "--password-stdin", "--config", config, input="whatever-pass\n", ok=False)
    assert dup.exit_code == 2 and dup.output.strip() == (
        "overheard: user 'alice' exists already (use `overheard users passwd` to change the password)")
    short = run("users", "add", "bob", "--password-stdin", "--config", config, input="short\n", ok=False)
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    from alerts.users import authenticate

    run("users", "passwd", "alice", "--password-stdin", "--config", config, input="brand-new-pass\n")
    run("users", "disable", "root", "--config", config)
    with Store(config.replace("overheard.toml", "overheard.db")) as store:
        assert authenticate(store, "alice", "s3cret-pass") is None
        assert authenticate(store, "alice", "brand-new-pass").name == "alice"
        assert authenticate(store, "root", "another-pass") is None  # disabled


def test_claim_note_reply_resolve_with_json_and_audit_trail(workspace):
    config, ids = workspace
    listed = json.loads(run("queue", "list", "--json", "--config", config).output)
    assert listed["counts"]["open"] == 2 and listed["items"][0]["sla"]["target"] == "first response"
    claimed = json.loads(run("queue", "claim", str(ids[0]), "--as", "alice", "--json", "--config", config).output)
    assert (claimed["state"], claimed["assignee"]) == ("claimed", "alice")
    run("queue", "note", str(ids[0]), "Customer wants a call back", "--as", "alice", "--config", config)
    run("queue", "reply", str(ids[0]), "--as", "alice", "--config", config)
    out = run("queue", "resolve", str(ids[0]), "--outcome", "refund", "--as", "alice", "--config", config).output
    assert out.strip() == f"queue item {ids[0]}: resolve → resolved (alice)"
    shown = json.loads(run("queue", "show", str(ids[0]), "--json", "--config", config).output)
    assert [(e["actor"], e["action"]) for e in shown["events"]] == [
        ("overheard", "created"), ("alice", "claimed"), ("alice", "note"), ("alice", "replied"), ("alice", "resolved")]
    assert shown["item"]["outcome"] == "refund" and len(shown["mentions"]) == 4
    text = run("queue", "show", str(ids[0]), "--config", config).output
    assert "alice: note: Customer wants a call back" in text and "resolved: refund or credit" in text


def test_illegal_moves_exit_2_with_one_line(workspace):
    config, ids = workspace
    result = run("queue", "reply", str(ids[0]), "--as", "bob", "--config", config, ok=False)
    assert result.exit_code == 2
    assert result.output.strip() == f"overheard: queue item {ids[0]} is new: cannot mark it replied; claim it first"
    result = run("queue", "assign", str(ids[0]), "nobody", "--config", config, ok=False)
    assert result.exit_code == 2 and "user 'nobody': no such user" in result.output
    result = run("queue", "snooze", str(ids[0]), "--until", "2020-01-01T09:00", "--config", config, ok=False)
    assert result.exit_code == 2 and "that time has passed" in result.output
    result = run("queue", "snooze", str(ids[0]), "--for", "soon", "--config", config, ok=False)
    assert result.exit_code == 2 and "--for 'soon'" in result.output
    result = run("queue", "show", "999", "--config", config, ok=False)
    assert result.exit_code == 2 and "queue item 999: no such item" in result.output


def test_snooze_tag_dismiss_reopen_and_relabel(workspace):
    config, ids = workspace
    snoozed = json.loads(run("queue", "snooze", str(ids[1]), "--for", "2h", "--json", "--config", config).output)
    assert snoozed["state"] == "snoozed"
    assert json.loads(run("queue", "list", "--json", "--config", config).output)["counts"]["snoozed"] == 1
    run("queue", "wake", str(ids[1]), "--config", config)
    tagged = json.loads(run("queue", "tag", str(ids[1]), "vip", "+billing", "--json", "--config", config).output)
    assert tagged["tags"] == ["billing", "vip"]
    run("queue", "dismiss", str(ids[1]), "--reason", "duplicate", "--config", config)
    assert json.loads(run("queue", "reopen", str(ids[1]), "--json", "--config", config).output)["state"] == "new"
    shown = json.loads(run("queue", "show", str(ids[1]), "--json", "--config", config).output)
    mention = shown["mentions"][0]["id"]
    assert "labelled neutral" in run("queue", "relabel", str(mention), "neutral", "--as", "carol",
                                     "--config", config).output
    shown = json.loads(run("queue", "show", str(ids[1]), "--json", "--config", config).output)
    assert shown["events"][-1]["action"] == "relabel" and shown["mentions"][0]["label"] == "neutral"


def test_a_support_person_works_the_demo_queue_to_zero(tmp_path):
    result = run_demo(tmp_path / "demo", channels={})
    config = str(result.config.path)
    assert result.login and result.login[0] == "demo"
    listed = json.loads(run("queue", "list", "--json", "--config", config).output)
    assert listed["counts"]["open"] >= 2
    for n, item in enumerate(listed["items"]):
        item_id = str(item["id"])
        run("queue", "claim", item_id, "--as", "demo", "--config", config)
        run("queue", "note", item_id, "Replied publicly and asked for a DM", "--as", "demo", "--config", config)
        run("queue", "reply", item_id, "--as", "demo", "--config", config)
        if n % 2:
            run("queue", "dismiss", item_id, "--reason", "no_action", "--as", "demo", "--config", config)
        else:
            run("queue", "resolve", item_id, "--outcome", "moved_to_dm", "--as", "demo", "--config", config)
    after = json.loads(run("queue", "list", "--json", "--config", config).output)
    assert after["items"] == [] and after["counts"]["open"] == 0 and after["counts"]["snoozed"] == 0
    with Store(result.config.db_path) as store:
        assert store.counts()["queue_open"] == 0
    # a second demo run the same day neither reopens nor re-creates anything
    again = run_demo(tmp_path / "demo", channels={})
    assert again.counts["queue_open"] == 0 and again.login == result.login


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_listens_on_loopback_and_answers_health(workspace):
    config, _ = workspace
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from listener.cli import main; main()", "serve",
                             "--config", config, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    assert json.load(resp) == {"status": "ok"}
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("overheard serve did not come up: " + proc.stdout.read().decode()
                                         if proc.poll() is not None else "timeout") from None
                time.sleep(0.2)
        # The listening socket is bound to 127.0.0.1 (0100007F in the kernel's table), not to every address.
        with open("/proc/net/tcp") as fh:
            listening = [line.split()[1] for line in fh.readlines()[1:] if line.split()[3] == "0A"]
        assert [a for a in listening if a.endswith(f":{port:04X}")] == [f"0100007F:{port:04X}"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_every_queue_command_is_documented():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "queue.md").read_text(encoding="utf-8")
    from listener.commands.queue import queue, users

    for group, commands in (("queue", queue.commands), ("users", users.commands)):
        for name in commands:
            assert f"overheard {group} {name}" in docs or f"{group} {name}" in docs, f"{group} {name} is not in docs"
    assert "overheard serve" in docs


def test_snoozes_are_bounded_and_odd_times_are_one_line(workspace):
    config, ids = workspace
    for args, message in ((["--for", "91d"], "at most 90 days ahead"),
                          (["--for", "99999999999999d"], "too long a duration"),
                          (["--until", "9999-12-31T00:00"], "at most 90 days ahead"),
                          (["--until", "0001-01-01T00:00"], "overheard: ")):
        result = run("queue", "snooze", str(ids[0]), *args, "--config", config, ok=False)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, args
