"""Who may do what to a queue item: the one place the rules live (web UI, CLI and Slack all pass here).

`alerts.queue.Queue` calls `check` inside each action's transaction, after the state check, so a
rule cannot be skipped by taking another road to the same action (unassign, then claim).

Roles (docs/queue.md, "Who may do what"):

| action | an agent | an admin |
|---|---|---|
| claim | an item nobody holds | also one a colleague holds, with take-over |
| assign | an item nobody holds, or their own, to an enabled user | also a colleague's, with take-over |
| unassign | their own item | anyone's |
| reply, wait, resolve, dismiss, snooze, wake | items nobody holds, or their own | any item |
| reopen | any closed item (it goes back to whoever held it, so nobody loses an item) | any |
| note, tag, relabel | any item | any |
| post a reply (`reply`), retry a failed one (`retry_reply`) | items nobody holds, or their own | any item |
| approve or reject a reply waiting for approval (`approve_reply`) | never | any |

An actor who is a user has that user's role; a disabled user may do nothing. An actor who is not a
user (an unlinked Slack user, `slack:<name>`, or a CLI `--as` name nobody added) has an agent's rights.
The system itself (`overheard`: snoozes that end, automatic reopen) is not limited.
The CLI trusts `--as`: whoever can write the database can act as anyone, so on the command line these
rules stop mistakes, not a shell user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from listener.errors import UserError
from listener.store import Store

AGENT, ADMIN, SYSTEM = "agent", "admin", "system"
SYSTEM_ACTOR = "overheard"
# Actions that change where an item stands: only its holder or an admin, once someone holds it.
OWNER_ACTIONS = ("reply", "wait", "resolve", "dismiss", "snooze", "wake", "retry_reply")
ANYONE_ACTIONS = ("reopen", "note", "tag", "relabel")
# Only an admin: the second pair of eyes on an agent's reply ([queue.reply_approval]).
ADMIN_ACTIONS = ("approve_reply",)


# Who may, in words (docs/queue.md's action table is built from this and the action list).
RULES = {
    "claim": ("an item nobody holds", "also one a colleague holds, with take-over"),
    "assign": ("an item nobody holds, or their own, to an enabled user", "also a colleague's, with take-over"),
    "unassign": ("their own item", "anyone's"),
    **{a: ("items nobody holds, or their own", "any item") for a in OWNER_ACTIONS},
    "reopen": ("any closed item (it goes back to whoever held it)", "any"),
    **{a: ("any item", "any item") for a in ANYONE_ACTIONS if a != "reopen"},
}


def has_rule(action: str) -> bool:
    """True when `check` knows `action` (every entry of alerts.actions must name one)."""
    return action in RULES


def describe(action: str) -> str:
    agent, admin = RULES[action]
    return f"agent: {agent}; admin: {admin}"


def add_rule(action: str, like: str, agent: str | None = None, admin: str | None = None) -> None:
    """Give a new action (another feature's) the same rule as an existing one: `like` is claim, unassign,
    an owner action (reply, resolve, ...) or an anyone action (note, ...)."""
    if like in OWNER_ACTIONS:
        _EXTRA_OWNER.add(action)
    elif like in ANYONE_ACTIONS:
        _EXTRA_ANYONE.add(action)
    else:
        raise ValueError(f"add_rule: {like!r} is not an owner or anyone action")
    base = RULES[like]
    RULES[action] = (agent or base[0], admin or base[1])


_EXTRA_OWNER: set[str] = set()
_EXTRA_ANYONE: set[str] = set()


@dataclass(frozen=True)
class Actor:
    name: str
    role: str  # agent | admin | system

    @property
    def is_admin(self) -> bool:
        return self.role in (ADMIN, SYSTEM)


def actor(store: Store, name: str) -> Actor:
    """The role `name` acts with; raises UserError for a disabled user."""
    if name == SYSTEM_ACTOR:
        return Actor(name, SYSTEM)
    row = store.conn.execute("SELECT role, disabled FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        return Actor(name, AGENT)
    if row[1]:
        raise UserError(f"user {name!r} is disabled: a disabled user cannot work the queue")
    return Actor(name, row[0] if row[0] in (AGENT, ADMIN) else AGENT)


def check_assignee(store: Store, assignee: str, acting: str) -> None:
    """An item goes only to an enabled user (or to whoever claims it for themselves)."""
    row = store.conn.execute("SELECT disabled FROM users WHERE name = ?", (assignee,)).fetchone()
    if row is None:
        if assignee != acting:
            raise UserError(f"user {assignee!r}: no such user (add them with `overheard users add {assignee}`)")
        return
    if row[0]:
        raise UserError(f"user {assignee!r} is disabled: items cannot be assigned to a disabled user")


def check(store: Store, name: str, action: str, item: dict[str, Any], *, assignee: str | None = None,
          take_over: bool = False) -> None:
    """Raise UserError (one line: who, what, why) unless `name` may do `action` to `item` (a queue_items row)."""
    who = actor(store, name)
    holder = item.get("assignee")
    item_id = item["id"]
    if action in ("claim", "assign"):
        target = assignee if assignee is not None else name
        check_assignee(store, target, name)
        # Handing one's own item to a colleague is fine; moving a colleague's item is a take-over.
        if holder is not None and holder not in (target, name):
            if not take_over:
                raise UserError(f"queue item {item_id} is claimed by {holder}; only an admin can take it over "
                                f"(CLI: --take-over)")
            if not who.is_admin:
                raise UserError(f"queue item {item_id} is claimed by {holder}; only an admin can take it over, "
                                f"and {name} is an agent")
        return
    if action == "unassign":
        if holder is not None and holder != name and not who.is_admin:
            raise UserError(f"queue item {item_id} is claimed by {holder}; only {holder} or an admin can unassign it")
        return
    if action in OWNER_ACTIONS or action in _EXTRA_OWNER:
        if holder is not None and holder != name and not who.is_admin:
            raise UserError(f"queue item {item_id} is claimed by {holder}; only {holder} or an admin can "
                            f"{action} it")
        return
    if action in ANYONE_ACTIONS or action in _EXTRA_ANYONE:
        return
    if action in ADMIN_ACTIONS:
        if not who.is_admin:
            raise UserError(f"queue item {item_id}: only an admin can {action.replace('_reply', '')} a reply, "
                            f"and {name} is an agent")
        return
    raise ValueError(f"no permission rule for action {action!r}")  # our bug: every action needs a rule
