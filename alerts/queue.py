"""The support queue: one item per flagged thread, worked through states with a full audit trail.

New mentions in a thread join its item; they never open a second one. Every change is a row in
queue_events (who, when, what), kept forever. The CLI, the web UI and the Slack buttons all call
the `Queue` methods here, so the same rules hold everywhere:

    new ─claim─► claimed ─reply─► replied ─wait─► waiting ─resolve─► resolved ─reopen─► claimed/new
     │                 └──────────────── dismiss (spam, not our brand, duplicate, no action) ──► dismissed
     └── snooze until a time (any open state) ─► snoozed ─wake (or the time passes)─► previous state

An illegal move raises UserError with one line that says why and what to do instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts import permissions, routing
from alerts.message import Alert, AlertMention
from alerts.permissions import SYSTEM_ACTOR
from alerts.sla import BusinessHours
from listener import labels
from listener.config import QueueConfig
from listener.errors import UserError
from listener.models import iso, parse_iso, utcnow
from listener.store import Store

OPEN_STATES = ("new", "claimed", "waiting", "replied", "snoozed")
CLOSED_STATES = ("resolved", "dismissed")
STATES = OPEN_STATES + CLOSED_STATES
WORKING_STATES = ("claimed", "waiting", "replied")  # someone owns it and is on it
PRIORITIES = ("high", "medium", "low")

# Outcome recorded on resolve (key -> how people say it).
OUTCOMES = {
    "answered_publicly": "answered publicly",
    "moved_to_dm": "moved to DM",
    "refund": "refund or credit",
    "fix_shipped": "fix shipped",
    "escalated": "escalated to another team",
    "other": "other",
}
DISMISS_REASONS = {
    "spam": "spam",
    "not_our_brand": "not our brand",
    "duplicate": "duplicate",
    "no_action": "no action needed",
}
# Close the loop: what the author said after the item was resolved.
RECOVERY_WATCHING, RECOVERED, STILL_UNHAPPY, SILENT = "watching", "recovered", "still unhappy", "silent"
MAX_NOTE = 10_000
# A snooze hides an item from the list; longer than a quarter is a dismissal by another name.
MAX_SNOOZE_DAYS = 90
# SQLite integers are 64-bit: a larger id cannot name a row (and would raise inside sqlite3).
MAX_ID = 2**63 - 1


def _check_id(item_id: int, what: str = "queue item") -> None:
    if not isinstance(item_id, int) or not 0 < item_id <= MAX_ID:
        raise UserError(f"{what} {item_id}: no such {what.split()[-1]}")


def priority_for(risk: float) -> str:
    return "high" if risk >= 75 else "medium" if risk >= 50 else "low"


@dataclass
class QueueItem:
    """One row of queue_items, with the thread facts the list shows."""

    id: int
    thread_key: str
    brand: str | None
    source: str | None
    state: str
    priority: str
    risk: float
    assignee: str | None
    tags: list[str]
    created_at: str
    updated_at: str
    first_response_due: str | None
    resolution_due: str | None
    first_response_at: str | None
    resolved_at: str | None
    snoozed_until: str | None
    outcome: str | None
    dismiss_reason: str | None
    recovery: str | None
    author: str | None
    snoozed_from: str | None = None
    waiting_since: str | None = None
    recovery_at: str | None = None
    reopened: int = 0
    # when the SLA clocks started, from what ("post": the customer's post, "queued"), and that post's time
    sla_started_at: str | None = None
    sla_basis: str | None = None
    post_at: str | None = None
    # from the thread (list view)
    title: str | None = None
    url: str | None = None
    mentions: int = 0
    negative: int = 0
    reach: int = 0
    last_at: str | None = None
    reasons: list[str] = field(default_factory=list)
    snippet: str | None = None  # the start of the thread's first customer mention

    @property
    def headline(self) -> str:
        """What the list shows for the thread: its title, else how it starts."""
        return self.title or self.snippet or self.thread_key

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> QueueItem:
        names = cls.__dataclass_fields__
        data = {k: v for k, v in row.items() if k in names}
        data["tags"] = json.loads(row.get("tags") or "[]")
        if "reasons" in row:
            data["reasons"] = json.loads(row.get("reasons") or "[]")
        for key in ("mentions", "negative", "reach"):
            data[key] = data.get(key) or 0
        return cls(**data)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def next_target(self) -> tuple[str, str | None]:
        """The SLA target that runs now: ("first response"|"resolution", due) or ("", None) when none."""
        if not self.is_open:
            return "", None
        if self.first_response_at is None and self.first_response_due:
            return "first response", self.first_response_due
        return "resolution", self.resolution_due

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def span_text(minutes: float) -> str:
    """A duration as people say it on a queue: 14 min, 2.5 h, 3.1 d."""
    minutes = abs(minutes)
    if minutes >= 48 * 60:
        return f"{minutes / 1440:.1f} d"
    return f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min"


@dataclass
class SlaStatus:
    target: str  # "first response" | "resolution" | ""
    due: str | None
    minutes_left: float | None  # business minutes; negative when breached
    status: str  # "ok" | "due soon" | "breached" | "paused" | "met" | "missed" | "none"
    # why it is due then: "due 14:00 — 1 h from the customer's post at 13:00" (see Queue.sla)
    reason: str = ""
    # how long ago the customer posted (wall-clock time, not business time): "3.0 d"
    post_age: str = ""

    def label(self) -> str:
        if self.status in ("none", "met", "missed") or self.minutes_left is None:
            return self.status if self.status != "none" else ""
        span = span_text(self.minutes_left)
        if self.status == "breached":
            return f"{self.target} overdue by {span}"
        if self.status == "paused":
            return f"{self.target} paused (waiting on customer)"
        return f"{self.target} due in {span}"


@dataclass
class ItemFilter:
    """What the queue list shows. `state` is a state, "open" (every open state but snoozed) or "all"."""

    state: str = "open"
    brand: str | None = None
    source: str | None = None
    priority: str | None = None
    assignee: str | None = None  # a user name, or "none" for unassigned
    theme: str | None = None
    lang: str | None = None
    search: str | None = None
    sort: str = "sla"  # sla | risk | newest | oldest


@dataclass
class TickReport:
    woken: int = 0
    breaches: int = 0
    alerts: int = 0
    recovery_updates: int = 0
    sla_restarted: int = 0  # items from before migration 200 whose due times were worked out again
    summarised: int = 0  # breaches reported in the one summary alert instead of one alert each


def add_event(store: Store, item_id: int, actor: str, action: str, detail: dict[str, Any] | None = None,
              at: datetime | None = None) -> None:
    """Append one audit event. Events are never updated or deleted."""
    store.conn.execute(
        "INSERT INTO queue_events (item_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
        (item_id, iso(at or utcnow()), actor, action, json.dumps(detail or {}, ensure_ascii=False)),
    )


def _thread_author(store: Store, thread_key: str) -> str | None:
    """Whose thread it is: the first customer (not the brand) who posted in it."""
    return store.scalar(
        "SELECT author FROM mentions WHERE thread_key = ? AND is_brand_account = 0 AND author IS NOT NULL "
        "ORDER BY created_at, id LIMIT 1", (thread_key,))


@dataclass(frozen=True)
class SlaStart:
    """Where an item's SLA clocks start: `at`, from `basis` ("post" or "queued"); `post_at` is the
    customer's post the item answers (None when the thread has no customer mention)."""

    at: datetime
    basis: str
    post_at: datetime | None


