"""One module owns each table's writes (issue 20, item 1).

Every SQL string of ours (literals and the constant parts of f-strings) is scanned for INSERT, REPLACE,
UPDATE ... SET and DELETE FROM. A table written by any module other than its owner fails, unless that
module is a declared cross-cutting writer (the schema, copying the store, prune and forget) or the
pair is in ALSO_WRITES with its reason. Other modules change a table by calling its owner's functions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.test_layers import PACKAGES, ROOT, modules

# table -> the module that writes it
OWNERS: dict[str, str] = {
    "mentions": "listener.store",
    "authors": "listener.store",
    "cursors": "listener.store",
    "runs": "listener.store",
    "schema_migrations": "listener.store",
    "threads": "listener.threads",
    "thread_totals": "listener.threads",
    "thread_audiences": "listener.threads",
    "thread_repeaters": "listener.threads",
    "scores": "listener.scoring",
    "labels": "listener.labels",
    "quarantine": "listener.quarantine",
    "leases": "listener.leases",
    "daemon_jobs": "listener.scheduler",
    "daemon_state": "listener.scheduler",
    "stream_status": "listener.streams.base",
    "source_health": "listener.health",
    "source_backoff": "listener.health",
    "report_emails": "listener.report_email",
    "chart_cache": "listener.trends.charts",
    "trend_hours": "listener.trends.rollup",
    "trend_state": "listener.trends.rollup",
    "trend_hour_authors": "listener.trends.rollup",
    "trend_hour_audiences": "listener.trends.rollup",
    # the kept rows of finished periods and the hours that make them stale: the rollup marks and rebuilds,
    # the cache and the terms table keep and drop, all through listener.trends.kept, which is below the three
    "trend_changed_hours": "listener.trends.kept",
    "trend_period_cache": "listener.trends.kept",
    "trend_period_text": "listener.trends.kept",
    "trend_terms_kept": "listener.trends.kept",
    "outbox": "alerts.outbox",
    "alert_sends": "alerts.outbox",
    "silences": "alerts.noise",
    "queue_items": "alerts.queue",
    "queue_events": "alerts.queue",
    "queue_viewers": "alerts.queue",
    "queue_presence": "alerts.routing",
    "queue_routing": "alerts.routing",
    "users": "alerts.users",
    "web_secrets": "alerts.web.app",
    "login_attempts": "alerts.web.throttle",
    "slack_requests": "alerts.slack_actions",
    "replies": "alerts.replies.send",
    "reply_tokens": "alerts.replies.tokens",
    "forgotten_authors": "listener.retention",
    "emb": "sentiment.strong",  # the embedding cache: its own SQLite file next to the model, not the store
}

# module -> why it may write any table
CROSS_CUTTING: dict[str, str] = {
    "listener.migrations": "the schema: creates tables, backfills them once, and the FTS triggers",
    "listener.backends": "the PostgreSQL engine: the same migrations' statements and triggers, translated",
    "listener.dbcopy": "`db copy` moves every table to PostgreSQL as it is",
    "listener.retention": "prune and forget: deletes old rows and one person's data wherever it was copied",
    "alerts.backtest": "writes only the scratch store it replays history into, never the real one",
}

# (table, module) -> why this second writer cannot go through the owner
ALSO_WRITES: dict[tuple[str, str], str] = {
    ("threads", "listener.store"): "a new mention's thread row is inserted with it, in the batch's one "
                                   "transaction; the store is below listener.threads and cannot call it",
    ("mentions", "listener.quarantine"): "the set-aside mark (mentions.quarantined) every stage and the store "
                                         "write through quarantine_mention; the store imports the quarantine",
    ("mentions", "listener.threads"): "the rollup marks the mentions it counted (mentions.rolled_up) in the "
                                      "transaction that writes the thread's running totals",
    ("thread_totals", "listener.store"): "a refreshed mention (new likes, followers) drops its thread's running "
                                         "totals in the batch's transaction; the store is below listener.threads",
    ("thread_totals", "listener.quarantine"): "a mention set aside drops its thread's running totals with the mark; "
                                              "the quarantine is core, below listener.threads",
    ("queue_items", "alerts.routing"): "routing assigns items inside the queue's own transaction "
                                       "(alerts.routing is part of the queue's stage)",
    ("queue_viewers", "alerts.routing"): "logging out ends the user's presence and their open item pages at once",
}

# NOT YET: writers still to move behind their table's owner. Each line is a known breach of the rule,
# reported as such; the test fails when one is fixed (remove its line) or a new one appears.
NOT_YET: dict[tuple[str, str], str] = {
}

_WRITE = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+(?:IGNORE|REPLACE)\s+)?INTO|REPLACE\s+INTO|DELETE\s+FROM)\s+\"?((?:temp\.)?\w+|\{\})"
    r"|\bUPDATE\s+\"?((?:temp\.)?\w+|\{\})\"?\s+SET\b")


def sql_texts(tree: ast.AST) -> list[str]:
    """String literals and f-strings (their constant parts, `{}` for each interpolation)."""
    texts = []
    inside_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            texts.append("".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstrings:
            texts.append(node.value)
    return texts


def writes(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """table -> modules with SQL that writes it ("{}": a table named at run time)."""
    found: dict[str, set[str]] = {}
    for name, path in modules(root, packages).items():
        for text in sql_texts(ast.parse(path.read_text(encoding="utf-8"))):
            for match in _WRITE.finditer(text):
                table = (match.group(1) or match.group(2)).lower()
                if table.startswith("temp."):
                    continue  # a connection's own scratch table, gone when it closes
                found.setdefault(table, set()).add(name)
    return found


def _cross_cutting(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in CROSS_CUTTING)


def breaches(found: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(table, module) pairs that write a table without being its owner or declared."""
    out = []
    for table, writers in sorted(found.items()):
        for module in sorted(writers):
            if _cross_cutting(module) or OWNERS.get(table) == module or (table, module) in ALSO_WRITES:
                continue
            out.append((table, module))
    return out


