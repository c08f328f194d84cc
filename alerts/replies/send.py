"""The reply action: post the brand's answer to a mention from the queue, and record everything about it.

One row of `replies` per attempt. Its life:

    awaiting_approval ─approve (admin)─► sending ─platform took it─► posted
            └─reject (admin)─► rejected       └─platform refused─► failed ─Retry (a person)─► a new attempt
                                               └─crash / no answer─► stays sending: "may have been posted"

Nothing lost, nothing doubled: the `sending` row is committed before the platform is called, so a crash
during the call leaves a row that says "may have been posted — check before retrying" and nothing ever
sends it again on its own; a person retries it (saying they checked) or leaves it. A posted reply is
stored as the brand's mention in the thread (through the store's normal upsert: thread rollup, first
response, the brand-replied risk discount and trend figures all see it), the queue item moves to
replied (Queue.mark_replied: first response), and the audit trail has the author and the text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from alerts import permissions
from alerts.queue import Queue, add_event
from alerts.queue import describe_reply_event as describe  # noqa: F401 - its old name here
from alerts.replies import replier_class
from alerts.replies.base import PostedReply, Replier, ReplyRefused, ReplyUncertain
from alerts.replies.tokens import TokenStore
from listener.config import Config, SavedReplyConfig
from listener.errors import UserError
from listener.logs import event
from listener.masking import mask
from listener.models import Batch, Mention, iso, parse_iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.replies")

AWAITING, REJECTED, SENDING, POSTED, FAILED = "awaiting_approval", "rejected", "sending", "posted", "failed"
STATES = (AWAITING, REJECTED, SENDING, POSTED, FAILED)
CHECKED = "checked"  # error_kind of an unsure attempt a person found was not posted (they retried it)
# A reply still `sending` after this long was cut off (a crash, a killed server): the platform's call
# times out well before (30 s by default).
STALE_SENDING = timedelta(minutes=2)
# Items a reply can be posted on; a closed or snoozed one is reopened or woken first.
REPLYABLE_STATES = ("new", "claimed", "waiting", "replied")
PLATFORM_NAMES = {"x": "X", "reddit": "Reddit", "mastodon": "Mastodon", "bluesky": "Bluesky",
                  "googleplay": "Google Play", "appstore": "the App Store"}
MAX_TEXT = 40_000  # far above every platform's limit: a form cannot store a novel


@dataclass
class Reply:
    """One attempt to answer a mention, as stored."""

    id: int
    item_id: int
    mention_id: int
    source: str
    author: str
    text: str
    state: str
    created_at: str
    updated_at: str
    saved_reply: str | None = None
    native_id: str | None = None
    url: str | None = None
    brand_mention_id: int | None = None
    error: str | None = None
    error_kind: str | None = None
    retry_after: str | None = None
    retry_of: int | None = None
    retried_by: int | None = None  # the attempt that retried this one
    approved_by: str | None = None
    approved_at: str | None = None
    sending_at: str | None = None
    finished_at: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Reply:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in row.items() if k in names})

    @property
    def platform(self) -> str:
        return PLATFORM_NAMES.get(self.source, self.source)

    def unsure(self, now: datetime | None = None) -> bool:
        """Left in `sending` by a crash or an unanswered call: it may be on the platform."""
        if self.state != SENDING:
            return False
        if self.error:
            return True
        started = parse_iso(self.sending_at or self.updated_at)
        return (now or utcnow()) - started > STALE_SENDING

    def can_retry(self, now: datetime | None = None) -> bool:
        return self.retried_by is None and (self.state == FAILED or self.unsure(now))

    def outcome(self, now: datetime | None = None) -> str:
        """What happened, in one line a person reads."""
        if self.state == POSTED:
            return f"posted on {self.platform}" + (f": {self.url}" if self.url else "")
        if self.state == AWAITING:
            return "waiting for an admin's approval"
        if self.state == REJECTED:
            return f"not approved by {self.approved_by}" + (f": {self.error}" if self.error else "")
        if self.state == FAILED:
            if self.error_kind == CHECKED:
                return f"did not go out: {self.error}"
            return f"{self.platform} refused it: {self.error}"
        if self.unsure(now):
            why = f" ({self.error})" if self.error else ""
            return f"may have been posted{why} — check on {self.platform} before retrying"
        return "sending…"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        from dataclasses import asdict

        return {**asdict(self), "platform": self.platform, "outcome": self.outcome(now), "unsure": self.unsure(now),
                "can_retry": self.can_retry(now)}


@dataclass(frozen=True)
class Target:
    """A mention a reply can answer: a customer's, on a platform overheard can post to."""

    mention_id: int
    source: str
    author: str | None
    text: str
    created_at: str
    lang: str | None
    configured: bool  # a [replies.<source>] section is there