def customer_post_at(store: Store, thread_key: str) -> datetime | None:
    """When the customer started waiting: the thread's first customer mention after the brand's
    latest reply in it (its first unanswered mention); the first customer mention when every one
    was answered."""
    answered = store.scalar(
        "SELECT created_at FROM mentions WHERE thread_key = ? AND is_brand_account = 1 "
        "ORDER BY created_at DESC, id DESC LIMIT 1", (thread_key,))
    first = None
    if answered:
        first = store.scalar(
            "SELECT created_at FROM mentions WHERE thread_key = ? AND is_brand_account = 0 AND created_at > ? "
            "ORDER BY created_at, id LIMIT 1", (thread_key, answered))
    if first is None:
        first = store.scalar(
            "SELECT created_at FROM mentions WHERE thread_key = ? AND is_brand_account = 0 "
            "ORDER BY created_at, id LIMIT 1", (thread_key,))
    return parse_iso(first) if first else None


def sla_start(store: Store, thread_key: str, config: QueueConfig, queued_at: datetime) -> SlaStart:
    """The clock start of a thread's item under [queue] sla_starts."""
    post = customer_post_at(store, thread_key)
    if post is not None and post > queued_at:
        post = queued_at  # a post "from the future" (a source's clock ahead of ours) starts now
    if config.sla_starts == "post" and post is not None:
        return SlaStart(post, "post", post)
    return SlaStart(queued_at, "queued", post)


def _due_times(hours: BusinessHours, config: QueueConfig, priority: str,
               start: datetime) -> tuple[str | None, str | None]:
    target = config.sla.get(priority)
    if target is None:
        return None, None
    return (iso(hours.add(start, target.first_response_minutes)),
            iso(hours.add(start, target.resolution_minutes)))


def upsert_for_thread(store: Store, thread_row: dict[str, Any], queue_config: QueueConfig,
                      now: datetime | None = None) -> tuple[int, bool]:
    """Create the queue item of a flagged thread, or refresh its risk; returns (item id, created).

    A resolved item whose thread has a new negative customer mention since it was resolved is reopened.
    Runs inside the caller's transaction (alerts.rules.evaluate_pending).
    """
    now = now or utcnow()
    thread = thread_row
    priority = priority_for(thread["risk"])
    hours = BusinessHours.from_config(queue_config)
    existing = store.query("SELECT * FROM queue_items WHERE thread_key = ?", (thread["thread_key"],))
    if existing:
        item = existing[0]
        if item["risk"] != thread["risk"] or item["priority"] != priority:
            store.conn.execute(
                "UPDATE queue_items SET risk = ?, priority = ?, updated_at = ? WHERE id = ?",
                (thread["risk"], priority, iso(now), item["id"]),
            )
            if item["priority"] != priority:
                add_event(store, item["id"], SYSTEM_ACTOR, "priority",
                          {"from": item["priority"], "to": priority, "risk": thread["risk"]}, now)
        if item["state"] == "resolved" and item["resolved_at"]:
            newer = store.query(
                "SELECT id, author FROM mentions WHERE thread_key = ? AND is_brand_account = 0 "
                "AND label = 'negative' AND collected_at >= ? ORDER BY created_at LIMIT 1",
                (thread["thread_key"], item["resolved_at"]),
            )
            if newer:
                _reopen_row(store, hours, queue_config, item, SYSTEM_ACTOR, now,
                            {"why": "the thread turned negative again", "mention_id": newer[0]["id"]})
        return item["id"], False
    start = sla_start(store, thread["thread_key"], queue_config, now)
    first_due, resolution_due = _due_times(hours, queue_config, priority, start.at)
    item_id = int(store.conn.execute(
        "INSERT INTO queue_items (thread_key, brand, source, state, priority, risk, created_at, updated_at, "
        "first_response_due, resolution_due, author, sla_started_at, sla_basis, post_at) "
        "VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (thread["thread_key"], thread["brand"], thread["source"], priority, thread["risk"], iso(now), iso(now),
         first_due, resolution_due, _thread_author(store, thread["thread_key"]), iso(start.at), start.basis,
         iso(start.post_at) if start.post_at else None),
    ).fetchall()[0][0])
    add_event(store, item_id, SYSTEM_ACTOR, "created",
              {"risk": thread["risk"], "priority": priority, "sla_basis": start.basis,
               "sla_started_at": iso(start.at)}, now)
    routing.route(store, queue_config, item_id, now)  # [[queue.routing]]: round-robin among agents online
    return item_id, True


def _reopen_row(store: Store, hours: BusinessHours, config: QueueConfig, item: dict[str, Any], actor: str,
                now: datetime, detail: dict[str, Any]) -> None:
    state = "claimed" if item["assignee"] else "new"
    target = config.sla.get(item["priority"])
    resolution_due = iso(hours.add(now, target.resolution_minutes)) if target else None
    store.conn.execute(
        "UPDATE queue_items SET state = ?, resolved_at = NULL, outcome = NULL, dismiss_reason = NULL, "
        "recovery = NULL, recovery_at = NULL, resolution_due = ?, reopened = reopened + 1, updated_at = ? "
        "WHERE id = ?",
        (state, resolution_due, iso(now), item["id"]),
    )
    add_event(store, item["id"], actor, "reopened",
              {"from": item["state"], "to": state, "outcome_was": item["outcome"] or item["dismiss_reason"],
               **detail}, now)
    if state == "new":
        routing.route(store, config, item["id"], now)  # nobody held it: the rules pick someone online


def fts_query(text: str) -> str:
    """Turn what a person typed into a safe FTS5 query: every word must appear; `word*` is a prefix."""
    terms = []
    for word in text.split():
        prefix = word.endswith("*")
        word = word.rstrip("*").replace('"', "")
        if word.strip():
            terms.append('"' + word + '"' + ("*" if prefix else ""))
    return " ".join(terms)


