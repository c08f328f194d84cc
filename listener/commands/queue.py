"""`overheard queue …`, `overheard users …` and `overheard serve`: thin commands over alerts.queue/users/web."""

from __future__ import annotations

import getpass
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from alerts import actions
from alerts.actions import Action
from alerts.queue import DISMISS_REASONS, OUTCOMES, STATES, ItemFilter, Queue, QueueItem, describe_event
from alerts.rules import enqueue_system_alert
from listener.cli import console, json_option, open_store, with_config
from listener.display import compact_table, local_time, plural
from listener.errors import UserError
from listener.labels import HUMAN_LABELS
from listener.text import terminal_json

if TYPE_CHECKING:

    from listener.config import Config

ACTOR_ENV = "OVERHEARD_USER"


def _actor(value: str | None, *old: str | None) -> str:
    """Who is acting: --as, else an old spelling of it (--actor, --by), else $OVERHEARD_USER, else the login."""
    for alias in old:
        if alias and not value:
            click.echo("overheard: --actor and --by are old names of --as; use --as", err=True)
            value = alias
    return value or os.environ.get(ACTOR_ENV) or getpass.getuser()


ACTOR_HELP = f"Who is acting, for the audit trail (default: ${ACTOR_ENV}, else your login name)."
actor_option = click.option("--as", "actor", metavar="NAME", default=None, help=ACTOR_HELP)


def _item_json(queue: Queue, item: QueueItem) -> dict[str, Any]:
    sla = queue.sla(item)
    return {**item.to_dict(), "sla": {"target": sla.target, "due": sla.due, "status": sla.status,
                                     "minutes_left": None if sla.minutes_left is None else round(sla.minutes_left, 1),
                                     "reason": sla.reason, "post_age": sla.post_age}}


def _print_item(queue: Queue, item: QueueItem, as_json: bool, what: str) -> None:
    if as_json:
        click.echo(terminal_json(json.dumps(_item_json(queue, item), ensure_ascii=False)))
    else:
        who = f" ({item.assignee})" if item.assignee else ""
        console.print(escape(f"queue item {item.id}: {what} → {item.state}{who}"))


def _short_sla(sla: Any) -> str:
    """`reply 54m`, `resolve late 2.1h`: the SLA in a narrow column (the full words with --wide)."""
    if sla.minutes_left is None or sla.status in ("none", "met", "missed"):
        return sla.status if sla.status not in ("none", "") else ""
    left = abs(sla.minutes_left)
    span = f"{left / 1440:.0f}d" if left >= 2 * 1440 else f"{left / 60:.1f}h" if left >= 90 else f"{left:.0f}m"
    what = "reply" if sla.target == "first_response" or "first" in str(sla.target) else "resolve"
    if sla.status == "paused":
        return f"{what} paused"
    return f"{what} late {span}" if sla.status == "breached" else f"{what} in {span}"


def _local(config: Config, value: str | None) -> str:
    return local_time(value, config.queue.timezone)


@click.group()
def queue() -> None:
    """The support queue: flagged threads to claim, answer and resolve (same rules as the web UI)."""


@queue.command(name="list")
@click.option("--state", default="open", show_default=True,
              help=f"open (all but snoozed and closed), all, or one of: {', '.join(STATES)}.")
@click.option("--brand", help="Only this brand or competitor (a name from [[brands]] or [[competitors]]).")
@click.option("--source", help="Only mentions from this source: x, reddit, appstore, googleplay, mastodon, ...")
@click.option("--priority", type=click.Choice(["high", "medium", "low"]))
@click.option("--assignee", help="A user name, or 'none' for unassigned items.")
@click.option("--theme", help="Only threads about this theme (outage, billing, support, app, speed, ...).")
@click.option("--lang", help="Language code, e.g. en.")
@click.option("--search", help="Full-text search over the mentions (every word must appear; word* for prefixes).")
@click.option("--sort", type=click.Choice(["sla", "risk", "newest", "oldest"]), default="sla", show_default=True,
              help="sla: about-to-breach first.")