# ---------------------------------------------------------------- platforms
def replier_for(config: Config, source: str, store: Store | None = None) -> Replier:
    """The configured replier of a platform, or UserError saying what is missing."""
    cls = replier_class(source)
    platform = PLATFORM_NAMES.get(source, source)
    if cls is None:
        raise UserError(f"overheard cannot reply on {platform} yet")
    section = config.replies.get(source)
    if section is None:
        raise UserError(f"replying on {platform} is not set up: add a [replies.{source}] section to "
                        f"{config.path.name} (see docs/queue.md)")
    if not getattr(section, "enabled", True):
        raise UserError(f"replying on {platform} is switched off ([replies.{source}] enabled = false)")
    replier = cls(section, config)
    if store is not None:
        replier.tokens = TokenStore(store, getattr(section, "token_key_env", "OVERHEARD_TOKEN_KEY"))
    return replier


def _length_and_limit(config: Config, source: str, text: str) -> tuple[int, int, str]:
    cls = replier_class(source)
    if cls is None:
        return len(text), 0, PLATFORM_NAMES.get(source, source)
    try:
        section = config.replies.get(source) or cls.Config()
    except ValidationError:  # not set up, and its settings have no defaults (App Store key ids): no 500 page
        return len(text), cls.limit, PLATFORM_NAMES.get(source, source)
    replier = cls(section, config)
    return replier.length(text), replier.limit, PLATFORM_NAMES.get(source, source)


def measure(config: Config, source: str, text: str) -> dict[str, Any]:
    """The reply's length as the platform counts it, its limit and what is left (the composer's counter)."""
    length, limit, platform = _length_and_limit(config, source, text)
    return {"length": length, "limit": limit, "left": limit - length if limit else None, "platform": platform,
            "over": bool(limit) and length > limit}


# ---------------------------------------------------------------- which mention
def targets(store: Store, config: Config, thread_key: str) -> list[Target]:
    """The thread's customer mentions overheard can answer, newest first."""
    rows = store.query(
        "SELECT id, source, author, text, created_at, lang FROM mentions WHERE thread_key = ? "
        "AND is_brand_account = 0 ORDER BY created_at DESC, id DESC", (thread_key,))
    out = []
    for r in rows:
        if replier_class(r["source"]) is None:
            continue
        out.append(Target(r["id"], r["source"], r["author"], r["text"], r["created_at"], r["lang"],
                          r["source"] in config.replies))
    return out


def pick_target(store: Store, config: Config, item: dict[str, Any], mention_id: int | None) -> Target:
    """The mention to answer: the one asked for (it must be in the item's thread), else the newest
    customer mention on a platform we can reply to."""
    found = targets(store, config, item["thread_key"])
    if mention_id is not None:
        for t in found:
            if t.mention_id == mention_id:
                return t
        in_thread = store.scalar("SELECT is_brand_account FROM mentions WHERE id = ? AND thread_key = ?",
                                 (mention_id, item["thread_key"]))
        if in_thread is None:
            raise UserError(f"mention {mention_id}: not in queue item {item['id']}'s thread")
        if in_thread:
            raise UserError(f"mention {mention_id} is the brand's own post; answer a customer's mention")
        raise UserError(f"mention {mention_id}: overheard cannot reply on that platform")
    if not found:
        raise UserError(f"queue item {item['id']}: no mention in its thread is on a platform overheard can "
                        "reply to")
    configured = [t for t in found if t.configured]
    return (configured or found)[0]