class Queue:
    """The queue's actions. Each one checks the state, changes the item and records an event, in one
    transaction."""

    def __init__(self, store: Store, config: QueueConfig) -> None:
        self.store = store
        self.config = config
        self.hours = BusinessHours.from_config(config)

    # ------------------------------------------------------------ reading
    def get(self, item_id: int) -> QueueItem:
        _check_id(item_id)
        rows = self.store.query(_ITEM_SELECT + " WHERE q.id = ?", (item_id,))
        if not rows:
            raise UserError(f"queue item {item_id}: no such item (see `overheard queue list --state all`)")
        return QueueItem.from_row(rows[0])

    def list(self, flt: ItemFilter | None = None, limit: int = 500) -> list[QueueItem]:
        """Items matching the filter, about-to-breach first by default."""
        flt = flt or ItemFilter()
        where, params = _filter_sql(flt)
        order = _ORDER.get(flt.sort)
        if order is None:
            raise UserError(f"sort {flt.sort!r}: must be one of {', '.join(_ORDER)}")
        rows = self.store.query(f"{_ITEM_SELECT} WHERE {where} ORDER BY {order} LIMIT ?", (*params, limit))
        return [QueueItem.from_row(r) for r in rows]

    def counts(self, flt: ItemFilter | None = None) -> dict[str, int]:
        """Items per state under the other filters (the state filter itself is ignored)."""
        flt = flt or ItemFilter()
        where, params = _filter_sql(ItemFilter(**{**flt.__dict__, "state": "all"}))
        # No join to threads: no filter reads them (they test q.* and the thread's mentions), and the
        # join cost a thread look-up per item (210 ms at 200k items, on every list load).
        rows = self.store.conn.execute(
            f"SELECT q.state, COUNT(*) FROM queue_items q WHERE {where} GROUP BY q.state", params).fetchall()
        counts = {s: 0 for s in STATES}
        counts.update({r[0]: r[1] for r in rows})
        counts["open"] = sum(counts[s] for s in OPEN_STATES if s != "snoozed")
        return counts

    def sla(self, item: QueueItem, now: datetime | None = None) -> SlaStatus:
        """Where the item stands against its SLA targets, in business minutes."""
        now = now or utcnow()
        if not item.is_open:
            missed = any(
                done and due and done > due for done, due in (
                    (item.first_response_at, item.first_response_due), (item.resolved_at, item.resolution_due)))
            return SlaStatus("", None, None, "missed" if missed and item.state == "resolved" else
                             "met" if item.state == "resolved" else "none")
        target, due = item.next_target()
        age = span_text((now - parse_iso(item.post_at)).total_seconds() / 60) if item.post_at else ""
        if due is None:
            return SlaStatus(target, None, None, "none", post_age=age)
        left = self.hours.between(now, parse_iso(due))
        if item.state == "waiting" and target == "resolution":
            status = "paused"
        else:
            status = "breached" if left < 0 else "due soon" if left <= self.config.due_soon_minutes else "ok"
        return SlaStatus(target, due, left, status, self.sla_reason(item, target, due, now), age)

    def sla_reason(self, item: QueueItem, target: str, due: str, now: datetime | None = None) -> str:
        """Why the target is due when it is: "due 14:00 — 1 h from the customer's post at 13:00"."""
        now = now or utcnow()
        zone = self.hours.zone
        today = now.astimezone(zone).date()

        def when(value: str) -> str:
            local = parse_iso(value).astimezone(zone)
            return local.strftime("%H:%M") if local.date() == today else local.strftime("%a %d %b %H:%M")

        limits = self.config.sla.get(item.priority)
        if limits is None or not item.sla_started_at:
            return f"due {when(due)}"
        minutes = limits.first_response_minutes if target == "first response" else limits.resolution_minutes
        budget = f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes} min"
        if not self.hours.round_the_clock:
            budget += " of business hours"
        origin = ("the customer's post" if item.sla_basis == "post" else "when it was queued")
        text = f"due {when(due)} — {budget} from {origin} at {when(item.sla_started_at)}"
        if target == "resolution" and (item.reopened or item.waiting_since):
            text += " (moved on by waiting or a reopen)"
        if item.sla_basis == "post" and item.sla_started_at < item.created_at:
            text += f"; queued {when(item.created_at)}"
        return text

    def events(self, item_id: int) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT * FROM queue_events WHERE item_id = ? ORDER BY at, id", (item_id,))
        for r in rows:
            r["detail"] = json.loads(r["detail"] or "{}")
        return rows

    def thread_mentions(self, item: QueueItem) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT id, source, author, author_followers, author_verified, text, title, url, created_at, label, "
            "compound, lang, themes, is_brand_account, engagement, stars, needs_reply FROM mentions "
            "WHERE thread_key = ? "
            "ORDER BY created_at, id", (item.thread_key,))
        for r in rows:
            r["themes"] = json.loads(r["themes"] or "[]")
        return rows

    def author_history(self, item: QueueItem, limit: int = 10) -> dict[str, Any]:
        """The thread author's record with this brand: totals, their latest mentions, their other items."""
        if not item.author:
            return {"author": None, "mentions": 0, "negative": 0, "recent": [], "other_items": []}
        args = (item.source, item.author, item.brand)
        totals = self.store.conn.execute(
            "SELECT COUNT(*), SUM(label = 'negative'), MIN(created_at) FROM mentions "
            "WHERE source = ? AND author = ? AND brand IS ?", args).fetchone()
        recent = self.store.query(
            "SELECT id, text, created_at, label, thread_key, url FROM mentions WHERE source = ? AND author = ? "
            "AND brand IS ? AND thread_key != ? ORDER BY created_at DESC LIMIT ?", (*args, item.thread_key, limit))
        items = self.store.query(
            "SELECT id, state, outcome, recovery, created_at FROM queue_items WHERE source = ? AND author = ? "
            "AND brand IS ? AND id != ? ORDER BY created_at DESC", (*args, item.id))
        followers = self.store.scalar("SELECT followers FROM authors WHERE source = ? AND author = ?",
                                      (item.source, item.author))
        return {"author": item.author, "followers": followers, "mentions": totals[0] or 0,
                "negative": totals[1] or 0, "first_seen": totals[2], "recent": recent, "other_items": items}

    def viewers(self, item_id: int, now: datetime | None = None, within_s: int = 90) -> list[str]:
        """Who had the item open in the last `within_s` seconds."""
        since = iso((now or utcnow()) - timedelta(seconds=within_s))
        return [r[0] for r in self.store.conn.execute(
            "SELECT user FROM queue_viewers WHERE item_id = ? AND seen_at >= ? ORDER BY user", (item_id, since))]

    def seen_by(self, item_id: int, user: str, now: datetime | None = None) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO queue_viewers (item_id, user, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (item_id, user) DO UPDATE SET seen_at = excluded.seen_at",
                (item_id, user, iso(now or utcnow())))

    def stats(self) -> dict[str, Any]:
        """Figures for the queue report: per state, outcomes, and how resolved authors came back."""
        def grouped(column: str, where: str) -> dict[str, int]:
            return {r[0]: r[1] for r in self.store.conn.execute(
                f"SELECT {column}, COUNT(*) FROM queue_items WHERE {where} GROUP BY {column}")}

        recovery = grouped("recovery", "state = 'resolved' AND recovery IS NOT NULL")
        decided = recovery.get(RECOVERED, 0) + recovery.get(STILL_UNHAPPY, 0)
        return {
            "states": grouped("state", "1"),
            "outcomes": grouped("outcome", "state = 'resolved' AND outcome IS NOT NULL"),
            "dismiss_reasons": grouped("dismiss_reason", "state = 'dismissed'"),
            "recovery": recovery,
            "recovery_rate": round(recovery.get(RECOVERED, 0) / decided, 3) if decided else None,
        }

    # ------------------------------------------------------------ actions
    def _load(self, item_id: int) -> dict[str, Any]:
        _check_id(item_id)
        rows = self.store.query("SELECT * FROM queue_items WHERE id = ?", (item_id,))
        if not rows:
            raise UserError(f"queue item {item_id}: no such item (see `overheard queue list --state all`)")
        return rows[0]

    def _require(self, item: dict[str, Any], allowed: tuple[str, ...], action: str) -> None:
        state = item["state"]
        if state in allowed:
            return
        if state in CLOSED_STATES:
            hint = "reopen it first"
        elif state == "snoozed":
            hint = "wake it first (or claim it)"
        elif state == "new" and "claimed" in allowed:
            hint = "claim it first"
        else:
            hint = f"that is only possible when it is {' or '.join(allowed)}"
        raise UserError(f"queue item {item['id']} is {state}: cannot {action}; {hint}")

    def _update(self, item_id: int, now: datetime, **values: Any) -> None:
        values["updated_at"] = iso(now)
        sets = ", ".join(f"{k} = ?" for k in values)
        self.store.conn.execute(f"UPDATE queue_items SET {sets} WHERE id = ?", (*values.values(), item_id))

    def _leave_waiting(self, item: dict[str, Any], now: datetime, values: dict[str, Any]) -> None:
        # Time spent waiting on the customer does not count against the resolution target.
        if item["state"] == "waiting" and item["waiting_since"] and item["resolution_due"]:
            paused = max(0.0, self.hours.between(parse_iso(item["waiting_since"]), now))
            values["resolution_due"] = iso(self.hours.add(parse_iso(item["resolution_due"]), paused))
        values["waiting_since"] = None

    def _first_response(self, item: dict[str, Any], now: datetime, values: dict[str, Any]) -> None:
        if item["first_response_at"] is None:
            values["first_response_at"] = iso(now)

    def claim(self, item_id: int, actor: str, *, take_over: bool = False, now: datetime | None = None) -> QueueItem:
        """Make `actor` the assignee. An item someone else holds needs take_over (admins)."""
        return self.assign(item_id, actor, actor, take_over=take_over, now=now, action="claim")

    def assign(self, item_id: int, assignee: str, actor: str, *, take_over: bool = False,
               now: datetime | None = None, action: str = "assign") -> QueueItem:
        """Give the item to `assignee` (a new or snoozed item becomes claimed)."""
        now = now or utcnow()
        if not assignee.strip():
            raise UserError("assignee: must not be empty")
        with self.store.transaction():
            item = self._load(item_id)
            self._require(item, ("new", "claimed", "waiting", "replied", "snoozed"), f"{action} it")
            current = item["assignee"]
            if current == assignee and item["state"] != "snoozed":
                who = "yours" if assignee == actor else f"assigned to {assignee}"
                raise UserError(f"queue item {item_id} is already {who}")
            permissions.check(self.store, actor, action, item, assignee=assignee, take_over=take_over)
            values: dict[str, Any] = {"assignee": assignee}
            if item["state"] in ("new", "snoozed"):
                values.update(state="claimed", snoozed_until=None, snoozed_from=None)
            self._update(item_id, now, **values)
            event = "claimed" if action == "claim" else "assigned"
            add_event(self.store, item_id, actor, event,
                      {"assignee": assignee, "from": current, "state": item["state"]}, now)
        return self.get(item_id)

    def unassign(self, item_id: int, actor: str, *, now: datetime | None = None) -> QueueItem:
        """Give a claimed item back to the queue (state new, nobody assigned)."""
        now = now or utcnow()
        with self.store.transaction():
            item = self._load(item_id)
            self._require(item, ("claimed",), "unassign it")
            permissions.check(self.store, actor, "unassign", item)
            self._update(item_id, now, assignee=None, state="new")
            add_event(self.store, item_id, actor, "unassigned", {"from": item["assignee"]}, now)
        return self.get(item_id)

    def mark_replied(self, item_id: int, actor: str, *, note: str | None = None,
                     now: datetime | None = None) -> QueueItem:
        """We answered the customer (publicly or in DM): stops the first-response clock."""
        now = now or utcnow()
        with self.store.transaction():
            item = self._load(item_id)
            self._require(item, ("claimed", "waiting"), "mark it replied")
            permissions.check(self.store, actor, "reply", item)
            values: dict[str, Any] = {"state": "replied"}
            self._first_response(item, now, values)
            self._leave_waiting(item, now, values)
            self._update(item_id, now, **values)
            add_event(self.store, item_id, actor, "replied", {"from": item["state"]}, now)
            if note:
                self._note(item_id, actor, note, now)
        return self.get(item_id)

    def mark_waiting(self, item_id: int, actor: str, *, now: datetime | None = None) -> QueueItem:
        """We asked the customer something and wait for them: the resolution clock pauses."""
        now = now or utcnow()
        with self.store.transaction():
            item = self._load(item_id)
            self._require(item, ("claimed", "replied"), "set it waiting on the customer")
            permissions.check(self.store, actor, "wait", item)
            values: dict[str, Any] = {"state": "waiting", "waiting_since": iso(now)}
            self._first_response(item, now, values)
            self._update(item_id, now, **values)
            add_event(self.store, item_id, actor, "waiting", {"from": item["state"]}, now)
        return self.get(item_id)

    def resolve(self, item_id: int, actor: str, outcome: str, *, note: str | None = None,
                now: datetime | None = None) -> QueueItem:
        """Close the item with its outcome; the author's next mentions are then watched (recovery)."""
        now = now or utcnow()
        if outcome not in OUTCOMES:
            raise UserError(f"outcome {outcome!r}: must be one of {', '.join(OUTCOMES)}")
        with self.store.transaction():
            item = self._load(item_id)
            self._require(item, ("new", "claimed", "waiting", "replied"), "resolve it")
            permissions.check(self.store, actor, "resolve", item)
            values: dict[str, Any] = {"state": "resolved", "outcome": outcome, "resolved_at": iso(now),
                                      "recovery": RECOVERY_WATCHING, "recovery_at": None}
            if not item["assignee"]:
                values["assignee"] = actor
            self._first_response(item, now, values)
            self._leave_waiting(item, now, values)
            self._update(item_id, now, **values)
            add_event(self.store, item_id, actor, "resolved", {"from": item["state"], "outcome": outcome}, now)
            if note:
                self._note(item_id, actor, note, now)
        return self.get(item_id)

    def dismiss(self, item_id: int, actor: str, reason: str, *, note: str | None = None,
                now: datetime | None = None) -> QueueItem:
        """Close the item without action: spam, not our brand, duplicate, no action needed."""
        now = now or utcnow()
        if reason not in DISMISS_REASONS:
            raise UserError(f"reason {reason!r}: must be one of {', '.join(DISMISS_REASONS)}")
        with self.store.transaction():
            item = self._load(item_id)
            self._require(item, OPEN_STATES, "dismiss it")
            permissions.check(self.store, actor, "dismiss", item)
            values: dict[str, Any] = {"state": "dismissed", "dismiss_reason": reason, "resolved_at": iso(now),
                                      "snoozed_until": None, "snoozed_from": None}
            self._leave_waiting(item, now, values)
            self._update(item_id, now, **values)
            add_event(self.store, item_id, actor, "dismissed", {"from": item["state"], "reason": reason}, now)
            if note:
                self._note(item_id, actor, note, now)
        return self.get(item_id)

    def snooze(self, item_id: int, actor: str, until: datetime | None = None, *,
               now: datetime | None = None) -> QueueItem:
        """Hide the item until a time (default: [queue] snooze_minutes from now); it comes back by itself."""
        now = now or utcnow()
        until = until or now + timedelta(minutes=self.config.snooze_minutes)
        if until <= now:
            raise UserError(f"snooze until {iso(until)}: that time has passed; give a time in the future")
        if until - now > timedelta(days=MAX_SNOOZE_DAYS):
            raise UserError(f"snooze until {iso(until)}: at most {MAX_SNOOZE_DAYS} days ahead; dismiss the item "
                            f"if it needs no work")
        with self.store.transaction():
            item = self._load(item_id)
            self._require(item, OPEN_STATES, "snooze it")
            permissions.check(self.store, actor, "snooze", item)
            back_to = item["snoozed_from"] if item["state"] == "snoozed" else item["state"]
            values: dict[str, Any] = {"state": "snoozed", "snoozed_until": iso(until), "snoozed_from": back_to}
            self._update(item_id, now, **values)
            add_event(self.store, item_id, actor, "snoozed", {"from": item["state"], "until": iso(until)}, now)
        return self.get(item_id)

    def wake(self, item_id: int, actor: str, *, now: datetime | None = None) -> QueueItem:
        """End a snooze now: the item returns to the state it had."""
        now = now or utcnow()
        with self.store.transaction():
            item = self._load(item_id)
            self._require(item, ("snoozed",), "wake it")
            permissions.check(self.store, actor, "wake", item)
            back_to = item["snoozed_from"] or ("claimed" if item["assignee"] else "new")
            self._update(item_id, now, state=back_to, snoozed_until=None, snoozed_from=None)
            add_event(self.store, item_id, actor, "woke", {"to": back_to}, now)
        return self.get(item_id)

    def reopen(self, item_id: int, actor: str, *, reason: str | None = None,
               now: datetime | None = None) -> QueueItem:
        """Bring a resolved or dismissed item back (to its assignee, or to the queue)."""
        now = now or utcnow()
        with self.store.transaction():
            item = self._load(item_id)
            if item["state"] not in CLOSED_STATES:
                raise UserError(f"queue item {item_id} is {item['state']}: only resolved or dismissed items "
                                f"can be reopened")
            permissions.check(self.store, actor, "reopen", item)
            _reopen_row(self.store, self.hours, self.config, item, actor, now, {"why": reason or "reopened"})
        return self.get(item_id)

    def note(self, item_id: int, actor: str, text: str, *, now: datetime | None = None) -> QueueItem:
        """Add an internal note (never sent to the customer)."""
        now = now or utcnow()
        with self.store.transaction():
            permissions.check(self.store, actor, "note", self._load(item_id))
            self._note(item_id, actor, text, now)
        return self.get(item_id)

    def _note(self, item_id: int, actor: str, text: str, now: datetime) -> None:
        text = text.strip()
        if not text:
            raise UserError("note: must not be empty")
        if len(text) > MAX_NOTE:
            raise UserError(f"note: {len(text):,} characters; keep it under {MAX_NOTE:,}")
        self._update(item_id, now)
        add_event(self.store, item_id, actor, "note", {"text": text}, now)

    def tag(self, item_id: int, actor: str, add: list[str] = (), remove: list[str] = (),  # type: ignore[assignment]
            *, now: datetime | None = None) -> QueueItem:
        """Add and remove tags (lower case, no spaces)."""
        now = now or utcnow()
        clean_add = [_clean_tag(t) for t in add]
        clean_remove = [_clean_tag(t) for t in remove]
        with self.store.transaction():
            item = self._load(item_id)
            permissions.check(self.store, actor, "tag", item)
            tags = json.loads(item["tags"] or "[]")
            new_tags = sorted((set(tags) | set(clean_add)) - set(clean_remove))
            if new_tags != sorted(tags):
                self._update(item_id, now, tags=json.dumps(new_tags))
                add_event(self.store, item_id, actor, "tags",
                          {"added": sorted(set(new_tags) - set(tags)), "removed": sorted(set(tags) - set(new_tags))},
                          now)
        return self.get(item_id)

    def relabel(self, item_id: int, mention_id: int, label: str, actor: str, *,
                now: datetime | None = None) -> QueueItem:
        """Correct a mention's sentiment (feeds the learning loop) and record it on the item."""
        now = now or utcnow()
        item = self._load(item_id)
        permissions.check(self.store, actor, "relabel", item)
        _check_id(mention_id, "mention")
        row = self.store.query("SELECT thread_key, label FROM mentions WHERE id = ?", (mention_id,))
        if not row or row[0]["thread_key"] != item["thread_key"]:
            raise UserError(f"mention {mention_id}: not in queue item {item_id}'s thread")
        with self.store.transaction():
            labels.relabel(self.store, mention_id, label, actor)
            add_event(self.store, item_id, actor, "relabel",
                      {"mention_id": mention_id, "from": row[0]["label"], "to": label}, now)
        return self.get(item_id)

    # ------------------------------------------------------------ the clock
    def tick(self, app_config: Any = None, now: datetime | None = None,
             send_alert: Callable[[Store, Any, Alert], int] | None = None) -> TickReport:
        """Wake snoozes that are due, raise SLA breach alerts once each, and update recovery.

        `app_config` (the whole Config) and `send_alert` (alerts.rules.enqueue_system_alert) route the
        breach alerts; without them breaches are only recorded as events. The app layer passes the rules'
        function in: the rules open queue items, so the queue does not import them.
        """
        if app_config is not None and send_alert is None:
            raise TypeError("Queue.tick(app_config) needs send_alert to route breach alerts")
        now = now or utcnow()
        report = TickReport()
        report.sla_restarted = self._restart_old_clocks(now)
        for (item_id,) in self.store.conn.execute(
                "SELECT id FROM queue_items WHERE state = 'snoozed' AND snoozed_until <= ?", (iso(now),)).fetchall():
            self.wake(item_id, SYSTEM_ACTOR, now=now)
            report.woken += 1
        report.breaches, report.alerts, report.summarised = self._breaches(app_config, now, send_alert)
        report.recovery_updates = self._recovery(now)
        return report

    def _restart_old_clocks(self, now: datetime, chunk: int = 500) -> int:
        """Items queued before SLA-from-post (migration 200) get their clock start worked out once.

        Open items count again from [queue] sla_starts (so an old complaint shows as overdue); the
        resolution due time keeps any time it was moved on by waiting or a reopen. Closed items keep
        the due times they were judged by (their record does not change after the fact) and are marked
        as having counted from queueing, which is what they did.
        """
        done = 0
        while True:
            rows = self.store.query(
                "SELECT * FROM queue_items WHERE sla_started_at IS NULL ORDER BY id LIMIT ?", (chunk,))
            if not rows:
                return done
            with self.store.transaction():
                for row in rows:
                    done += self._restart_clock(row, now)

    def _restart_clock(self, row: dict[str, Any], now: datetime) -> int:
        queued = parse_iso(row["created_at"])
        post = customer_post_at(self.store, row["thread_key"])
        post_at = iso(post) if post else None
        if row["state"] in CLOSED_STATES:
            self.store.conn.execute("UPDATE queue_items SET sla_started_at = ?, sla_basis = 'queued', post_at = ? "
                                    "WHERE id = ?", (row["created_at"], post_at, row["id"]))
            return 0
        start = sla_start(self.store, row["thread_key"], self.config, queued)
        values: dict[str, Any] = {"sla_started_at": iso(start.at), "sla_basis": start.basis, "post_at": post_at}
        limits = self.config.sla.get(row["priority"])
        if limits is not None and start.at != queued:
            if row["first_response_at"] is None:
                values["first_response_due"] = iso(self.hours.add(start.at, limits.first_response_minutes))
            if row["resolution_due"] and not row["reopened"]:
                old = parse_iso(row["resolution_due"])
                moved_on = max(0.0, self.hours.between(queued, old) - limits.resolution_minutes)
                values["resolution_due"] = iso(self.hours.add(start.at, limits.resolution_minutes + moved_on))
        sets = ", ".join(f"{k} = ?" for k in values)
        self.store.conn.execute(f"UPDATE queue_items SET {sets} WHERE id = ?", (*values.values(), row["id"]))
        if start.at != queued:
            add_event(self.store, row["id"], SYSTEM_ACTOR, "sla_restarted",
                      {"basis": start.basis, "started_at": iso(start.at),
                       "first_response_due": values.get("first_response_due", row["first_response_due"]),
                       "was": row["first_response_due"]}, now)
            return 1
        return 0

    def _breaches(self, app_config: Any, now: datetime,
                  send_alert: Callable[[Store, Any, Alert], int] | None = None) -> tuple[int, int, int]:
        """Record each new breach once (an event) and alert on it: one alert per breach for up to
        [queue] breach_alerts_per_tick of them, ONE summary alert for the rest and for items that were
        already overdue when they were queued (an import of old posts must not page anyone 500 times)."""
        candidates = self.store.query(
            "SELECT * FROM queue_items WHERE state NOT IN ('resolved', 'dismissed') AND ("
            "(first_response_at IS NULL AND first_response_due < ?) OR "
            "(state != 'waiting' AND resolution_due < ?)) ORDER BY id", (iso(now), iso(now)))
        fresh: list[tuple[dict[str, Any], str, str]] = []
        seen = self._breaches_seen([row["id"] for row in candidates])
        for row in candidates:
            targets = []
            if row["first_response_at"] is None and row["first_response_due"] and row["first_response_due"] < iso(now):
                targets.append(("first_response", row["first_response_due"]))
            if row["state"] != "waiting" and row["resolution_due"] and row["resolution_due"] < iso(now):
                targets.append(("resolution", row["resolution_due"]))
            for target, due in targets:
                if (row["id"], target, row["reopened"]) not in seen:
                    fresh.append((row, target, due))
        limit = self.config.breach_alerts_per_tick
        # Born overdue: due before the item was even queued (an old post imported late).
        born_late = [f for f in fresh if f[2] <= f[0]["created_at"]]
        if len(fresh) <= limit:
            single, summary = fresh, []
        else:
            # A storm: the breaches that happened while the item sat in the queue, most recent first,
            # alert one by one (the ones a person may still save); the rest, and every item that came
            # in already overdue, go into one summary.
            in_queue = sorted((f for f in fresh if f[2] > f[0]["created_at"]), key=lambda f: (f[2], f[0]["id"]),
                              reverse=True)
            single = sorted(in_queue[:limit], key=lambda f: f[0]["id"])
            chosen = {(f[0]["id"], f[1]) for f in single}
            summary = [f for f in fresh if (f[0]["id"], f[1]) not in chosen]
        alerts = 0
        for row, target, due in single:
            # The event and the alert commit together: a crash cannot record one without the other.
            with self.store.transaction():
                add_event(self.store, row["id"], SYSTEM_ACTOR, "sla_breach",
                          {"target": target, "due": due, "round": row["reopened"], "assignee": row["assignee"]},
                          now)
                if app_config is not None and send_alert is not None:
                    alerts += _raise_breach_alert(self.store, app_config, QueueItem.from_row(row), target, due, now,
                                                  send_alert)
        if summary:
            with self.store.transaction():
                for row, target, due in summary:
                    add_event(self.store, row["id"], SYSTEM_ACTOR, "sla_breach",
                              {"target": target, "due": due, "round": row["reopened"], "assignee": row["assignee"],
                               "summarised": True, "overdue_when_queued": due <= row["created_at"]}, now)
                if app_config is not None and send_alert is not None:
                    alerts += _raise_breach_summary(self.store, app_config, summary, len(born_late), now, send_alert)
        return len(fresh), alerts, len(summary)

    def _breaches_seen(self, item_ids: list[int], chunk: int = 500) -> set[tuple[int, str, int]]:
        """(item, target, round) of every breach already recorded for these items: one query per chunk
        instead of one per item and target (thousands of overdue items made each tick take seconds)."""
        seen: set[tuple[int, str, int]] = set()
        for start in range(0, len(item_ids), chunk):
            part = item_ids[start:start + chunk]
            marks = ", ".join("?" for _ in part)
            for item_id, detail in self.store.conn.execute(
                    f"SELECT item_id, detail FROM queue_events WHERE action = 'sla_breach' AND item_id IN ({marks})",
                    part):
                d = json.loads(detail or "{}")
                seen.add((item_id, d.get("target"), d.get("round")))
        return seen

    def _recovery(self, now: datetime) -> int:
        window = timedelta(days=self.config.recovery_days)
        rows = self.store.query(
            "SELECT * FROM queue_items WHERE state = 'resolved' AND recovery IS NOT NULL AND recovery != ? "
            "AND (recovery = ? OR resolved_at >= ?)", (SILENT, RECOVERY_WATCHING, iso(now - window)))
        changed = 0
        for row in rows:
            latest = None
            if row["author"]:
                latest = self.store.query(
                    "SELECT id, label, created_at FROM mentions WHERE source = ? AND author = ? AND brand IS ? "
                    "AND is_brand_account = 0 AND label IS NOT NULL AND created_at > ? AND created_at <= ? "
                    "ORDER BY created_at DESC, id DESC LIMIT 1",
                    (row["source"], row["author"], row["brand"], row["resolved_at"],
                     iso(parse_iso(row["resolved_at"]) + window)))
            if latest:
                verdict = STILL_UNHAPPY if latest[0]["label"] == "negative" else RECOVERED
                detail = {"mention_id": latest[0]["id"], "label": latest[0]["label"]}
            elif parse_iso(row["resolved_at"]) + window <= now:
                verdict, detail = SILENT, {"days": self.config.recovery_days}
            else:
                continue
            if verdict != row["recovery"]:
                with self.store.transaction():
                    self._update(row["id"], now, recovery=verdict, recovery_at=iso(now))
                    add_event(self.store, row["id"], SYSTEM_ACTOR, "recovery",
                              {"from": row["recovery"], "to": verdict, **detail}, now)
                changed += 1
        return changed