@click.option("--wide", is_flag=True, help="Every column and the whole headline, wrapped to the terminal.")
@json_option
@with_config(check_secrets=False)
def list_(config: Config, as_json: bool, wide: bool, **filters: Any) -> None:
    """List queue items, about-to-breach first, with counts per state."""
    with open_store(config) as store:
        q = Queue(store, config.queue)
        q.tick(config, send_alert=enqueue_system_alert)  # snoozes that ended come back before listing
        flt = ItemFilter(**filters)
        items = q.list(flt)
        counts = q.counts(flt)
        if as_json:
            click.echo(terminal_json(json.dumps({"counts": counts, "items": [_item_json(q, i) for i in items]},
                                  ensure_ascii=False)))
            return
        rows = []
        for item in items:
            sla = q.sla(item)
            rows.append([str(item.id), item.priority, item.state, (sla.label() if wide else _short_sla(sla)) or "—",
                         f"{item.risk:.0f}", f"{item.source or ''}", item.assignee or "—",
                         (f"{item.brand}: " if wide and item.brand else "") + item.headline])
    columns = ["id", "priority", "state", "SLA", "risk", "source", "assignee", "thread"]
    if not items:
        console.print(f"No {flt.state if flt.state != 'all' else ''} queue items match.".replace("  ", " "))
    elif wide:
        from rich.table import Table

        table = Table(title=f"queue: {flt.state}", title_justify="left")
        for col in columns:
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(*(escape(v) for v in r))
        console.print(table)
    else:
        console.print(compact_table(columns, rows, console.width, title=f"queue: {flt.state}",
                                    right=("id", "risk"), drop=("assignee", "priority", "source", "state")))
    console.print(" · ".join(f"{s} {counts[s]}" for s in ("open", *STATES) if counts[s] or s == "open"))


@queue.command()
@click.argument("item_id", type=int)
@json_option
@with_config(check_secrets=False)
def show(config: Config, item_id: int, as_json: bool) -> None:
    """Show one item: the thread, risk reasons, the author's history, notes and every event."""
    with open_store(config) as store:
        q = Queue(store, config.queue)
        item = q.get(item_id)
        mentions = q.thread_mentions(item)
        events = q.events(item_id)
        history = q.author_history(item)
        from alerts.replies.send import list_replies

        replies = list_replies(store, item_id)
        if as_json:
            click.echo(terminal_json(json.dumps({"item": _item_json(q, item), "mentions": mentions, "events": events,
                                   "author_history": history, "replies": [r.to_dict() for r in replies]},
                                  ensure_ascii=False, default=str)))
            return
        sla = q.sla(item)
        console.print(escape(f"queue item {item.id} · {item.state} · {item.priority} priority · risk {item.risk:.0f}"
                             f" · {item.brand} on {item.source} · assignee {item.assignee or '—'}"))
        if sla.label():
            console.print(escape(f"SLA: {sla.label()}" + (f" ({sla.reason})" if sla.reason else "")
                                 + (f" · posted {sla.post_age} ago" if sla.post_age else "")))
        if item.tags:
            console.print(escape("tags: " + ", ".join(item.tags)))
        if item.outcome or item.dismiss_reason:
            console.print(escape(f"outcome: {OUTCOMES.get(item.outcome or '', '')}"
                                 f"{DISMISS_REASONS.get(item.dismiss_reason or '', '')}"
                                 + (f" · author {item.recovery}" if item.recovery else "")))
        for reason in item.reasons:
            console.print(escape(f"  why: {reason}"))
        console.print("[bold]thread[/]")
        for m in mentions:
            reach = f" ({m['author_followers']:,})" if m["author_followers"] else ""
            brand = " [brand]" if m["is_brand_account"] else ""
            console.print(escape(f"  #{m['id']} {_local(config, m['created_at'])} @{m['author']}{reach}{brand} "
                                 f"[{m['label'] or '?'}] {m['text']}"), soft_wrap=False)
        if history["author"]:
            console.print(escape(f"author @{history['author']}: {plural(history['mentions'], 'mention')} of "
                                 f"{item.brand}, {history['negative']} negative, "
                                 f"{plural(len(history['other_items']), 'other queue item')}"))
        if replies:
            console.print("[bold]replies[/]")
            for r in replies:
                console.print(escape(f"  reply {r.id} by {r.author}: {r.outcome()}"), soft_wrap=False)
        console.print("[bold]events[/]")
        for e in events:
            console.print(escape(f"  {_local(config, e['at'])} {e['actor']}: {describe_event(e)}"))


