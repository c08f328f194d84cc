"""`overheard queue reply --text/--saved`, `queue approve|reject|retry|replies` and `overheard connect x`:
thin commands over alerts.replies.send and alerts.replies.x_oauth."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from listener.cli import console, json_option, open_store, with_config
from listener.display import local_time
from listener.errors import UserError
from listener.text import terminal_json

if TYPE_CHECKING:
    from alerts.replies.send import Reply
    from listener.config import Config

REFUSED_EXIT = 1  # the platform refused (stored, with its reason); user mistakes exit 2 as everywhere


def _echo_reply(config: Config, reply: Reply, as_json: bool) -> None:
    if as_json:
        click.echo(terminal_json(json.dumps(reply.to_dict(), ensure_ascii=False)))
    else:
        console.print(escape(f"reply {reply.id} on queue item {reply.item_id} by {reply.author}: "
                             f"{reply.outcome()}"))
    if reply.state == "failed":
        if not as_json:
            console.print(escape(f"retry it after a look with `overheard queue retry {reply.id}`"))
        sys.exit(REFUSED_EXIT)


def post_reply(config: Config, item_id: int, text: str | None, saved: str | None, to_mention: int | None,
               actor: str, as_json: bool) -> None:
    """The body of `overheard queue reply ID --text …|--saved NAME`."""
    from alerts.replies.send import send_reply

    if text is not None and saved is not None:
        raise UserError("reply: give --text or --saved, not both")
    with open_store(config) as store:
        reply = send_reply(store, config, item_id, text, actor, mention_id=to_mention, saved=saved)
        _echo_reply(config, reply, as_json)


def add_to_queue(queue: click.Group) -> None:
    """The reply commands, in the `queue` group (called by listener.commands.queue.register)."""
    from listener.commands.queue import _actor, actor_option

    @queue.command(name="approve")
    @click.argument("reply_id", type=int)
    @actor_option
    @json_option
    @with_config(check_secrets=False)
    def approve(config: Config, reply_id: int, actor: str | None, as_json: bool) -> None:
        """Approve a reply waiting for approval (admins): it is posted now."""
        from alerts.replies.send import approve_reply

        with open_store(config) as store:
            _echo_reply(config, approve_reply(store, config, reply_id, _actor(actor)), as_json)

    @queue.command(name="reject")
    @click.argument("reply_id", type=int)
    @click.option("--reason", default="", help="Why, for the reply's author (the audit trail keeps it).")
    @actor_option
    @json_option
    @with_config(check_secrets=False)
    def reject(config: Config, reply_id: int, reason: str, actor: str | None, as_json: bool) -> None:
        """Reject a reply waiting for approval (admins): it is never posted."""
        from alerts.replies.send import reject_reply

        with open_store(config) as store:
            _echo_reply(config, reject_reply(store, config, reply_id, _actor(actor), reason), as_json)

    @queue.command(name="retry")
    @click.argument("reply_id", type=int)
    @click.option("--checked", is_flag=True,
                  help="For a reply that may have been posted: you looked on the platform and it is not there.")
    @actor_option
    @json_option
    @with_config(check_secrets=False)
    def retry(config: Config, reply_id: int, checked: bool, actor: str | None, as_json: bool) -> None:
        """Try a failed reply again (a new attempt with the same text); nothing retries on its own."""
        from alerts.replies.send import retry_reply

        with open_store(config) as store:
            _echo_reply(config, retry_reply(store, config, reply_id, _actor(actor), checked=checked), as_json)

    @queue.command(name="replies")
    @click.argument("item_id", type=int)
    @json_option
    @with_config(check_secrets=False)
    def replies(config: Config, item_id: int, as_json: bool) -> None:
        """Every reply attempt on an item (posted, waiting, refused, may have been posted) and the saved
        replies it offers."""
        from alerts.queue import Queue
        from alerts.replies.send import list_replies, offered_saved_replies

        with open_store(config) as store:
            item = Queue(store, config.queue).get(item_id)
            attempts = list_replies(store, item_id)
            saved = offered_saved_replies(store, config, item_id)
        if as_json:
            click.echo(terminal_json(json.dumps({"item_id": item_id, "replies": [r.to_dict() for r in attempts],
                                                 "saved_replies": saved}, ensure_ascii=False)))
            return
        if not attempts:
            console.print(escape(f"queue item {item.id}: no replies yet"))
        for r in attempts:
            console.print(escape(f"  reply {r.id} · {local_time(r.created_at, config.queue.timezone)} · {r.author} "
                                 f"· {r.outcome()}"))
            console.print(escape(f"      “{r.text}”"), soft_wrap=False)
        if saved:
            console.print(escape("saved replies: " + ", ".join(s["name"] for s in saved)))


@click.group()
def connect() -> None:
    """Connect the brand's accounts the queue replies as (tokens kept encrypted in the database)."""


@connect.command(name="x")
@click.option("--paste", is_flag=True,
              help="Paste the address the browser ends on, instead of listening on the redirect URI.")
@click.option("--timeout", "timeout_s", type=float, default=300, show_default=True,
              help="Seconds to wait for X's redirect.")
@with_config(check_secrets=False)
def connect_x(config: Config, paste: bool, timeout_s: float) -> None:
    """Connect the brand's X account (OAuth 2.0 with PKCE): open the printed link, approve, done."""
    from alerts.replies import x_oauth
    from alerts.replies.send import replier_for
    from alerts.replies.tokens import TokenStore

    section = config.replies.get("x")
    if section is None:
        raise UserError(f"connect x: add a [replies.x] section to {config.path.name} first (see docs/queue.md)")
    replier_for(config, "x")  # enabled, known

    def get_redirect(url: str) -> str:
        console.print("Open this link, log in as the brand's X account and approve overheard:")
        click.echo(url)
        if paste:
            return click.prompt("Paste the address the browser ended on", prompt_suffix=": ")
        console.print(escape(f"Waiting for X on {section.redirect_uri} (Ctrl-C to stop) ..."))
        return x_oauth.listen_for_redirect(section.redirect_uri, timeout_s)

    with open_store(config) as store:
        account = x_oauth.connect(config, section, TokenStore(store, section.token_key_env), get_redirect)
    console.print(escape(f"connected X as @{account['username']}; replies from the queue post as this account"))


def register(cli: click.Group) -> None:
    cli.add_command(connect)
