"""Alert rules: which threads alert, at what level, to which receivers. Writes to the outbox only.

A rule is a route (Alertmanager's word): it matches on brand, source, language, theme, risk and
reach, and sends to its receivers. Before an alert is written, noise control (alerts.noise) drops
what is silenced or not louder than what the receiver already has, and holds what must wait.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts import noise, outbox, queue
from alerts.message import Alert, AlertMention
from alerts.spikes import check_spikes
from listener.config import Config, RuleConfig
from listener.models import iso, utcnow
from listener.quarantine import NOT_THE_ROW, describe, quarantine_thread
from listener.store import Store
from listener.threads import claim_alert_checks, complaints_before, set_level

TOP_MENTIONS = 3


@dataclass
class EvaluationReport:
    threads_checked: int = 0
    alerts_enqueued: int = 0
    queue_items_created: int = 0
    silenced: int = 0  # alerts a silence muted
    not_louder: int = 0  # alerts dropped because the receiver already had this level or higher
    held: int = 0  # alerts written with a hold (group wait/interval, cooldown)
    spikes: int = 0  # spike alerts raised


def default_rules(config: Config) -> list[RuleConfig]:
    """With no [[alerts.rules]], every own-brand thread at the lowest level goes to every receiver."""
    receivers = [r.name for r in config.receivers if getattr(r, "enabled", True)]
    if not receivers:
        return []
    return [RuleConfig(name="negative-threads", min_risk=min(config.alerts.levels.values(), default=50),
                       receivers=receivers, kinds=["thread", "spike", "sla", "health"])]


def active_rules(config: Config) -> list[RuleConfig]:
    return list(config.alerts.rules) or default_rules(config)


def level_for(risk: float, levels: dict[str, float]) -> str | None:
    reached = [(threshold, name) for name, threshold in levels.items() if risk >= threshold]
    return max(reached)[1] if reached else None


def rule_matches(rule: RuleConfig, thread: dict[str, Any], langs: set[str], themes: set[str],
                 level: str | None = None, levels: dict[str, float] | None = None) -> bool:
    if rule.brands and thread["brand"] not in rule.brands:
        return False
    if rule.sources and thread["source"] not in rule.sources:
        return False
    if rule.languages and not (langs & set(rule.languages)):
        return False
    if rule.themes and not (themes & set(rule.themes)):
        return False
    if rule.min_level and levels and level and levels.get(level, 0) < levels.get(rule.min_level, 0):
        return False
    return thread["risk"] >= rule.min_risk and thread["reach"] >= rule.min_reach


def evaluate_pending(store: Store, config: Config, now: datetime | None = None) -> EvaluationReport:
    """Check every thread the rollup marked; enqueue alerts and open queue items for flagged ones.
    Then look for negative spikes per brand."""
    now = now or utcnow()
    report = EvaluationReport()
    rules = active_rules(config)
    own = set(config.brand_names())
    silences = noise.list_silences(store, now)
    while True:
        # oldest conversation first, the same order on every backend
        threads = store.query("SELECT * FROM threads WHERE alert_pending = 1 "
                              "ORDER BY first_at, thread_key LIMIT 500")
        if not threads:
            break
        with store.transaction() as conn:
            # The checks are claimed by clearing the marks, one statement for the chunk: a thread another
            # worker checked since it was read (one that lost its stage lease) is not checked twice.
            claimed = claim_alert_checks(conn, [t["thread_key"] for t in threads])
            mine = [t for t in threads if t["thread_key"] in claimed]
            report.threads_checked += len(mine)
            # Only an own-brand flagged thread writes (its queue item, its alerts): a savepoint each for
            # those, so one thread's failure undoes only its own writes; the others need nothing more.
            alerting = [t for t in mine if t["brand"] in own and t["flagged"]]
            for i in range(0, len(alerting), MENTIONS_CHUNK):
                part = alerting[i:i + MENTIONS_CHUNK]
                mentions_of = _customer_mentions(store, [t["thread_key"] for t in part
                                                         if _may_alert(t, config.alerts.levels)])
                for thread in part:
                    try:
                        with store.savepoint():
                            _evaluate_thread(store, config, thread, rules, own, silences, now, report,
                                             mentions_of.get(thread["thread_key"], []))
                    except NOT_THE_ROW:
                        raise
                    except Exception as exc:
                        # A thread whose stored values break an alert is set aside with why; the others alert.
                        quarantine_thread(conn, thread, "rules", describe(exc))
    report.spikes = check_spikes(store, config, now)
    return report


MENTIONS_CHUNK = 50  # flagged threads whose mentions are read at once (one query; a viral thread's are many)


def _may_alert(thread: dict[str, Any], levels: dict[str, float]) -> bool:
    """Whether the thread reaches an alert level (its mentions are then read). A risk the comparison
    cannot take says yes: _evaluate_thread meets the same error and the thread is set aside there."""
    try:
        return level_for(thread["risk"], levels) is not None
    except Exception:
        return True


def _customer_mentions(store: Store, thread_keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The customer mentions (not set aside) of each thread, oldest first: one query for them all."""
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in thread_keys}
    if thread_keys:
        for m in store.query(
                "SELECT * FROM mentions WHERE thread_key IN (" + ",".join("?" * len(thread_keys)) + ") "
                "AND is_brand_account = 0 AND quarantined IS NULL ORDER BY thread_key, created_at, id", thread_keys):
            out[m["thread_key"]].append(m)
    return out