# ---------------------------------------------------------------- saved replies
def saved_replies_for(config: Config, brand: str | None, lang: str | None) -> list[SavedReplyConfig]:
    """The saved replies offered on an item of `brand` answering a mention in `lang`: the brand's own and the
    shared ones; of those, the ones in that language and the ones for any language (the language's first)."""
    fits = [s for s in config.queue.saved_replies
            if (s.brand is None or s.brand == brand) and (s.lang is None or s.lang == lang)]
    chosen: dict[str, SavedReplyConfig] = {}
    rank = {}
    for s in fits:
        score = (s.lang is not None) * 2 + (s.brand is not None)
        key = s.name.lower()
        if key not in chosen or score > rank[key]:
            chosen[key], rank[key] = s, score
    return sorted(chosen.values(), key=lambda s: s.name.lower())


def render_saved(saved: SavedReplyConfig, *, author: str | None, brand: str | None, item_id: int) -> str:
    """The saved reply with {author}, {brand} and {ticket} filled in (checked at config load)."""
    return saved.text.format(author=author or "there", brand=brand or "", ticket=str(item_id))


def offered_saved_replies(store: Store, config: Config, item_id: int,
                          mention_id: int | None = None) -> list[dict[str, Any]]:
    """The saved replies an item offers, filled in for the mention a reply would answer (composer, CLI)."""
    item = Queue(store, config.queue)._load(item_id)
    try:
        target: Target | None = pick_target(store, config, item, mention_id)
    except UserError:
        target = None
    lang = target.lang if target else None
    return [{"name": s.name, "lang": s.lang, "brand": s.brand,
             "text": render_saved(s, author=target.author if target else item.get("author"), brand=item["brand"],
                                  item_id=item_id)}
            for s in saved_replies_for(config, item["brand"], lang)]


def find_saved(config: Config, name: str, brand: str | None, lang: str | None) -> SavedReplyConfig:
    offered = saved_replies_for(config, brand, lang)
    for s in offered:
        if s.name.lower() == name.strip().lower():
            return s
    names = ", ".join(s.name for s in offered) or "none for this brand and language"
    raise UserError(f"saved reply {name!r}: no such saved reply for {brand or 'this brand'}"
                    f"{f' in {lang}' if lang else ''} (saved replies: {names}; see [[queue.saved_replies]])")


# ---------------------------------------------------------------- approval
def needs_approval(store: Store, config: Config, actor: str, item: dict[str, Any]) -> bool:
    """[queue.reply_approval]: an agent's reply waits for an admin when the rule covers this item."""
    rule = config.queue.reply_approval
    if rule.required_for == "nobody" or permissions.actor(store, actor).is_admin:
        return False
    if rule.brands and item.get("brand") not in rule.brands:
        return False
    return not (rule.priorities and item.get("priority") not in rule.priorities)


# ---------------------------------------------------------------- reading
def get_reply(store: Store, reply_id: int) -> Reply:
    if not isinstance(reply_id, int) or not 0 < reply_id < 2**63:
        raise UserError(f"reply {reply_id}: no such reply")
    rows = store.query(f"{_SELECT} WHERE r.id = ?", (reply_id,))
    if not rows:
        raise UserError(f"reply {reply_id}: no such reply (see `overheard queue replies ITEM_ID`)")
    return Reply.from_row(rows[0])


def list_replies(store: Store, item_id: int) -> list[Reply]:
    """Every attempt on the item, oldest first."""
    return [Reply.from_row(r) for r in store.query(f"{_SELECT} WHERE r.item_id = ? ORDER BY r.id", (item_id,))]


_SELECT = "SELECT r.*, (SELECT n.id FROM replies n WHERE n.retry_of = r.id) AS retried_by FROM replies r"


