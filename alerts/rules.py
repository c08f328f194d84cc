"""Alert rules: which threads alert, at what level, to which receivers. Writes to the outbox only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alerts import outbox, queue
from alerts.message import Alert, AlertMention
from listener.config import Config, RuleConfig
from listener.models import iso, utcnow
from listener.store import Store

TOP_MENTIONS = 3


@dataclass
class EvaluationReport:
    threads_checked: int = 0
    alerts_enqueued: int = 0
    queue_items_created: int = 0


def default_rules(config: Config) -> list[RuleConfig]:
    """With no [[alerts.rules]], every own-brand thread at the lowest level goes to every receiver."""
    receivers = [r.name for r in config.receivers if getattr(r, "enabled", True)]
    if not receivers:
        return []
    return [RuleConfig(name="negative-threads", min_risk=min(config.alerts.levels.values(), default=50),
                       receivers=receivers, kinds=["thread", "spike", "sla", "health"])]


def level_for(risk: float, levels: dict[str, float]) -> str | None:
    reached = [(threshold, name) for name, threshold in levels.items() if risk >= threshold]
    return max(reached)[1] if reached else None


def rule_matches(rule: RuleConfig, thread: dict[str, Any], langs: set[str], themes: set[str]) -> bool:
    if rule.brands and thread["brand"] not in rule.brands:
        return False
    if rule.sources and thread["source"] not in rule.sources:
        return False
    if rule.languages and not (langs & set(rule.languages)):
        return False
    if rule.themes and not (themes & set(rule.themes)):
        return False
    return thread["risk"] >= rule.min_risk and thread["reach"] >= rule.min_reach


def evaluate_pending(store: Store, config: Config) -> EvaluationReport:
    """Check every thread the rollup marked; enqueue alerts and open queue items for flagged ones."""
    report = EvaluationReport()
    rules = list(config.alerts.rules) or default_rules(config)
    own = set(config.brand_names())
    while True:
        threads = store.query("SELECT * FROM threads WHERE alert_pending = 1 LIMIT 500")
        if not threads:
            return report
        with store.transaction() as conn:
            for thread in threads:
                report.threads_checked += 1
                conn.execute("UPDATE threads SET alert_pending = 0 WHERE thread_key = ?", (thread["thread_key"],))
                if thread["brand"] not in own or not thread["flagged"]:
                    continue
                _, created = queue.upsert_for_thread(store, thread, config.queue)
                report.queue_items_created += int(created)
                level = level_for(thread["risk"], config.alerts.levels)
                if level is None:
                    continue
                conn.execute("UPDATE threads SET level = ? WHERE thread_key = ?", (level, thread["thread_key"]))
                mentions = store.query(
                    "SELECT * FROM mentions WHERE thread_key = ? AND is_brand_account = 0", (thread["thread_key"],)
                )
                langs = {m["lang"] for m in mentions if m["lang"]}
                themes = {t for m in mentions for t in json.loads(m["themes"] or "[]")}
                for rule in rules:
                    if "thread" not in rule.kinds or not rule_matches(rule, thread, langs, themes):
                        continue
                    alert = build_alert(config, store, thread, mentions, rule.name, level)
                    for receiver in rule.receivers:
                        report.alerts_enqueued += int(outbox.enqueue(store, alert, receiver))


def build_alert(config: Config, store: Store, thread: dict[str, Any], mentions: list[dict[str, Any]],
                rule: str, level: str) -> Alert:
    # The most negative, widest-reaching mentions first: what a support person should read.
    ranked = sorted(mentions, key=lambda m: ((m["compound"] or 0.0), -(m["author_followers"] or 0)))
    top = [
        AlertMention(author=m["author"], followers=m["author_followers"], text=m["text"], url=m["url"],
                     label=m["label"], created_at=m["created_at"])
        for m in ranked[:TOP_MENTIONS]
    ]
    item_id = store.scalar("SELECT id FROM queue_items WHERE thread_key = ?", (thread["thread_key"],))
    first = mentions[0] if mentions else {}
    title = thread["title"] or (
        f"{thread['negative']} negative of {thread['mentions']} mentions about {thread['brand']} "
        f"on {thread['source']}"
    )
    return Alert(
        kind="thread", rule=rule, level=level, brand=thread["brand"], source=thread["source"],
        thread_key=thread["thread_key"], title=title, risk=thread["risk"],
        reasons=json.loads(thread["reasons"] or "[]"), url=thread["url"] or first.get("url"),
        queue_url=f"{config.alerts.queue_url.rstrip('/')}/items/{item_id}" if item_id else None,
        mentions=top, created_at=iso(utcnow()),
    )


def enqueue_system_alert(store: Store, config: Config, alert: Alert) -> int:
    """Route an alert raised outside the thread rules (kind spike, sla or health) to the receivers of
    every rule whose `kinds` include it and whose brand/source filters fit; returns how many were new."""
    rules = list(config.alerts.rules) or default_rules(config)
    receivers: list[str] = []
    for rule in rules:
        if alert.kind not in rule.kinds:
            continue
        if rule.brands and alert.brand and alert.brand not in rule.brands:
            continue
        if rule.sources and alert.source and alert.source not in rule.sources:
            continue
        receivers.extend(r for r in rule.receivers if r not in receivers)
    alert.created_at = alert.created_at or iso(utcnow())
    with store.transaction():
        return sum(int(outbox.enqueue(store, alert, receiver)) for receiver in receivers)
