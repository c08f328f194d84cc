"""Human corrections of sentiment: stored for the learning loop, applied to the mention at once."""

from __future__ import annotations

from listener.errors import UserError
from listener.models import iso, utcnow
from listener.store import Store, set_label
from listener.threads import mark_dirty, recount

HUMAN_LABELS = ("negative", "neutral", "positive")


def relabel(store: Store, mention_id: int, label: str, actor: str) -> None:
    """Record `actor`'s label for a mention and make it the mention's current label."""
    if label not in HUMAN_LABELS:
        raise UserError(f"label {label!r}: must be one of {', '.join(HUMAN_LABELS)}")
    with store.transaction() as conn:
        row = conn.execute("SELECT thread_key FROM mentions WHERE id = ?", (mention_id,)).fetchone()
        if row is None:
            raise UserError(f"mention {mention_id}: no such mention")
        now = iso(utcnow())
        conn.execute("INSERT INTO labels (mention_id, label, actor, at) VALUES (?, ?, ?, ?)",
                     (mention_id, label, actor, now))
        # Its thread's running totals counted the old label: the thread is counted again in full.
        recount(conn, [row[0]])
        set_label(conn, mention_id, label)
        mark_dirty(conn, [row[0]])
