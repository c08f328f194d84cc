"""Noise control, modelled on Alertmanager: silences, severity levels, grouping, cooldown,
quiet hours and a per-receiver hourly cap.

Decisions taken when an alert is written to the outbox (enqueue time):
  - silenced?                    → not written (an author, keyword, thread, brand or source is muted)
  - not above the level already sent to that receiver for the thread? → not written
  - group wait / group interval / cooldown → written with `next_attempt_at` in the future (a hold)
Decisions taken when the outbox delivers (send time, in alerts.outbox):
  - quiet hours → held until they end, then sent as one digest
  - hourly cap reached → held until a slot frees, then the overflow is sent as one digest
  - several alerts of one group due together → one message (a digest), or the highest level of a thread
Everything lives in the store, so a restart keeps every hold and silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from listener.config import QuietHours, RuleConfig
from listener.errors import UserError
from listener.models import iso, parse_iso, utcnow
from listener.store import Store

MATCHERS = ("author", "keyword", "thread", "brand", "source")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# ------------------------------------------------------------------ silences
@dataclass
class Silence:
    id: int
    matcher: str
    value: str
    starts_at: str
    ends_at: str
    created_by: str
    comment: str
    created_at: str

    def active(self, now: datetime) -> bool:
        return parse_iso(self.starts_at) <= now < parse_iso(self.ends_at)


def parse_duration(text: str) -> timedelta:
    """'90m', '2h', '3d', '1w' -> timedelta; UserError naming the value otherwise."""
    m = _DURATION.match(text or "")
    if not m:
        raise UserError(f"{text!r} is not a duration; use a number with m, h, d or w, e.g. 2h or 14d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_until(text: str, now: datetime | None = None) -> datetime:
    """A duration from now ('2h', '3d') or a time ('2026-12-01', '2026-12-01T09:00', with or without Z)."""
    now = now or utcnow()
    if _DURATION.match(text or ""):
        return now + parse_duration(text)
    try:
        return parse_iso(text.strip())
    except ValueError:
        raise UserError(f"{text!r} is neither a duration (2h, 3d) nor a date/time (2026-12-01T09:00Z)") from None


def _normal(matcher: str, value: str) -> str:
    value = value.strip()
    return value.lstrip("@").lower() if matcher == "author" else value.lower() if matcher == "keyword" else value


def add_silence(store: Store, matcher: str, value: str, until: datetime, created_by: str = "cli",
                comment: str = "", now: datetime | None = None) -> Silence:
    """Mute alerts matching `matcher=value` until `until`. Stored, so every process sees it."""
    now = now or utcnow()
    if matcher not in MATCHERS:
        raise UserError(f"unknown silence matcher {matcher!r}; use one of {', '.join(MATCHERS)}")
    value = _normal(matcher, value)
    if not value:
        raise UserError(f"a {matcher} silence needs a value")
    if until <= now:
        raise UserError(f"the silence would end at {iso(until)}, which is not in the future")
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO silences (matcher, value, starts_at, ends_at, created_by, comment, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (matcher, value, iso(now), iso(until), created_by, comment, iso(now)),
        )
    return get_silence(store, int(cur.lastrowid))


def get_silence(store: Store, silence_id: int) -> Silence:
    rows = store.query("SELECT * FROM silences WHERE id = ?", (silence_id,))
    if not rows:
        raise UserError(f"no silence with id {silence_id}")
    return Silence(**rows[0])


def list_silences(store: Store, now: datetime | None = None, include_expired: bool = False) -> list[Silence]:
    now = now or utcnow()
    sql = "SELECT * FROM silences" + ("" if include_expired else " WHERE ends_at > ?") + " ORDER BY ends_at"
    return [Silence(**r) for r in store.query(sql, () if include_expired else (iso(now),))]


def expire_silence(store: Store, silence_id: int, now: datetime | None = None) -> Silence:
    """End a silence now (kept for the record)."""
    now = now or utcnow()
    silence = get_silence(store, silence_id)
    with store.transaction() as conn:
        conn.execute("UPDATE silences SET ends_at = MIN(ends_at, ?) WHERE id = ?", (iso(now), silence_id))
    return get_silence(store, silence.id)


@dataclass
class AlertSubject:
    """What silences are matched against: the alert's labels and its thread's mentions."""

    brand: str | None
    source: str | None
    thread_key: str | None
    authors: set[str]  # customer authors in the thread, normalised
    texts: list[str]  # titles and texts, lowercased


def subject_from(brand: str | None, source: str | None, thread_key: str | None,
                 mentions: list[dict[str, Any]], title: str = "") -> AlertSubject:
    authors = {_normal("author", m["author"]) for m in mentions if m.get("author")}
    texts = [((m.get("title") or "") + " " + (m.get("text") or "")).lower() for m in mentions]
    if title:
        texts.append(title.lower())
    return AlertSubject(brand, source, thread_key, authors, texts)


def silenced_by(silences: list[Silence], subject: AlertSubject, now: datetime) -> Silence | None:
    """The first active silence that mutes this alert, or None.

    An author silence mutes a thread only when every customer in it is a silenced author, so a
    pile-on under a muted account's post still alerts.
    """
    active = [s for s in silences if s.active(now)]
    muted_authors = {s.value for s in active if s.matcher == "author"}
    for s in active:
        if s.matcher == "author" and subject.authors and subject.authors <= muted_authors:
            return s
        if s.matcher == "keyword" and any(s.value in t for t in subject.texts):
            return s
        if s.matcher == "thread" and subject.thread_key == s.value:
            return s
        if s.matcher == "brand" and (subject.brand or "").lower() == s.value.lower():
            return s
        if s.matcher == "source" and (subject.source or "").lower() == s.value.lower():
            return s
    return None


# ------------------------------------------------------------------ levels
def level_rank(levels: dict[str, float]) -> dict[str, int]:
    """Level name -> rank, lowest threshold first (warning 0, critical 1)."""
    return {name: i for i, name in enumerate(sorted(levels, key=lambda n: levels[n]))}


@dataclass
class Decision:
    send: bool
    previous_level: str | None = None
    key_suffix: str = ""  # "#r2": the second repeat of a level (repeat_interval)
    why: str = ""


def decide_level(store: Store, thread_key: str | None, receiver: str, level: str, levels: dict[str, float],
                 rule: RuleConfig, last_mention_at: str | None, now: datetime,
                 rules: set[str] | None = None) -> Decision:
    """Re-alert a thread on a receiver only when it crosses a higher level than any sent there before
    (by any of `rules`), or when `repeat_interval_hours` passed at the same level with new mentions since."""
    rank = level_rank(levels)
    if not thread_key or level not in rank:
        # A level outside [alerts.levels] (e.g. the queue's "sla-resolution") is its own kind of alert:
        # only its idempotency key stops a repeat.
        return Decision(True)
    prior = [r for r in store.query(
        "SELECT level, created_at, rule FROM outbox WHERE receiver = ? AND thread_key = ? ORDER BY id",
        (receiver, thread_key),
    ) if (rules is None or r["rule"] in rules) and r["level"] in rank]
    if not prior:
        return Decision(True)
    top = max(prior, key=lambda r: rank.get(r["level"], -1))
    mine = rank.get(level, -1)
    top_rank = rank.get(top["level"], -1)
    if mine > top_rank:
        return Decision(True, previous_level=top["level"])
    if mine == top_rank and rule.repeat_interval_hours:
        last = max(parse_iso(r["created_at"]) for r in prior)
        fresh = last_mention_at is not None and parse_iso(last_mention_at) > last
        if fresh and now - last >= timedelta(hours=rule.repeat_interval_hours):
            same = sum(1 for r in prior if r["level"] == level)
            return Decision(True, key_suffix=f"#r{same + 1}", why="repeat")
    return Decision(False, why=f"already alerted at {top['level']}")


# ------------------------------------------------------------------ grouping and holds
def group_key(rule: RuleConfig, labels: dict[str, str | None]) -> str:
    """`rule|brand=Brightwave|…`: alerts with the same key are sent together."""
    parts = [rule.name] + [f"{label}={labels.get(label) or '-'}" for label in rule.group_by]
    return "|".join(parts)


def hold_until(store: Store, rule: RuleConfig, receiver: str, group: str, thread_key: str | None,
               now: datetime) -> tuple[datetime | None, str | None]:
    """When a new alert may go out: after the group's wait or interval and the thread's cooldown."""
    holds: list[tuple[datetime, str]] = []
    # The earliest pending alert of the group, read in the order of the outbox_group_pending index
    # (receiver, group_key, due time; pending rows only): a seek, not a scan of every row of the group.
    # A MIN() over the same rows read every pending row of the receiver per new alert, and a 100k
    # import spent 15 minutes here.
    pending = store.scalar(
        "SELECT COALESCE(next_attempt_at, created_at) FROM outbox INDEXED BY outbox_group_pending "
        "WHERE receiver = ? AND group_key = ? AND delivered_at IS NULL AND attempts < 12 "
        "AND (hold IS NULL OR hold = 'group') ORDER BY COALESCE(next_attempt_at, created_at) LIMIT 1",
        (receiver, group),
    )
    if pending:  # join the group's next flush (not a quiet-hours or cap hold: those have their own rules)
        holds.append((parse_iso(pending), "group"))
    else:
        last = store.scalar("SELECT MAX(at) FROM alert_sends WHERE receiver = ? AND group_key = ?", (receiver, group))
        if last is None and rule.group_wait_seconds:
            holds.append((now + timedelta(seconds=rule.group_wait_seconds), "group"))
        elif last is not None and rule.group_interval_minutes:
            holds.append((parse_iso(last) + timedelta(minutes=rule.group_interval_minutes), "group"))
    if rule.cooldown_minutes and thread_key:
        last_thread = store.scalar(
            "SELECT MAX(delivered_at) FROM outbox WHERE receiver = ? AND thread_key = ? AND delivered_at IS NOT NULL",
            (receiver, thread_key),
        )
        if last_thread:
            holds.append((parse_iso(last_thread) + timedelta(minutes=rule.cooldown_minutes), "cooldown"))
    if not holds:
        return None, None
    at, why = max(holds)
    return (at, why) if at > now else (None, None)


# ------------------------------------------------------------------ quiet hours and caps
def _hm(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


def quiet_until(quiet: QuietHours | None, now: datetime) -> datetime | None:
    """The end of the quiet period `now` falls in (UTC), or None when it is not quiet."""
    if quiet is None:
        return None
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    start, end = _hm(quiet.start), _hm(quiet.end)
    if start == end:
        return None
    t = local.time().replace(second=0, microsecond=0)
    overnight = start > end
    inside = (t >= start or t < end) if overnight else (start <= t < end)
    if not inside:
        return None
    end_day = local.date()
    if overnight and t >= start:
        end_day = end_day + timedelta(days=1)
    end_local = datetime.combine(end_day, end, tzinfo=zone)
    return end_local.astimezone(now.tzinfo or ZoneInfo("UTC"))


def sends_in_last_hour(store: Store, receiver: str, now: datetime) -> list[str]:
    """When this receiver was sent a message in the hour before `now`, oldest first."""
    return [r[0] for r in store.conn.execute(
        "SELECT at FROM alert_sends WHERE receiver = ? AND at > ? AND at <= ? ORDER BY at",
        (receiver, iso(now - timedelta(hours=1)), iso(now)),
    )]
