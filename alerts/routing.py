"""Routing: who a new queue item goes to, by rules in config, round-robin among the agents online.

Rules ([[queue.routing]]) are tried in order and the first that matches decides (like a mail filter or
a Zendesk trigger list): its agents (or its [queue.teams] team) take turns, in the order written,
skipping anyone who is not online. Nobody online, or no rule matching, leaves the item unassigned in
the queue, for whoever comes first; the audit trail says which.

"Online" is a signed-in web UI user who loaded a queue page, or had an item open, within
[queue] online_minutes (queue_presence, written by the web UI; logging out ends it), and is enabled.

Each rule's turn is a row of queue_routing, moved in the transaction that assigns the item: the
statement that moves it is a write, so a second process (or a restarted one) waits for it and
continues from the agent after, never from its own memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.permissions import SYSTEM_ACTOR
from listener.config import QueueConfig, RoutingRule
from listener.models import iso, utcnow
from listener.store import Store


@dataclass
class Decision:
    """What routing did (or would do) with one item."""

    item_id: int
    rule: str | None  # the rule that matched, None when none did
    assignee: str | None  # None: left unassigned
    why: str  # one line for people
    agents: list[str] = field(default_factory=list)  # the rule's agents, in turn order
    online: list[str] = field(default_factory=list)  # of those, who was online


def facts(store: Store, item: dict[str, Any]) -> dict[str, Any]:
    """What rules match on: brand, source, priority and the language of the thread's first customer post."""
    lang = store.scalar(
        "SELECT lang FROM mentions WHERE thread_key = ? AND is_brand_account = 0 "
        "ORDER BY created_at, id LIMIT 1", (item["thread_key"],))
    return {"brand": item.get("brand"), "source": item.get("source"), "priority": item.get("priority"),
            "language": lang}


def matching_rule(config: QueueConfig, found: dict[str, Any]) -> RoutingRule | None:
    """The first rule whose every given field matches (brand names compare case-insensitively)."""
    for rule in config.routing:
        if rule.brands and (found["brand"] or "").lower() not in {b.lower() for b in rule.brands}:
            continue
        if rule.languages and (found["language"] or "").lower() not in {x.lower() for x in rule.languages}:
            continue
        if rule.sources and found["source"] not in rule.sources:
            continue
        if rule.priorities and found["priority"] not in rule.priorities:
            continue
        return rule
    return None


def agents_of(config: QueueConfig, rule: RoutingRule) -> list[str]:
    return list(rule.agents) if rule.agents else list(config.teams.get(rule.team or "", []))


def online_users(store: Store, config: QueueConfig, now: datetime | None = None) -> set[str]:
    """Enabled users seen in the web UI within [queue] online_minutes (a page, an open item)."""
    since = iso((now or utcnow()) - timedelta(minutes=config.online_minutes))
    rows = store.conn.execute(
        "SELECT p.name FROM queue_presence p JOIN users u ON u.name = p.name "
        "WHERE u.disabled = 0 AND p.seen_at >= ? ORDER BY p.name", (since,)).fetchall()
    viewers = store.conn.execute(
        "SELECT DISTINCT v.user FROM queue_viewers v JOIN users u ON u.name = v.user "
        "WHERE u.disabled = 0 AND v.seen_at >= ? ORDER BY v.user", (since,)).fetchall()
    return {r[0] for r in rows} | {r[0] for r in viewers}


def mark_online(store: Store, user: str, now: datetime | None = None) -> None:
    """Record that `user` is using the web UI now (called by its pages and polls)."""
    with store.transaction() as conn:
        conn.execute("INSERT INTO queue_presence (name, seen_at) VALUES (?, ?) "
                     "ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at", (user, iso(now or utcnow())))


def mark_offline(store: Store, user: str) -> None:
    """Logging out: the user takes no more routed items (their open item pages stop counting too)."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM queue_presence WHERE name = ?", (user,))
        conn.execute("DELETE FROM queue_viewers WHERE user = ?", (user,))


def next_agent(agents: list[str], online: set[str], last: str | None) -> str | None:
    """The first online agent after `last` in the rule's order, wrapping round; None when nobody is online."""
    if not agents:
        return None
    start = agents.index(last) + 1 if last in agents else 0
    for step in range(len(agents)):
        candidate = agents[(start + step) % len(agents)]
        if candidate in online:
            return candidate
    return None


