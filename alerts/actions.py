"""The queue's actions, declared once: name, label, arguments, permission, confirmation and what they call.

The web UI (alerts.web.routes), the CLI (listener.commands.queue) and the Slack buttons
(alerts.slack_actions) all go through `perform`, so an action has one set of arguments, one parser
for each argument, one permission rule and one confirmation question wherever it is clicked or typed:

    perform(queue, "resolve", item_id, "alice", {"outcome": "refund", "note": "credited"})

The permission an action needs is a name `alerts.permissions.check` knows (the rules stay there; the
Queue method checks them inside its own transaction, so no road skips them). Another feature adds an
action with one `register(Action(...))` call, e.g. a reply that posts to the platform, or an approve.

Values arrive as text (a form field, a CLI option, a Slack option value) or already typed (the CLI's
flags); each `Arg` turns its text into the value the Queue method takes, with a one-line UserError
naming the argument when it cannot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts import permissions
from alerts.queue import DISMISS_REASONS, OUTCOMES, Queue, QueueItem
from alerts.users import get_user
from listener.config import QueueConfig
from listener.errors import UserError
from listener.labels import HUMAN_LABELS
from listener.models import utcnow
from listener.timeparse import DURATION_HELP, parse_duration, parse_time

# Where an action is offered. Every action can be performed from code; these say which surface shows it.
WEB, CLI, SLACK = "web", "cli", "slack"


def minutes_text(minutes: int) -> str:
    """90 -> "1.5 h", 120 -> "2 h", 45 -> "45 min", 2880 -> "2 days": how a person says a snooze length."""
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day" + ("s" if days != 1 else "")
    if minutes >= 60:
        hours = minutes / 60
        return f"{hours:g} h"
    return f"{minutes} min"


@dataclass(frozen=True)
class Arg:
    """One argument of an action. `kind` picks the parser and, on each surface, the control:

    text (a line or a note), choice (one of `choices`: key -> what people call it), user (an enabled
    user), when (a duration such as 2h or 3d, or a date/time in the queue's zone), duration (2h, 3d
    only), tags (words; -word removes), int (an id), flag (yes/no).
    """

    name: str
    label: str
    kind: str = "text"
    required: bool = False
    choices: Mapping[str, str] | None = None
    help: str = ""
    positional: bool = False  # on the command line an argument (ITEM_ID USER), not an --option

    def parse(self, value: Any, config: QueueConfig) -> Any:
        if value is None or (isinstance(value, str) and not value.strip() and self.kind != "text"):
            if self.required:
                raise UserError(f"{self.name}: required; " + self._expected())
            return None if self.kind != "flag" else False
        if self.kind == "flag":
            return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
        if isinstance(value, datetime | list | tuple | int) and not isinstance(value, bool):
            return list(value) if isinstance(value, tuple) else value  # already typed (the CLI)
        text = str(value).strip() if self.kind != "text" else str(value)
        if self.kind == "choice":
            assert self.choices is not None
            if text not in self.choices:
                raise UserError(f"{self.name} {text!r}: must be one of {', '.join(self.choices)}")
            return text
        if self.kind == "int":
            try:
                return int(text)
            except ValueError:
                raise UserError(f"{self.name}: not a {self.label.lower()} id") from None
        if self.kind == "duration":
            return utcnow() + _delta(text, self.option)
        if self.kind == "when":
            return parse_when(text, config.timezone, self.name)
        if self.kind == "tags":
            return text.replace(",", " ").split()
        if self.kind == "text" and self.required and not text.strip():
            raise UserError(f"{self.name}: must not be empty")
        return text  # text and user (the action checks the user)

    @property
    def option(self) -> str:
        """The CLI spelling: take_over -> --take-over, for_ -> --for."""
        return "--" + self.name.rstrip("_").replace("_", "-")

    def _expected(self) -> str:
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        return {"when": f"a duration ({DURATION_HELP}) or a date/time", "user": "a user name"}.get(
            self.kind, f"a {self.label.lower()}")


def _delta(text: str, option: str) -> Any:
    delta = parse_duration(text, option)
    try:
        utcnow() + delta
    except OverflowError:
        raise UserError(f"{option} {text!r}: too far ahead (a snooze lasts at most 90 days)") from None
    return delta


def parse_when(text: str, zone: str, name: str = "until") -> datetime:
    """`2h`, `90m`, `3d` from now, or a date/time (local to `zone` unless it has an offset) as UTC."""
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*[smhdw]\s*", text, re.IGNORECASE):
        return utcnow() + _delta(text.strip(), f"{name}")
    try:
        return parse_time(text, zone, f"{name}").astimezone(UTC)
    except OverflowError:
        raise UserError(f"{name} {text!r}: too far ahead") from None


Runner = Callable[..., QueueItem]


@dataclass(frozen=True)
class Action:
    """One thing a person can do to a queue item.

    `permission` names the rule in alerts.permissions; `confirm` is the question asked before it runs
    (web: a dialog; Slack: a Block Kit confirm object; the CLI does not ask, its required options are
    the confirmation); `run(queue, item_id, actor, **parsed_args)` does it; `done` is the line shown after.
    `label` may be a function of the queue config (the snooze button says how long it snoozes).
    """

    name: str
    label: str | Callable[[QueueConfig], str]
    permission: str
    run: Runner
    args: tuple[Arg, ...] = ()
    confirm: str | None = None
    done: str = ""
    past: str = ""  # "resolved": what the Slack status line says someone did
    surfaces: frozenset[str] = frozenset({WEB, CLI})
    style: str | None = None  # Slack button style: primary | danger
    help: str = ""  # one line for `--help` and docs
    command: str = ""  # the CLI word when it differs from the name (replied -> `queue reply`)
    own_command: bool = False  # the CLI command is written by hand (relabel takes a mention, not an item)

    def label_for(self, config: QueueConfig) -> str:
        return self.label(config) if callable(self.label) else self.label

    def label_for_minutes(self, snooze_minutes: int) -> str:
        """The label where only the snooze length is known (a Slack message built from an alert)."""
        return self.label(QueueConfig(snooze_minutes=snooze_minutes)) if callable(self.label) else self.label

    def arg(self, name: str) -> Arg:
        return next(a for a in self.args if a.name == name)


ACTIONS: dict[str, Action] = {}
# Old names still posted by bookmarked forms and scripts (web paths, CLI words) -> the action.
ALIASES: dict[str, str] = {}


def register(action: Action, *aliases: str) -> Action:
    """Add an action to the list (another feature's reply/approve is one more call)."""
    if not permissions.has_rule(action.permission):
        raise ValueError(f"action {action.name!r}: alerts.permissions has no rule {action.permission!r}")
    ACTIONS[action.name] = action
    for alias in aliases:
        ALIASES[alias] = action.name
    return action


def get(name: str) -> Action:
    """The action called `name` (or an old name of it); UserError when there is none."""
    action = ACTIONS.get(ALIASES.get(name, name))
    if action is None:
        raise UserError(f"unknown action {name!r}: one of {', '.join(ACTIONS)}")
    return action


def on(surface: str) -> list[Action]:
    """The actions a surface offers, in list order."""
    return [a for a in ACTIONS.values() if surface in a.surfaces]


def perform(queue: Queue, name: str, item_id: int, actor: str, values: Mapping[str, Any] | None = None,
            **typed: Any) -> QueueItem:
    """Parse the arguments of action `name` and run it for `actor`; UserError (one line) when refused."""
    action = get(name)
    raw = {**(values or {}), **typed}
    unknown = set(raw) - {a.name for a in action.args}
    if unknown:
        raise UserError(f"{action.name}: no argument {sorted(unknown)[0]!r}")
    parsed = {a.name: a.parse(raw.get(a.name), queue.config) for a in action.args}
    with queue.store.transaction():
        # The declared permission, checked in the action's own transaction (so an action another feature adds
        # is guarded even when it calls a Queue method with a different rule). claim and assign need the
        # assignee, which their Queue method checks itself.
        if action.permission not in ("claim", "assign"):
            permissions.check(queue.store, actor, action.permission, queue._load(item_id))
        return action.run(queue, item_id, actor, **parsed)


# ---------------------------------------------------------------- the list
NOTE = Arg("note", "Note", help="A note to add with it.")


def _assign(q: Queue, item_id: int, actor: str, assignee: str, take_over: bool) -> QueueItem:
    if get_user(q.store, assignee) is None:
        raise UserError(f"user {assignee!r}: no such user (add them with `overheard users add {assignee} "
                        f"--role agent`)")
    return q.assign(item_id, assignee, actor, take_over=take_over)


def _tag(q: Queue, item_id: int, actor: str, tags: list[str]) -> QueueItem:
    if not tags:
        raise UserError("tags: give at least one tag (+tag adds, -tag removes)")
    return q.tag(item_id, actor, [t.lstrip("+") for t in tags if not t.startswith("-")],
                 [t[1:] for t in tags if t.startswith("-")])


def _snooze(q: Queue, item_id: int, actor: str, until: datetime | None, for_: datetime | None) -> QueueItem:
    if until and for_:
        raise UserError("snooze: give --until or --for, not both")
    return q.snooze(item_id, actor, until or for_)


def _relabel(q: Queue, item_id: int, actor: str, mention_id: int, label: str) -> QueueItem:
    return q.relabel(item_id, mention_id, label, actor)


def _snooze_label(config: QueueConfig) -> str:
    return f"Snooze {minutes_text(config.snooze_minutes)}"


register(Action(
    "claim", "Claim", "claim", lambda q, i, a, take_over: q.claim(i, a, take_over=take_over),
    (Arg("take_over", "Take over", "flag", help="Take it from whoever has it (an admin's call)."),),
    done="Claimed.", past="claimed", surfaces=frozenset({WEB, CLI, SLACK}), style="primary",
    help="Take an item: you become its assignee."))
register(Action(
    "assign", "Assign", "assign", _assign,
    (Arg("assignee", "User", "user", required=True, positional=True),
     Arg("take_over", "Take over", "flag", help="Reassign even when someone else has it.")),
    done="Assigned.", past="assigned", help="Give an item to USER."))
register(Action(
    "unassign", "Unassign", "unassign", lambda q, i, a: q.unassign(i, a),
    done="Back in the queue.", past="unassigned", help="Give a claimed item back to the queue."))
register(Action(
    "replied", "Mark replied", "reply", lambda q, i, a, note: q.mark_replied(i, a, note=note or None), (NOTE,),
    done="Marked replied.", past="marked replied",
    help="Mark that you answered the customer (stops the first-response clock).", command="reply",
    own_command=True), "reply")  # `queue reply` also posts the answer (--text/--saved: alerts.replies)
register(Action(
    "waiting", "Waiting on customer", "wait", lambda q, i, a: q.mark_waiting(i, a),
    done="Waiting on the customer.", past="set waiting",
    help="Mark the item waiting on the customer (pauses the resolution clock).", command="wait"), "wait")
register(Action(
    "resolve", "Resolve", "resolve", lambda q, i, a, outcome, note: q.resolve(i, a, outcome, note=note or None),
    (Arg("outcome", "Outcome", "choice", required=True, choices=OUTCOMES, help="What was done."), NOTE),
    confirm="Resolve this item? The author's next posts are then watched to see if they came back happier.",
    done="Resolved.", past="resolved", surfaces=frozenset({WEB, CLI, SLACK}),
    help="Resolve an item with its outcome; the author's next mentions are then watched."))
register(Action(
    "dismiss", "Dismiss", "dismiss", lambda q, i, a, reason, note: q.dismiss(i, a, reason, note=note or None),
    (Arg("reason", "Reason", "choice", required=True, choices=DISMISS_REASONS), NOTE),
    confirm="Dismiss this item? It leaves the queue without an answer to the customer.",
    done="Dismissed.", past="dismissed", surfaces=frozenset({WEB, CLI, SLACK}), style="danger",
    help="Close an item that needs no work, with the reason."))
register(Action(
    "snooze", _snooze_label, "snooze", _snooze,
    (Arg("until", "Until", "when", help="A date/time such as 2026-12-01T09:00, in the [queue] time zone unless "
                                         "it has an offset or Z (or a duration such as 2h)."),
     Arg("for_", "For", "duration", help=f"A duration: {DURATION_HELP}.")),
    done="Snoozed.", past="snoozed", surfaces=frozenset({WEB, CLI, SLACK}),
    help="Hide an item until a time; it comes back by itself (default: [queue] snooze_minutes)."))
register(Action(
    "wake", "Wake", "wake", lambda q, i, a: q.wake(i, a), done="Snooze ended.", past="woke",
    help="End a snooze now."))
register(Action(
    "reopen", "Reopen", "reopen", lambda q, i, a, reason: q.reopen(i, a, reason=reason or None),
    (Arg("reason", "Reason", help="Why, for the audit trail."),),
    done="Reopened.", past="reopened", help="Reopen a resolved or dismissed item."))
register(Action(
    "note", "Add note", "note", lambda q, i, a, text: q.note(i, a, text),
    (Arg("text", "Note", required=True, positional=True),),
    done="Note added.", past="added a note to", help="Add an internal note (never sent to the customer)."))
register(Action(
    "tag", "Tag", "tag", _tag, (Arg("tags", "Tags", "tags", required=True, positional=True),),
    done="Tags saved.", past="tagged", help="Add (+tag or tag) and remove (-tag) tags."))
register(Action(
    "relabel", "Re-label", "relabel", _relabel,
    (Arg("mention_id", "Mention", "int", required=True),
     Arg("label", "Label", "choice", required=True, choices={k: k for k in HUMAN_LABELS})),
    done="Label saved; it feeds the sentiment learning loop.", past="re-labelled a mention of",
    surfaces=frozenset({WEB, CLI}), own_command=True,  # `queue relabel MENTION LABEL` finds the item itself
    help="Correct a mention's sentiment (feeds the learning loop; noted on its queue item)."))


@dataclass
class ActionRow:
    """One line of the documented table (docs/queue.md): what it is called and who may do it."""

    name: str
    label: str
    arguments: str
    permission: str
    confirm: bool
    surfaces: list[str] = field(default_factory=list)


def table(config: QueueConfig | None = None) -> list[ActionRow]:
    config = config or QueueConfig()
    return [ActionRow(a.name, a.label_for(config),
                      ", ".join(x.name.rstrip("_") + ("" if x.required else " (optional)") for x in a.args),
                      permissions.describe(a.permission), a.confirm is not None, sorted(a.surfaces))
            for a in ACTIONS.values()]
