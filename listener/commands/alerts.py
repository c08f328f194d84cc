"""`overheard alerts …`: see the outbox, deliver it, silence noise, test a receiver, backtest rules."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from listener.cli import console, echo_json, json_option, open_store, with_config
from listener.display import compact_table, local_time, plural
from listener.errors import UserError
from listener.masking import mask
from listener.models import iso, parse_iso, utcnow
from listener.text import terminal_json
from listener.timeparse import DURATION_HELP, parse_duration, parse_since, parse_until

if TYPE_CHECKING:
    from listener.config import Config


def _since(text: str, now: datetime, tz_name: str = "UTC", option: str = "--since") -> datetime:
    return parse_since(text, now, tz_name, option)


@click.group()
def alerts() -> None:
    """Alerts: the outbox, silences, receiver tests and rule backtests."""


@alerts.command(name="list")
@click.option("--pending", is_flag=True, help="Only alerts not delivered yet (held, retrying or failed).")
@click.option("--limit", default=30, show_default=True, help="How many, newest first.")
@json_option
@with_config(check_secrets=False)
def list_(config: Config, pending: bool, limit: int, as_json: bool) -> None:
    """Show recent alerts in the outbox: receiver, rule, level, thread and delivery state."""
    from alerts.outbox import MAX_ATTEMPTS

    where = "WHERE delivered_at IS NULL" if pending else ""
    with open_store(config) as store:
        rows = store.query(f"SELECT * FROM outbox {where} ORDER BY id DESC LIMIT ?", (limit,))
    tz = config.queue.timezone
    found: list[dict[str, Any]] = []
    for r in rows:
        payload = json.loads(r["payload"])
        if r["delivered_at"]:
            state, short = "delivered", f"sent ({r['sent_as']})" if r["sent_as"] else "sent"
        elif r["attempts"] >= MAX_ATTEMPTS:
            state, short = "gave up", f"gave up: {mask(r['last_error'])}"
        elif r["hold"]:
            state, short = "held", f"held ({r['hold']}) until {local_time(r['next_attempt_at'], tz)}"
        elif r["last_error"]:
            state, short = "retrying", f"retry {local_time(r['next_attempt_at'], tz)}: {mask(r['last_error'])}"
        else:
            state, short = "due", "due"
        found.append({"id": r["id"], "created_at": r["created_at"], "receiver": r["receiver"], "rule": r["rule"],
                      "level": r["level"], "thread_key": r["thread_key"], "title": payload.get("title") or "",
                      "state": state, "delivered_at": r["delivered_at"], "attempts": r["attempts"],
                      "last_error": mask(r["last_error"]) if r["last_error"] else None,
                      "next_attempt_at": r["next_attempt_at"], "_shown": short})
    if as_json:
        echo_json([{k: v for k, v in f.items() if k != "_shown"} for f in found])
        return
    if not found:
        console.print("No alerts" + (" pending." if pending else " yet."))
        return
    table_rows = [[str(f["id"]), local_time(f["created_at"], tz), f["receiver"], f["level"], f["_shown"],
                   f["title"]] for f in found]
    console.print(compact_table(["id", "created", "receiver", "level", "state", "title"], table_rows,
                                console.width, title="alerts" + (" (pending)" if pending else ""), right=("id",),
                                drop=("level", "receiver")))


@alerts.command()
@json_option
@with_config()
def deliver(config: Config, as_json: bool) -> None:
    """Send every alert that is due now (retries included), then exit."""
    from alerts.outbox import deliver_pending
    from listener.pipeline import build_channels

    with open_store(config) as store:
        report = deliver_pending(store, build_channels(config))
    if as_json:
        echo_json({"messages": report.messages, "alerts": report.delivered, "failed": report.failed,
                   "held": report.held})
        return
    console.print(f"sent {plural(report.messages, 'message')} ({plural(report.delivered, 'alert')}); "
                  f"{report.failed} failed; {report.held} held")


@alerts.command(name="test")
@click.argument("receiver")
@with_config()
def test_(config: Config, receiver: str) -> None:
    """Send a sample alert to RECEIVER now (not through the outbox) to check its wiring."""
    from alerts.channels.base import DeliveryError
    from alerts.message import Alert, AlertMention
    from listener.pipeline import build_channels

    channels = build_channels(config)
    if receiver not in channels:
        raise UserError(f"no enabled receiver named {receiver!r}; known: {', '.join(channels) or 'none'}")
    brand = config.brand_names()[0]
    alert = Alert(kind="thread", rule="test", level="warning", brand=brand, source="test",
                  thread_key=None, title=f"Test alert from overheard for {brand}", risk=0.0,
                  reasons=["this is a test: the receiver works"], url=None, queue_url=None,
                  mentions=[AlertMention(author="overheard", followers=None,
                                         text="If you can read this, alerts reach you. <!channel> stays inert.",
                                         url=None, label=None, created_at=iso(utcnow()))],
                  created_at=iso(utcnow()))
    try:
        ref = channels[receiver].send(alert, f"test|{iso(utcnow())}", None)
    except DeliveryError as exc:
        raise UserError(f"receiver {receiver!r}: {exc}") from None
    console.print(f"sent a test alert to {escape(receiver)}" + (f" ({escape(ref)})" if ref else ""))


@alerts.group()
def silence() -> None:
    """Mute alerts about an author, keyword, thread, brand or source until a time."""


@silence.command(name="add")
@click.option("--author", help="Mute threads where every customer is this author (@handle).")
@click.option("--keyword", help="Mute threads containing this word or phrase.")
@click.option("--thread", "thread_key", help="Mute one thread (its key, e.g. x:1860000000000000251).")
@click.option("--brand", help="Mute a brand.")
@click.option("--source", help="Mute a source (x, reddit, appstore, …).")
@click.option("--for", "duration", help=f"How long: {DURATION_HELP}.")
@click.option("--until", "until_text", help="Until a date/time such as 2026-12-01T09:00, in the [queue] time "
                                            "zone unless it has an offset or Z.")
@click.option("--comment", default="", help="Why, for whoever reads `overheard alerts silence list`.")
@click.option("--as", "actor", metavar="NAME", default=None,
              help="Who silenced it (default: $OVERHEARD_USER, else your login name).")
@click.option("--by", "created_by", default=None, hidden=True, help="Old name of --as.")
@with_config(check_secrets=False)
def silence_add(config: Config, author: str | None, keyword: str | None, thread_key: str | None,
                brand: str | None, source: str | None, duration: str | None, until_text: str | None,
                comment: str, actor: str | None, created_by: str | None) -> None:
    """Add a silence (exactly one matcher; --for or --until)."""
    from alerts.noise import add_silence
    from listener.commands.queue import _actor

    given = {k: v for k, v in (("author", author), ("keyword", keyword), ("thread", thread_key),
                               ("brand", brand), ("source", source)) if v}
    if len(given) != 1:
        raise UserError("give exactly one of --author, --keyword, --thread, --brand, --source")
    if bool(duration) == bool(until_text):
        raise UserError("give exactly one of --for (e.g. 2h) or --until (e.g. 2026-12-01T09:00Z)")
    now = utcnow()
    until = (now + parse_duration(duration, "--for") if duration
             else parse_until(until_text or "", now, config.queue.timezone))
    (matcher, value), = given.items()
    with open_store(config) as store:
        s = add_silence(store, matcher, value, until, _actor(actor, created_by), comment, now)
    console.print(f"silence {s.id}: {s.matcher} = {escape(s.value)} until "
                  f"{local_time(s.ends_at, config.queue.timezone)}")


@silence.command(name="list")
@click.option("--all", "include_expired", is_flag=True, help="Include expired silences.")
@json_option
@with_config(check_secrets=False)
def silence_list(config: Config, include_expired: bool, as_json: bool) -> None:
    """List active silences (or all with --all)."""
    from dataclasses import asdict

    from alerts.noise import list_silences

    with open_store(config) as store:
        rows = list_silences(store, include_expired=include_expired)
    now = utcnow()

    def state(s: Any) -> str:
        return "active" if s.active(now) else "ended" if parse_iso(s.ends_at) <= now else "not started"

    if as_json:
        echo_json([{**asdict(s), "state": state(s)} for s in rows])
        return
    if not rows:
        console.print("No silences.")
        return
    tz = config.queue.timezone
    console.print(compact_table(
        ["id", "matcher", "until", "state", "by", "comment"],
        [[str(s.id), f"{s.matcher} = {s.value}", local_time(s.ends_at, tz), state(s), s.created_by, s.comment or ""]
         for s in rows], console.width, right=("id",), drop=("by", "state")))


@silence.command(name="expire")
@click.argument("silence_id", type=int)
@with_config(check_secrets=False)
def silence_expire(config: Config, silence_id: int) -> None:
    """End silence SILENCE_ID now."""
    from alerts.noise import expire_silence

    with open_store(config) as store:
        s = expire_silence(store, silence_id)
    console.print(f"silence {s.id} ({s.matcher} = {escape(s.value)}) ended at "
                  f"{local_time(s.ends_at, config.queue.timezone)}")


@alerts.command()
@click.option("--since", "since_text", default="14d", show_default=True,
              help="Replay from this long ago (14d, 48h) or this date (2026-11-01).")
@click.option("--until", "until_text", default=None, help="Replay up to this date/time (default: now).")
@click.option("--step", "step_text", default="15m", show_default=True,
              help="Clock step of the replay: how often the pipeline would have run.")
@click.option("--details/--no-details", default=True, show_default=True, help="List every message, in order.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_config(check_secrets=False)
def backtest(config: Config, since_text: str, until_text: str | None, step_text: str, details: bool,
             as_json: bool) -> None:
    """Replay stored mentions through the current rules: what would have fired, where and when.
    Sends nothing and never writes the outbox."""
    from alerts.backtest import run_backtest

    now = utcnow().replace(second=0, microsecond=0)
    tz = config.queue.timezone
    since = _since(since_text, now, tz).replace(second=0, microsecond=0)
    # --until here is a point in the past being replayed to: a duration means that long ago.
    until = _since(until_text, now, tz, "--until") if until_text else now
    with open_store(config) as store:
        result = run_backtest(config, store, since, until, parse_duration(step_text, "--step"))
    if as_json:
        click.echo(terminal_json(json.dumps({
            "since": iso(result.since), "until": iso(result.until), "mentions_replayed": result.mentions_replayed,
            "messages": [{"at": iso(f.at), "receiver": f.receiver, "rule": f.rule, "kind": f.kind,
                          "level": f.level, "title": f.title, "risk": f.risk, "reasons": f.reasons,
                          "thread_key": f.thread_key, "update": f.update, "alerts": f.alerts}
                         for f in result.fired],
        }, ensure_ascii=False, indent=2)))
        return
    console.print(f"Replayed {plural(result.mentions_replayed, 'mention')} from {local_time(result.since, tz)} to "
                  f"{local_time(result.until, tz)} in steps of {step_text}; nothing was sent.")
    summary = Table(title="would have fired, per rule and receiver", title_justify="left")
    for col in ("rule", "receiver", "messages", "alerts", "first", "last"):
        summary.add_column(col)
    for rule, receiver, messages, n, first, last in result.per_rule_receiver():
        summary.add_row(escape(rule), escape(receiver), str(messages), str(n), f"{first:%m-%d %H:%M}",
                        f"{last:%m-%d %H:%M}")
    console.print(summary if result.fired else "No alert would have fired.")
    busiest = result.busiest_hour()
    if busiest:
        console.print(f"Busiest hour: {plural(busiest[1], 'message')} to {escape(busiest[0])}")
    if details and result.fired:
        console.print("\nMessages, in order (UTC):")
        for f in result.fired:
            what = ("update: " if f.update else "") + (f"digest of {f.alerts}: " if f.alerts > 1 else "") + f.title
            why = "; ".join(f.reasons[:2])
            console.print(escape(f"{f.at:%Y-%m-%d %H:%M}  {f.receiver} · {f.rule} · {f.level} {f.risk:.0f}  "
                                 f"{what[:90]}" + (f"\n    why: {why[:160]}" if why else "")))


def register(cli: click.Group) -> None:
    cli.add_command(alerts)