def decide(store: Store, config: QueueConfig, item: dict[str, Any], now: datetime | None = None, *,
           positions: dict[str, str | None] | None = None, online: set[str] | None = None) -> Decision:
    """Who `item` (a queue_items row) would go to, moving nothing. `positions` (rule -> last agent) lets a
    dry run carry the turns from one item to the next; by default they are read from the store."""
    rule = matching_rule(config, facts(store, item))
    if rule is None:
        return Decision(item["id"], None, None, "no routing rule matches")
    agents = agents_of(config, rule)
    online = online_users(store, config, now) if online is None else online
    here = [a for a in agents if a in online]
    if positions is not None and rule.name in positions:
        last = positions[rule.name]
    else:
        last = store.scalar("SELECT last_agent FROM queue_routing WHERE rule = ?", (rule.name,))
    chosen = next_agent(agents, online, last)
    if chosen is None:
        return Decision(item["id"], rule.name, None,
                        f"rule {rule.name}: none of {', '.join(agents)} is online; left unassigned", agents, here)
    return Decision(item["id"], rule.name, chosen, f"rule {rule.name}: {chosen}'s turn", agents, here)


def route(store: Store, config: QueueConfig, item_id: int, now: datetime | None = None) -> Decision:
    """Assign an unassigned new item by the rules, moving the rule's turn, inside the caller's transaction
    (or one of its own). Does nothing to an item someone holds or that is not new."""
    from alerts.queue import add_event

    now = now or utcnow()
    if not config.routing:
        return Decision(item_id, None, None, "no routing rules")
    with store.transaction():
        rows = store.query("SELECT * FROM queue_items WHERE id = ?", (item_id,))
        if not rows or rows[0]["assignee"] or rows[0]["state"] != "new":
            return Decision(item_id, None, None, "not routed: someone holds it, or it is not new")
        item = rows[0]
        rule = matching_rule(config, facts(store, item))
        if rule is not None:
            # A write first: it takes the lock on the rule's turn (SQLite: the database; PostgreSQL: the row),
            # so two processes routing at once read the turn one after the other.
            store.conn.execute(
                "INSERT INTO queue_routing (rule, last_agent, turns, updated_at) VALUES (?, NULL, 0, ?) "
                "ON CONFLICT (rule) DO UPDATE SET updated_at = excluded.updated_at", (rule.name, iso(now)))
        decision = decide(store, config, item, now)
        if decision.rule is None:
            return decision
        if decision.assignee is None:
            add_event(store, item_id, SYSTEM_ACTOR, "routing",
                      {"rule": decision.rule, "why": "nobody online", "agents": decision.agents}, now)
            return decision
        store.conn.execute(
            "UPDATE queue_routing SET last_agent = ?, turns = turns + 1, updated_at = ? WHERE rule = ?",
            (decision.assignee, iso(now), decision.rule))
        store.conn.execute(
            "UPDATE queue_items SET assignee = ?, state = 'claimed', updated_at = ? WHERE id = ?",
            (decision.assignee, iso(now), item_id))
        add_event(store, item_id, SYSTEM_ACTOR, "assigned",
                  {"assignee": decision.assignee, "from": None, "state": "new", "rule": decision.rule,
                   "online": decision.online}, now)
    return decision


def dry_run(store: Store, config: QueueConfig, now: datetime | None = None) -> list[Decision]:
    """What routing would do now with every unassigned new item, oldest first, turns carried along."""
    now = now or utcnow()
    online = online_users(store, config, now)
    positions: dict[str, str | None] = {
        r["rule"]: r["last_agent"] for r in store.query("SELECT rule, last_agent FROM queue_routing ORDER BY rule")}
    out = []
    for item in store.query("SELECT * FROM queue_items WHERE state = 'new' AND assignee IS NULL "
                            "ORDER BY created_at, id"):
        decision = decide(store, config, item, now, positions=positions, online=online)
        if decision.rule and decision.assignee:
            positions[decision.rule] = decision.assignee
        out.append(decision)
    return out