def _action_command(action: Action) -> click.Command:
    """`overheard queue <action> ITEM_ID …`, its arguments and options made from the action's declaration
    (alerts.actions), so the CLI takes exactly what the web form and the Slack button take."""
    def command(config: Config, item_id: int, actor: str | None, as_json: bool, **values: Any) -> None:
        with open_store(config) as store:
            q = Queue(store, config.queue)
            item = actions.perform(q, action.name, item_id, _actor(actor), values)
            _print_item(q, item, as_json, action.command or action.name)

    params: list[click.Parameter] = [click.Argument(["item_id"], type=int)]
    for arg in action.args:
        choice = click.Choice(list(arg.choices)) if arg.choices else None
        if arg.positional:
            many = arg.kind == "tags"
            params.append(click.Argument([arg.name], nargs=-1 if many else 1, required=arg.required,
                                         metavar=("USER" if arg.kind == "user" else arg.name.upper())
                                         + ("..." if many else "")))
        elif arg.kind == "flag":
            params.append(click.Option([arg.option, arg.name], is_flag=True, help=arg.help))
        else:
            params.append(click.Option([arg.option, arg.name], type=choice, required=arg.required,
                                       help=arg.help or arg.label))
    command.__doc__ = action.help
    command.__click_params__ = list(reversed(params))  # type: ignore[attr-defined]
    wrapped = with_config(check_secrets=False)(command)
    wrapped = json_option(actor_option(wrapped))
    return queue.command(name=action.command or action.name, help=action.help)(wrapped)


for _declared in actions.on(actions.CLI):
    if not _declared.own_command:
        _action_command(_declared)


@queue.command(name="reply")
@click.argument("item_id", type=int)
@click.option("--text", help="Post this answer on the customer's platform (X, Reddit, ...).")
@click.option("--saved", metavar="NAME", help="Post this saved reply ([[queue.saved_replies]]), placeholders filled.")
@click.option("--to", "to_mention", type=int, metavar="MENTION_ID",
              help="Answer this mention of the thread (default: the newest customer mention we can reply to).")
@click.option("--note", "note_text", help="Without --text/--saved: a note to add with the mark.")
@actor_option
@json_option
@with_config(check_secrets=False)
def reply(config: Config, item_id: int, text: str | None, saved: str | None, to_mention: int | None,
          note_text: str | None, actor: str | None, as_json: bool) -> None:
    """Answer the customer: with --text or --saved, post it on their platform; without, mark the item replied."""
    if text is None and saved is None:
        if to_mention is not None:
            raise UserError("--to: give the answer with --text or --saved")
        with open_store(config) as store:
            q = Queue(store, config.queue)
            _print_item(q, actions.perform(q, "replied", item_id, _actor(actor), {"note": note_text}), as_json,
                        "reply")
        return
    from listener.commands.replies import post_reply

    post_reply(config, item_id, text, saved, to_mention, _actor(actor), as_json)


@queue.command()
@click.argument("mention_id", type=int)
@click.argument("label", type=click.Choice(HUMAN_LABELS))
@actor_option
@click.option("--actor", "old_actor", hidden=True, help="Old name of --as.")
@with_config(check_secrets=False)
def relabel(config: Config, mention_id: int, label: str, actor: str | None, old_actor: str | None) -> None:
    """Correct a mention's sentiment (feeds the learning loop; noted on its queue item)."""
    from listener.labels import relabel as relabel_mention

    with open_store(config) as store:
        item_id = store.scalar("SELECT q.id FROM queue_items q JOIN mentions m ON m.thread_key = q.thread_key "
                               "WHERE m.id = ?", (mention_id,))
        if item_id:
            actions.perform(Queue(store, config.queue), "relabel", item_id, _actor(actor, old_actor),
                            {"mention_id": mention_id, "label": label})
        else:
            relabel_mention(store, mention_id, label, _actor(actor, old_actor))
    console.print(f"mention {mention_id}: labelled {label}" + (f" (queue item {item_id})" if item_id else ""))