def _evaluate_thread(store: Store, config: Config, thread: dict[str, Any], rules: list[RuleConfig], own: set[str],
                     silences: list[noise.Silence], now: datetime, report: EvaluationReport,
                     mentions: list[dict[str, Any]] | None = None) -> None:
    """Open the queue item and route the alerts of one thread the rollup marked. `mentions`: its
    customer mentions, oldest first, when the caller read them (else they are read here)."""
    conn = store.conn
    if thread["brand"] not in own or not thread["flagged"]:
        return
    _, created = queue.upsert_for_thread(store, thread, config.queue, now)
    report.queue_items_created += int(created)
    level = level_for(thread["risk"], config.alerts.levels)
    if level is None:
        return
    set_level(conn, thread["thread_key"], level)
    if mentions is None:
        mentions = _customer_mentions(store, [thread["thread_key"]])[thread["thread_key"]]
    langs = {m["lang"] for m in mentions if m["lang"]}
    themes = {t for m in mentions for t in json.loads(m["themes"] or "[]")}
    subject = noise.subject_from(thread["brand"], thread["source"], thread["thread_key"], mentions,
                                 thread["title"] or "")
    for rule in rules:
        if "thread" not in rule.kinds or not rule_matches(
                rule, thread, langs, themes, level, config.alerts.levels):
            continue
        if noise.silenced_by(silences, subject, now):
            report.silenced += 1
            continue
        alert = build_alert(config, store, thread, mentions, rule.name, level, now)
        labels = {"thread": thread["thread_key"], "brand": thread["brand"], "source": thread["source"],
                  "rule": rule.name, "level": level, "kind": "thread"}
        _route(store, config, alert, rule, labels, thread["last_at"], now, report)


def _route(store: Store, config: Config, alert: Alert, rule: RuleConfig, labels: dict[str, str | None],
           last_mention_at: str | None, now: datetime, report: EvaluationReport | None = None,
           rules: set[str] | None = None) -> int:
    """Write `alert` for each receiver of `rule` that should get it; returns how many were written.
    `rules`: whose earlier alerts count when deciding whether this one is louder (default: thread rules)."""
    written = 0
    if rules is None:
        rules = {r.name for r in active_rules(config) if "thread" in r.kinds}
    enabled = {r.name for r in config.receivers if getattr(r, "enabled", True)}
    for receiver in rule.receivers:
        if receiver not in enabled:
            continue  # a switched-off receiver collects nothing to flood it with later
        decision = noise.decide_level(store, alert.thread_key, receiver, alert.level, config.alerts.levels, rule,
                                      last_mention_at, now, rules)
        if not decision.send:
            if report:
                report.not_louder += 1
            continue
        alert.previous_level = decision.previous_level
        group = noise.group_key(rule, labels)
        until, why = noise.hold_until(store, rule, receiver, group, alert.thread_key, now)
        if outbox.enqueue(store, alert, receiver, group=group, hold_until=until, hold=why,
                          key_suffix=decision.key_suffix):
            written += 1
            if report:
                report.alerts_enqueued += 1
                report.held += int(until is not None)
    return written