def test_every_table_written_has_an_owner():
    found = writes(ROOT, PACKAGES)
    unowned = sorted(t for t, ms in found.items()
                     if t not in OWNERS and not all(_cross_cutting(m) for m in ms))
    assert not unowned, f"give these tables an owner in tests/test_table_owners.py OWNERS: {unowned}"


def test_one_module_writes_each_table():
    found = writes(ROOT, PACKAGES)
    wrong = [pair for pair in breaches(found) if pair not in NOT_YET]
    assert not wrong, ("these modules write a table they do not own (call the owner's function instead):\n"
                       + "\n".join(f"{t}: {m} (owner {OWNERS.get(t)})" for t, m in wrong))


def test_not_yet_is_still_true():
    """A NOT_YET line that no longer happens is done: remove it so the list stays honest."""
    found = writes(ROOT, PACKAGES)
    stale = sorted(set(NOT_YET) - set(breaches(found)))
    assert not stale, f"fixed, remove from NOT_YET: {stale}"


def test_owners_name_real_modules():
    known = modules(ROOT, PACKAGES)
    assert {m for m in OWNERS.values() if m not in known} == set()
    assert {m for _, m in list(ALSO_WRITES) + list(NOT_YET) if m not in known} == set()


def test_the_scan_catches_a_second_writer(tmp_path):
    """A fake tree: `b` writes a's table in a plain string and in an f-string; prose does not count."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text('SQL = "INSERT INTO things (x) VALUES (?)"\n')
    (tmp_path / "pkg" / "b.py").write_text(
        'def go(conn, col):\n'
        '    """Update things set to the old value (prose, not SQL)."""\n'
        '    conn.execute(f"UPDATE things SET {col} = 1 WHERE id = ?", (1,))\n'
        '    conn.execute("DELETE FROM other WHERE id = ?", (1,))\n'
        '    conn.execute(f"DELETE FROM {col}")\n'
        '    conn.execute("INSERT INTO temp.scratch VALUES (1)")\n')
    found = writes(tmp_path, ("pkg",))
    assert found == {"things": {"pkg.a", "pkg.b"}, "other": {"pkg.b"}, "{}": {"pkg.b"}}