@queue.command()
@click.option("--dry-run", is_flag=True, help="Only show who each unassigned item would go to; change nothing.")
@json_option
@with_config(check_secrets=False)
def route(config: Config, dry_run: bool, as_json: bool) -> None:
    """Route unassigned new items by [[queue.routing]] now (round-robin among agents online)."""
    from alerts import routing

    with open_store(config) as store:
        online = sorted(routing.online_users(store, config.queue))
        if dry_run:
            decisions = routing.dry_run(store, config.queue)
        else:
            ids = [r[0] for r in store.conn.execute(
                "SELECT id FROM queue_items WHERE state = 'new' AND assignee IS NULL ORDER BY created_at, id")]
            decisions = [routing.route(store, config.queue, item_id) for item_id in ids]
    if as_json:
        click.echo(terminal_json(json.dumps({
            "dry_run": dry_run, "online": online, "rules": [r.name for r in config.queue.routing],
            "items": [d.__dict__ for d in decisions]}, ensure_ascii=False)))
        return
    if not config.queue.routing:
        console.print("No [[queue.routing]] rules: every item waits in the queue for whoever claims it "
                      "(see docs/queue.md, Routing).", markup=False)
    console.print(escape(f"online: {', '.join(online) or 'nobody'} (seen in the web UI in the last "
                         f"{config.queue.online_minutes} min)"))
    rows = [[str(d.item_id), d.rule or "—", d.assignee or "unassigned", d.why] for d in decisions]
    if rows:
        console.print(compact_table(["id", "rule", "to", "why"], rows, console.width,
                                    title="would route" if dry_run else "routed", right=("id",)))
    else:
        console.print("No unassigned new items.")


@queue.command()
@json_option
@with_config(check_secrets=False)
def stats(config: Config, as_json: bool) -> None:
    """Queue figures: items per state, outcomes, dismiss reasons, how resolved authors came back."""
    with open_store(config) as store:
        figures = Queue(store, config.queue).stats()
    if as_json:
        click.echo(terminal_json(json.dumps(figures)))
        return
    console.print(_stats_text(figures), markup=False)


@queue.command()
@click.option("--period", type=click.Choice(["today", "7d", "30d", "custom"]), default="today", show_default=True,
              help="Local days in [queue] timezone; 7d and 30d include today.")
@click.option("--since", metavar="YYYY-MM-DD", help="First day of a custom period (implies --period custom).")
@click.option("--until", metavar="YYYY-MM-DD", help="Last day of a custom period, included (default: today).")
@json_option
@with_config(check_secrets=False)
def dashboard(config: Config, period: str, since: str | None, until: str | None, as_json: bool) -> None:
    """The dashboard's figures (the same as /dashboard): open items, response times, SLA per hour, agents."""
    from alerts.dashboard import dashboard as figures_for
    from alerts.dashboard import resolve_period

    chosen = resolve_period(period, config.queue.timezone, since=since, until=until)
    with open_store(config) as store:
        figures = figures_for(store, config, chosen)
    if as_json:
        click.echo(terminal_json(json.dumps(figures, ensure_ascii=False)))
        return
    console.print(_dashboard_text(figures), markup=False)


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 60:.1f} h" if value >= 90 else f"{value:.0f} min"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _dashboard_text(f: dict[str, Any]) -> str:
    s, o = f["summary"], f["open"]
    lines = [f"dashboard: {f['period']['label']} ({f['period']['timezone']})",
             f"open now: {o['total']:,} (" + ", ".join(f"{p} {n:,}" for p, n in o["by_priority"].items())
             + f"); snoozed {o['snoozed']:,}"]
    lines += [f"  {b['brand']}: {b['total']:,} (high {b['high']:,}, medium {b['medium']:,}, low {b['low']:,})"
              for b in o["by_brand"]]
    lines.append(f"flagged in the period: {s['flagged_threads']:,} · answered {s['answered']:,} · "
                 f"resolved {s['resolved']:,} · dismissed {s['dismissed']:,}")
    lines.append(f"median first response {_minutes(s['first_response_median_min'])} · median resolution "
                 f"{_minutes(s['resolution_median_min'])} · SLA met: first response "
                 f"{_pct(s['first_response_sla_pct'])}, resolution {_pct(s['resolution_sla_pct'])}")
    r = f["recovered_customers"]
    lines.append(f"recovered customers: {r['recovered']:,} of {r['checked']:,} checked ({_pct(r['recovered_pct'])})")
    busy = [h for h in f["sla_by_hour"] if h["items"]]
    if busy:
        lines.append("first-response SLA met by the hour the customer posted: " + ", ".join(
            f"{h['hour']:02d}h {_pct(h['first_response_sla_pct'])} ({h['items']})" for h in busy))
    for a in f["agents"]:
        lines.append(f"  {a['agent']}: holds {a['open']:,} open ({a['waiting']:,} waiting) · "
                     f"{a['replies']:,} replies · {a['resolved']:,} resolved")
    return "\n".join(lines)