# ---------------------------------------------------------------- the action
def send_reply(store: Store, config: Config, item_id: int, text: str | None, actor: str, *,
               mention_id: int | None = None, saved: str | None = None, now: datetime | None = None) -> Reply:
    """Answer the item's customer on their platform (or queue the answer for approval). Returns the attempt.

    `text` or `saved` (a saved reply's name, placeholders filled in; with both, `text` is what the person
    made of the saved reply in the composer, and `saved` is kept as its origin); `mention_id` picks the mention
    answered (default: the newest customer mention on a platform we can reply to). User mistakes (no such
    item, empty or too long text, platform not set up) raise UserError before anything is stored; a
    platform's refusal is stored and returned as a `failed` attempt with its reason.
    """
    now = now or utcnow()
    queue = Queue(store, config.queue)
    item = queue._load(item_id)
    if item["state"] not in REPLYABLE_STATES:
        hint = "wake it first" if item["state"] == "snoozed" else "reopen it first"
        raise UserError(f"queue item {item_id} is {item['state']}: cannot reply; {hint}")
    permissions.check(store, actor, "reply", item)
    target = pick_target(store, config, item, mention_id)
    if saved and not (text and text.strip()):
        text = render_saved(find_saved(config, saved, item["brand"], target.lang), author=target.author,
                            brand=item["brand"], item_id=item_id)
    text = (text or "").strip()
    if not text:
        raise UserError("reply: the text is empty; write the answer (or pick a saved reply)")
    if len(text) > MAX_TEXT:
        raise UserError(f"reply: {len(text):,} characters; no platform takes more than 10,000")
    replier = replier_for(config, target.source, store)
    replier.preflight()
    length = replier.length(text)
    if length > replier.limit:
        raise UserError(f"reply: {length:,} characters as {PLATFORM_NAMES.get(target.source)} counts them; it "
                        f"allows {replier.limit:,} (shorten it by {length - replier.limit:,})")
    waits = needs_approval(store, config, actor, item)
    with store.transaction() as conn:
        same = conn.execute(
            "SELECT id, state FROM replies WHERE mention_id = ? AND text = ? AND state IN (?, ?, ?) ORDER BY id",
            (target.mention_id, text, AWAITING, SENDING, POSTED)).fetchone()
        if same:
            raise UserError(f"reply {same[0]} with this exact text to the same mention is already {same[1]}; "
                            "nothing was sent twice")
        reply_id = _insert(conn, item_id, target, actor, text, saved, AWAITING if waits else SENDING, now)
        if waits:
            add_event(store, item_id, actor, "reply_awaiting_approval",
                      {"reply_id": reply_id, "mention_id": target.mention_id, "text": text}, now)
    if waits:
        event(log, "reply_awaiting_approval", item=item_id, reply=reply_id, author=actor)
        return get_reply(store, reply_id)
    return _post(store, config, replier, reply_id, actor)


def approve_reply(store: Store, config: Config, reply_id: int, actor: str, *, now: datetime | None = None) -> Reply:
    """An admin's Approve: the waiting reply is posted now (as its author wrote it)."""
    now = now or utcnow()
    reply = get_reply(store, reply_id)
    item = Queue(store, config.queue)._load(reply.item_id)
    permissions.check(store, actor, "approve_reply", item)
    if reply.state != AWAITING:
        raise UserError(f"reply {reply_id} is {reply.state.replace('_', ' ')}: only a reply waiting for approval "
                        "can be approved")
    replier = replier_for(config, reply.source, store)
    replier.preflight()
    with store.transaction() as conn:
        changed = conn.execute(
            "UPDATE replies SET state = ?, approved_by = ?, approved_at = ?, sending_at = ?, updated_at = ? "
            "WHERE id = ? AND state = ?", (SENDING, actor, iso(now), iso(now), iso(now), reply_id, AWAITING)).rowcount
        if not changed:  # another admin approved or rejected it a moment ago
            raise UserError(f"reply {reply_id} was just approved or rejected by someone else")
        add_event(store, reply.item_id, actor, "reply_approved", {"reply_id": reply_id, "author": reply.author}, now)
    return _post(store, config, replier, reply_id, actor)


def reject_reply(store: Store, config: Config, reply_id: int, actor: str, reason: str = "", *,
                 now: datetime | None = None) -> Reply:
    """An admin's Reject: the waiting reply is never posted; the reason goes to its author in the trail."""
    now = now or utcnow()
    reply = get_reply(store, reply_id)
    item = Queue(store, config.queue)._load(reply.item_id)
    permissions.check(store, actor, "approve_reply", item)
    with store.transaction() as conn:
        changed = conn.execute(
            "UPDATE replies SET state = ?, approved_by = ?, approved_at = ?, error = ?, finished_at = ?, "
            "updated_at = ? WHERE id = ? AND state = ?",
            (REJECTED, actor, iso(now), reason.strip() or None, iso(now), iso(now), reply_id, AWAITING)).rowcount
        if not changed:
            raise UserError(f"reply {reply_id} is {reply.state.replace('_', ' ')}: only a reply waiting for "
                            "approval can be rejected")
        add_event(store, reply.item_id, actor, "reply_rejected",
                  {"reply_id": reply_id, "author": reply.author, "reason": reason.strip()}, now)
    return get_reply(store, reply_id)