def _clean_tag(tag: str) -> str:
    cleaned = "-".join(tag.strip().lower().split())
    if not cleaned or len(cleaned) > 40:
        raise UserError(f"tag {tag!r}: must be 1 to 40 characters")
    return cleaned


def _raise_breach_alert(store: Store, config: Any, item: QueueItem, target: str, due: str, now: datetime,
                        send_alert: Callable[[Store, Any, Alert], int]) -> int:

    thread = store.query("SELECT title, url FROM threads WHERE thread_key = ?", (item.thread_key,))
    mentions = store.query(
        "SELECT author, author_followers, text, url, label, created_at FROM mentions WHERE thread_key = ? "
        "AND is_brand_account = 0 ORDER BY compound, created_at LIMIT 3", (item.thread_key,))
    what = target.replace("_", " ")
    who = f"assigned to {item.assignee}" if item.assignee else "nobody has claimed it"
    suffix = f"#{item.reopened}" if item.reopened else ""
    alert = Alert(
        kind="sla", rule="sla", level=f"sla-{target.replace('_', '-')}",
        brand=item.brand, source=item.source, thread_key=f"queue-item:{item.id}{suffix}",
        title=f"SLA breached: {what} on queue item {item.id} ({item.priority} priority)",
        risk=item.risk, reasons=[f"{what} was due {due}", who, f"state: {item.state}"],
        url=thread[0]["url"] if thread else None,
        queue_url=f"{config.alerts.queue_url.rstrip('/')}/items/{item.id}",
        mentions=[AlertMention(author=m["author"], followers=m["author_followers"], text=m["text"], url=m["url"],
                               label=m["label"], created_at=m["created_at"]) for m in mentions],
        created_at=iso(now),
    )
    return send_alert(store, config, alert)