def _stats_text(figures: dict[str, Any]) -> str:
    """The queue figures as a reader wants them: counts in words, the recovery rate as a share."""
    def line(label: str, counts: dict[str, int], names: dict[str, str] | None = None) -> str:
        parts = [f"{(names or {}).get(k, k) or '(none)'} {v:,}" for k, v in
                 sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]
        return f"{label:<16}{', '.join(parts) if parts else 'none'}"

    states = figures.get("states", {})
    lines = [f"{'items':<16}{sum(states.values()):,}", line("by state", states),
             line("outcomes", figures.get("outcomes", {})),
             line("dismissed as", figures.get("dismiss_reasons", {})),
             line("authors after", {str(k).replace("_", " "): v for k, v in figures.get("recovery", {}).items()})]
    rate = figures.get("recovery_rate")
    lines.append(f"{'recovery rate':<16}" + (f"{rate:.0%} of resolved authors came back happier" if rate is not None
                                             else "— (no resolved author has posted again yet)"))
    return "\n".join(lines)


# ---------------------------------------------------------------- users
@click.group()
def users() -> None:
    """People who can log in to the queue web UI."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(["agent", "admin"]), default="agent", show_default=True,
              help="admin: may also take over items others hold.")
@click.option("--slack-id", help="Their Slack user id (U…), so Slack button clicks are recorded under NAME.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@with_config(check_secrets=False)
def users_add(config: Config, name: str, role: str, slack_id: str | None, password_stdin: bool) -> None:
    """Add a user (the password is asked for, and stored as a scrypt hash)."""
    from alerts.users import add_user

    password = _read_password(password_stdin)
    with open_store(config) as store:
        add_user(store, name, role, password, slack_id)
    console.print(escape(f"added {role} {name}"))


@users.command(name="passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_config(check_secrets=False)
def users_passwd(config: Config, name: str, password_stdin: bool) -> None:
    """Set a user's password."""
    from alerts.users import set_password

    password = _read_password(password_stdin)
    with open_store(config) as store:
        set_password(store, name, password)
    console.print(escape(f"password changed for {name}"))


@users.command(name="disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the account again.")
@with_config(check_secrets=False)
def users_disable(config: Config, name: str, enable: bool) -> None:
    """Stop (or, with --enable, allow again) a user logging in; their history stays."""
    from alerts.users import set_disabled

    with open_store(config) as store:
        set_disabled(store, name, not enable)
    console.print(escape(f"{name}: {'enabled' if enable else 'disabled'}"))


@users.command(name="list")
@json_option
@with_config(check_secrets=False)
def users_list(config: Config, as_json: bool) -> None:
    """List users and their roles."""
    from dataclasses import asdict

    from alerts.users import list_users

    with open_store(config) as store:
        people = list_users(store)
    if as_json:
        click.echo(terminal_json(json.dumps([asdict(u) for u in people])))
        return
    for u in people:
        console.print(escape(f"{u.name}  {u.role}" + (f"  slack {u.slack_user_id}" if u.slack_user_id else "")
                             + ("  (disabled)" if u.disabled else "")))


# ---------------------------------------------------------------- serve
@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: [web] port, 8377).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="One line per request and per security event, as text or JSON (to stderr).")
@with_config(check_secrets=False)
def serve(config: Config, host: str | None, port: int | None, log_format: str) -> None:
    """Serve the queue web UI and the Slack button endpoint (127.0.0.1 unless told otherwise)."""
    import uvicorn

    from alerts.web.app import create_app
    from listener.logs import config_secrets, setup_logging

    setup_logging(log_format, secrets=config_secrets(config))  # type: ignore[arg-type]
    host = host or config.web.host
    port = port or config.web.port
    with open_store(config) as store:  # first: a database that cannot be used ends here in one line
        if not store.scalar("SELECT COUNT(*) FROM users WHERE disabled = 0"):
            console.print("[yellow]No users yet: add one with[/] "
                          + escape(f"overheard users add NAME --role admin --config {config.path}"))
    app = create_app(config)
    console.print(escape(f"Queue: http://{host}:{port}/  (Ctrl-C to stop)"))
    # Our own request log replaces uvicorn's access log; proxy headers are read by the app, and only from
    # [web] trusted_proxies.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=False,
                server_header=False)


def register(cli: click.Group) -> None:
    from listener.commands import replies

    replies.add_to_queue(queue)  # approve, reject, retry, replies: the reply action's own commands
    cli.add_command(queue)
    cli.add_command(users)
    cli.add_command(serve)