def retry_reply(store: Store, config: Config, reply_id: int, actor: str, *, checked: bool = False,
                now: datetime | None = None) -> Reply:
    """A person's Retry of a refused reply (a new attempt, same text and mention). A reply that may have been
    posted (left in `sending`) is retried only with `checked`: the person looked and it is not there."""
    now = now or utcnow()
    reply = get_reply(store, reply_id)
    queue = Queue(store, config.queue)
    item = queue._load(reply.item_id)
    permissions.check(store, actor, "retry_reply", item)
    if reply.retried_by is not None:
        raise UserError(f"reply {reply_id} was retried already (reply {reply.retried_by})")
    if reply.state == SENDING:
        if not reply.unsure(now):
            raise UserError(f"reply {reply_id} is being sent right now; wait for the outcome")
        if not checked:
            raise UserError(f"reply {reply_id} may have been posted: check on {reply.platform} first; if it is not "
                            "there, retry it saying so (CLI: --checked; web: \"Not there: retry\")")
    elif reply.state != FAILED:
        raise UserError(f"reply {reply_id} is {reply.state.replace('_', ' ')}: only a failed reply can be retried")
    if item["state"] not in REPLYABLE_STATES:
        raise UserError(f"queue item {reply.item_id} is {item['state']}: cannot reply; reopen it first")
    replier = replier_for(config, reply.source, store)
    replier.preflight()
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM replies WHERE retry_of = ?", (reply_id,)).fetchone():
            raise UserError(f"reply {reply_id} was just retried by someone else")
        mention = store.query("SELECT id, source, author, text, created_at, lang FROM mentions WHERE id = ?",
                              (reply.mention_id,))[0]
        target = Target(mention["id"], mention["source"], mention["author"], mention["text"], mention["created_at"],
                        mention["lang"], True)
        new_id = _insert(conn, reply.item_id, target, actor, reply.text, reply.saved_reply, SENDING, now,
                         retry_of=reply_id)
        if reply.state == SENDING:
            # The unsure attempt is settled by the person's word: it did not go out.
            conn.execute("UPDATE replies SET state = ?, error = ?, error_kind = ?, finished_at = ?, updated_at = ? "
                         "WHERE id = ?", (FAILED, f"not on {reply.platform} (checked by {actor})", CHECKED, iso(now),
                                          iso(now), reply_id))
        add_event(store, reply.item_id, actor, "reply_retried", {"reply_id": new_id, "retry_of": reply_id}, now)
    return _post(store, config, replier, new_id, actor)


# ---------------------------------------------------------------- internals
def _insert(conn: Any, item_id: int, target: Target, actor: str, text: str, saved: str | None, state: str,
            now: datetime, retry_of: int | None = None) -> int:
    row = conn.execute(
        "INSERT INTO replies (item_id, mention_id, source, author, text, saved_reply, state, retry_of, created_at, "
        "sending_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (item_id, target.mention_id, target.source, actor, text, saved, state, retry_of, iso(now),
         iso(now) if state == SENDING else None, iso(now))).fetchone()
    return int(row[0])