def _raise_breach_summary(store: Store, config: Any, breaches: list[tuple[dict[str, Any], str, str]],
                         born_late: int, now: datetime, send_alert: Callable[[Store, Any, Alert], int]) -> int:

    items = sorted({row["id"] for row, _, _ in breaches})
    brands = sorted({row["brand"] or "" for row, _, _ in breaches} - {""})
    worst = sorted(breaches, key=lambda f: (PRIORITIES.index(f[0]["priority"]) if f[0]["priority"] in PRIORITIES
                                            else 9, f[2]))[:5]
    reasons = [f"{len(breaches)} SLA targets overdue on {len(items)} queue items"]
    if born_late:
        reasons.append(f"{born_late} were already overdue when they were queued (old posts imported late)")
    reasons += [f"#{row['id']} {row['priority']}: {target.replace('_', ' ')} was due {due}"
                for row, target, due in worst]
    base = config.alerts.queue_url.rstrip("/")
    alert = Alert(
        kind="sla", rule="sla", level="sla-summary", brand=brands[0] if len(brands) == 1 else None, source=None,
        # one summary per tick: its time names it, so a restart that re-runs the tick cannot send it twice
        # (the breach events it covers commit in the same transaction and are not picked up again)
        thread_key=f"queue-sla-summary:{iso(now)}",
        title=f"SLA: {len(items)} queue items overdue at once (one summary instead of {len(breaches)} alerts)",
        risk=max(row["risk"] for row, _, _ in breaches), reasons=reasons, url=None,
        queue_url=f"{base}/?sort=sla", mentions=[], created_at=iso(now),
    )
    return send_alert(store, config, alert)