def build_alert(config: Config, store: Store, thread: dict[str, Any], mentions: list[dict[str, Any]],
                rule: str, level: str, now: datetime | None = None) -> Alert:
    """The alert about a thread: the most negative, widest-reaching mentions first, with reasons and links."""
    ranked = sorted(mentions, key=lambda m: ((m["compound"] or 0.0), -(m["author_followers"] or 0)))
    window = timedelta(days=config.risk.repeat_window_days)
    top = [
        AlertMention(author=m["author"], followers=m["author_followers"], text=m["text"], url=m["url"],
                     label=m["label"], created_at=m["created_at"], source=m["source"],
                     verified=bool(m["author_verified"]), complaints_before=complaints_before(store, m, window)[0])
        for m in ranked[:TOP_MENTIONS]
    ]
    item = store.query("SELECT id, state, assignee, first_response_at, first_response_due, resolution_due "
                       "FROM queue_items WHERE thread_key = ?", (thread["thread_key"],))
    item_id = item[0]["id"] if item else None
    # An escalation edits the Slack message in place: keep showing who is already on it.
    note = ""
    if item and item[0]["state"] not in ("new", None):
        note = f"queue item {item[0]['state']}" + (f" by {item[0]['assignee']}" if item[0]["assignee"] else "")
    first = mentions[0] if mentions else {}
    title = thread["title"] or _thread_title(thread, first)
    return Alert(
        kind="thread", rule=rule, level=level, brand=thread["brand"], source=thread["source"],
        thread_key=thread["thread_key"], title=title, risk=thread["risk"],
        reasons=json.loads(thread["reasons"] or "[]"), url=thread["url"] or first.get("url"),
        queue_url=f"{config.alerts.queue_url.rstrip('/')}/items/{item_id}" if item_id else None,
        mentions=top, created_at=iso(now or utcnow()), queue_item_id=item_id, note=note,
        **_queue_facts(config, thread, item[0] if item else None),
    )


def _queue_facts(config: Config, thread: dict[str, Any], item: dict[str, Any] | None) -> dict[str, Any]:
    """The thread's age, the SLA target that runs and its due time, the assignee (for the Slack message)."""
    facts: dict[str, Any] = {"started_at": thread.get("first_at"), "snooze_minutes": config.queue.snooze_minutes}
    if item:
        facts["assignee"] = item["assignee"]
        if item["state"] not in ("resolved", "dismissed"):
            if item["first_response_at"] is None and item["first_response_due"]:
                facts.update(sla_target="first response", sla_due=item["first_response_due"])
            elif item["resolution_due"]:
                facts.update(sla_target="resolution", sla_due=item["resolution_due"])
    return facts


def _thread_title(thread: dict[str, Any], first: dict[str, Any]) -> str:
    """The first post's words (what the conversation is about), else a count."""
    if first.get("text"):
        text = " ".join(first["text"].split())
        return text if len(text) <= 120 else text[:119] + "…"
    return (f"{thread['negative']} negative of {thread['mentions']} mentions about {thread['brand']} "
            f"on {thread['source']}")


def system_rules(config: Config, alert: Alert) -> list[RuleConfig]:
    """The rules that route a system alert: its kind is in `kinds` and brand/source filters fit."""
    out = []
    for rule in active_rules(config):
        if alert.kind not in rule.kinds:
            continue
        if rule.brands and alert.brand and alert.brand not in rule.brands:
            continue
        if rule.sources and alert.source and alert.source not in rule.sources:
            continue
        if rule.min_level and alert.level in config.alerts.levels and \
                config.alerts.levels[alert.level] < config.alerts.levels.get(rule.min_level, 0):
            continue
        out.append(rule)
    return out


def enqueue_system_alert(store: Store, config: Config, alert: Alert, now: datetime | None = None) -> int:
    """Route an alert raised outside the thread rules (kind spike, sla or health) to the receivers of
    every rule whose `kinds` include it and whose brand/source filters fit; returns how many were new.
    Silences, levels, grouping and holds apply as for thread alerts. Give it a `thread_key` that names
    what it is about (e.g. "spike:Brightwave:2026-11-24T09"), so it is sent once."""
    now = now or utcnow()
    alert.created_at = alert.created_at or iso(now)
    subject = noise.subject_from(alert.brand, alert.source, alert.thread_key, [], alert.title)
    if noise.silenced_by(noise.list_silences(store, now), subject, now):
        return 0
    written = 0
    seen: set[str] = set()
    with store.transaction():
        for rule in system_rules(config, alert):
            # one message per receiver even when two rules route the alert there
            narrowed = rule.model_copy(update={"receivers": [r for r in rule.receivers if r not in seen]})
            seen.update(rule.receivers)
            labels = {"thread": alert.thread_key, "brand": alert.brand, "source": alert.source, "rule": rule.name,
                      "level": alert.level, "kind": alert.kind}
            written += _route(store, config, alert, narrowed, labels, None, now, rules={alert.rule})
    return written