def _post(store: Store, config: Config, replier: Replier, reply_id: int, queue_actor: str) -> Reply:
    """Call the platform for a reply already committed as `sending`, then record what happened."""
    reply = get_reply(store, reply_id)
    mention = store.query("SELECT * FROM mentions WHERE id = ?", (reply.mention_id,))[0]
    try:
        try:
            posted = replier.post_reply(mention, reply.text)
        except UserError as exc:  # a secret unset since the preflight: nothing went out
            raise ReplyRefused(str(exc), "invalid") from None
    except ReplyRefused as exc:
        now = utcnow()
        reason = mask(exc.reason)
        retry_at = iso(now + timedelta(seconds=exc.retry_after_s)) if exc.retry_after_s is not None else None
        with store.transaction() as conn:
            conn.execute("UPDATE replies SET state = ?, error = ?, error_kind = ?, retry_after = ?, finished_at = ?, "
                         "updated_at = ? WHERE id = ?",
                         (FAILED, reason, exc.kind, retry_at, iso(now), iso(now), reply_id))
            add_event(store, reply.item_id, reply.author, "reply_failed",
                      {"reply_id": reply_id, "platform": reply.platform, "reason": reason, "kind": exc.kind}, now)
        event(log, "reply_failed", logging.WARNING, item=reply.item_id, reply=reply_id, kind=exc.kind, reason=reason)
        return get_reply(store, reply_id)
    except ReplyUncertain as exc:
        now = utcnow()
        reason = mask(exc.reason)
        with store.transaction() as conn:
            conn.execute("UPDATE replies SET error = ?, updated_at = ? WHERE id = ?", (reason, iso(now), reply_id))
            add_event(store, reply.item_id, reply.author, "reply_unsure",
                      {"reply_id": reply_id, "platform": reply.platform, "reason": reason}, now)
        event(log, "reply_unsure", logging.WARNING, item=reply.item_id, reply=reply_id, reason=reason)
        return get_reply(store, reply_id)
    except Exception as exc:
        # Our bug or the client library's: whether it went out is unknown, so the attempt stays `sending`
        # ("may have been posted") with the error named; the traceback is still raised and logged.
        with store.transaction() as conn:
            conn.execute("UPDATE replies SET error = ?, updated_at = ? WHERE id = ?",
                         (mask(f"unexpected error: {type(exc).__name__}: {exc}")[:500], iso(utcnow()), reply_id))
        raise
    return _record_posted(store, config, reply, mention, posted, queue_actor)


def _brand_handle(config: Config, brand: str | None) -> str | None:
    for b in config.brands:
        if b.name == brand and b.handles:
            return b.handles[0].lstrip("@").removeprefix("u/")
    return None


def _record_posted(store: Store, config: Config, reply: Reply, mention: dict[str, Any], posted: PostedReply,
                   queue_actor: str) -> Reply:
    now = utcnow()
    thread_id = mention["thread_key"].split(":", 1)[1]
    brand_mention = Mention(
        source=mention["source"], native_id=str(posted.native_id), text=reply.text, created_at=now,
        brand=mention["brand"], url=posted.url,
        author=posted.author or _brand_handle(config, mention["brand"]) or mention["brand"],
        thread_id=thread_id, parent_id=mention["native_id"], is_brand_account=True,
        raw=posted.raw or {"id": posted.native_id},
    )
    with store.transaction() as conn:
        # The store's own upsert: if a collector stored this post first (or stores it later), it is one mention.
        store.save_batch(mention["source"], "replies", Batch(mentions=[brand_mention]))
        brand_id = store.scalar("SELECT id FROM mentions WHERE source = ? AND native_id = ?",
                                (mention["source"], str(posted.native_id)))
        conn.execute("UPDATE replies SET state = ?, native_id = ?, url = ?, brand_mention_id = ?, error = NULL, "
                     "finished_at = ?, updated_at = ? WHERE id = ?",
                     (POSTED, str(posted.native_id), posted.url, brand_id, iso(now), iso(now), reply.id))
        add_event(store, reply.item_id, reply.author, "reply_posted",
                  {"reply_id": reply.id, "mention_id": reply.mention_id, "platform": reply.platform,
                   "text": reply.text, "url": posted.url, "author": reply.author,
                   **({"approved_by": queue_actor} if queue_actor != reply.author else {})}, now)
    event(log, "reply_posted", item=reply.item_id, reply=reply.id, platform=reply.source, author=reply.author)
    # The queue moves after the record is safe: an item someone closed a moment ago keeps the posted reply.
    queue = Queue(store, config.queue)
    try:
        state = queue._load(reply.item_id)["state"]
        if state == "new":
            queue.claim(reply.item_id, reply.author)
            state = "claimed"
        if state in ("claimed", "waiting"):
            queue.mark_replied(reply.item_id, queue_actor)
    except UserError as exc:
        log.warning("reply %s posted; queue item %s not moved to replied: %s", reply.id, reply.item_id, exc)
    return get_reply(store, reply.id)