_ITEM_SELECT = """
SELECT q.*, t.title AS title, t.url AS url, t.mentions AS mentions, t.negative AS negative, t.reach AS reach,
       t.last_at AS last_at, t.reasons AS reasons,
       (SELECT substr(m.text, 1, 160) FROM mentions m WHERE m.thread_key = q.thread_key AND m.is_brand_account = 0
        ORDER BY m.created_at, m.id LIMIT 1) AS snippet
FROM queue_items q LEFT JOIN threads t ON t.thread_key = q.thread_key
"""

_NEXT_DUE = ("CASE WHEN q.state IN ('resolved', 'dismissed') THEN '9999' "
             "WHEN q.state = 'snoozed' THEN '9998' "
             "WHEN q.first_response_at IS NULL THEN COALESCE(q.first_response_due, q.resolution_due, '9997') "
             "ELSE COALESCE(q.resolution_due, '9997') END")
_PRIORITY_RANK = "CASE q.priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END"
_ORDER = {
    "sla": f"{_NEXT_DUE}, {_PRIORITY_RANK}, q.risk DESC, q.id",
    "risk": "q.risk DESC, q.id",
    "newest": "q.created_at DESC, q.id DESC",
    "oldest": "q.created_at, q.id",
}


def _filter_sql(flt: ItemFilter) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if flt.state == "open":
        where.append("q.state IN ('new', 'claimed', 'waiting', 'replied')")
    elif flt.state != "all":
        if flt.state not in STATES:
            raise UserError(f"state {flt.state!r}: must be one of open, all, {', '.join(STATES)}")
        where.append("q.state = ?")
        params.append(flt.state)
    for column, value in (("q.brand", flt.brand), ("q.source", flt.source), ("q.priority", flt.priority)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.assignee:
        if flt.assignee == "none":
            where.append("q.assignee IS NULL")
        else:
            where.append("q.assignee = ?")
            params.append(flt.assignee)
    if flt.theme:
        where.append("EXISTS (SELECT 1 FROM mentions m, json_each(m.themes) j "
                     "WHERE m.thread_key = q.thread_key AND j.value = ?)")
        params.append(flt.theme)
    if flt.lang:
        where.append("EXISTS (SELECT 1 FROM mentions m WHERE m.thread_key = q.thread_key AND m.lang = ?)")
        params.append(flt.lang)
    if flt.search and fts_query(flt.search):
        # queue_fts indexes only the mentions of queued threads (migration 100): a common word matches a
        # few thousand of them instead of half the history. The matching row ids are collected once and
        # each candidate item checks its own thread's mentions against them.
        where.append("EXISTS (SELECT 1 FROM mentions m WHERE m.thread_key = q.thread_key "
                     "AND m.id IN (SELECT rowid FROM queue_fts WHERE queue_fts MATCH ?))")
        params.append(fts_query(flt.search))
    return " AND ".join(where) or "1", params


def filter_choices(store: Store) -> dict[str, list[str]]:
    """The values the list filters offer: what occurs in the queue."""
    def distinct(sql: str) -> list[str]:
        return [r[0] for r in store.conn.execute(sql) if r[0]]

    # CROSS JOIN keeps queue_items the outer loop: SQLite would otherwise scan every mention stored
    # and look each up in the queue (a full table scan per page view with a big history).
    return {
        "brand": distinct("SELECT DISTINCT brand FROM queue_items ORDER BY 1"),
        "source": distinct("SELECT DISTINCT source FROM queue_items ORDER BY 1"),
        "assignee": distinct("SELECT DISTINCT assignee FROM queue_items ORDER BY 1"),
        "theme": distinct("SELECT DISTINCT j.value FROM queue_items q CROSS JOIN mentions m "
                          "ON m.thread_key = q.thread_key, json_each(m.themes) j ORDER BY 1"),
        "lang": distinct("SELECT DISTINCT m.lang FROM queue_items q CROSS JOIN mentions m "
                         "ON m.thread_key = q.thread_key ORDER BY 1"),
    }


def describe_reply_event(detail: dict[str, Any], action: str) -> str | None:
    """Audit-trail lines of the reply events (alerts.replies.send writes them; describe_event asks here
    first). Kept with the queue's other event lines so the queue needs nothing from the replies."""
    if action == "reply_posted":
        by = f" (approved by {detail['approved_by']})" if detail.get("approved_by") else ""
        return f"replied on {detail.get('platform')}{by}: “{detail.get('text', '')}”"
    if action == "reply_failed":
        return f"reply {detail.get('reply_id')} refused by {detail.get('platform')}: {detail.get('reason')}"
    if action == "reply_unsure":
        return f"reply {detail.get('reply_id')} may have been posted: {detail.get('reason')}"
    if action == "reply_awaiting_approval":
        return f"wrote reply {detail.get('reply_id')}, waiting for approval: “{detail.get('text', '')}”"
    if action == "reply_approved":
        return f"approved reply {detail.get('reply_id')} by {detail.get('author')}"
    if action == "reply_rejected":
        why = f": {detail['reason']}" if detail.get("reason") else ""
        return f"rejected reply {detail.get('reply_id')} by {detail.get('author')}{why}"
    if action == "reply_retried":
        return f"retried reply {detail.get('retry_of')} (as reply {detail.get('reply_id')})"
    return None


def describe_event(event: dict[str, Any]) -> str:
    """One line a person reads in the audit trail."""
    d = event["detail"]
    a = event["action"]
    if a.startswith("reply_"):
        line = describe_reply_event(d, a)
        if line is not None:
            return line
    if a == "created":
        return f"opened (risk {d.get('risk', 0):.0f}, {d.get('priority')} priority)"
    if a == "priority":
        return f"priority {d.get('from')} → {d.get('to')} (risk {d.get('risk', 0):.0f})"
    if a == "claimed":
        return "claimed" + (f" (was {d['from']})" if d.get("from") else "")
    if a == "assigned":
        return (f"assigned to {d.get('assignee')}" + (f" by rule {d['rule']}" if d.get("rule") else "")
                + (f" (was {d['from']})" if d.get("from") else ""))
    if a == "routing":
        return f"rule {d.get('rule')} matched, but none of its agents was online: left unassigned"
    if a == "unassigned":
        return f"unassigned (was {d.get('from')})"
    if a == "replied":
        return "marked replied"
    if a == "waiting":
        return "waiting on customer"
    if a == "resolved":
        return f"resolved: {OUTCOMES.get(d.get('outcome', ''), d.get('outcome'))}"
    if a == "dismissed":
        return f"dismissed: {DISMISS_REASONS.get(d.get('reason', ''), d.get('reason'))}"
    if a == "snoozed":
        return f"snoozed until {d.get('until')}"
    if a == "woke":
        return f"snooze ended, back to {d.get('to')}"
    if a == "reopened":
        return f"reopened: {d.get('why')}"
    if a == "note":
        return "note: " + d.get("text", "")
    if a == "tags":
        parts = [f"+{t}" for t in d.get("added", [])] + [f"-{t}" for t in d.get("removed", [])]
        return "tags " + " ".join(parts)
    if a == "relabel":
        return f"mention {d.get('mention_id')} re-labelled {d.get('from')} → {d.get('to')}"
    if a == "sla_breach":
        return (f"SLA breached: {str(d.get('target', '')).replace('_', ' ')} (was due {d.get('due')})"
                + ("; in the summary alert" if d.get("summarised") else ""))
    if a == "sla_restarted":
        return f"SLA clock now counts from the customer's post at {d.get('started_at')}"
    if a == "recovery":
        return f"author {d.get('to')}" + (f" (mention {d['mention_id']})" if d.get("mention_id") else "")
    return a
