"""Login throttling, kept in the store so it holds across threads and several server processes.

An attempt is written down *before* its password is checked, in the same IMMEDIATE transaction that
counts the earlier ones: twenty parallel guesses cannot all pass the count before any is recorded.
Within WINDOW, counting wrong passwords and checks still running:

- one client address and one name: PAIR_LIMIT, then that client is refused for that name;
- one client address, any names (password spraying): CLIENT_LIMIT, then that client is refused;
- one name from all addresses (a spread-out attack): ACCOUNT_LIMIT, then only browsers that logged in
  to it before (a signed device cookie) may keep trying.

So a stranger who sends wrong passwords in someone's name locks out only their own address, and a
spread-out attack still lets the real user in from a browser they used before.
A right password clears that client's count for the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from listener.models import iso, parse_iso, utcnow
from listener.store import Store

WINDOW = timedelta(minutes=15)
PAIR_LIMIT = 5
CLIENT_LIMIT = 20
ACCOUNT_LIMIT = 30
MAX_KEY = 128  # a name typed into the form is stored as typed, up to this length


@dataclass
class Refusal:
    """Why an attempt was not even checked, and when it can be tried again."""

    reason: str  # "name from this address" | "this address" | "name from unknown browsers"
    retry_after_s: int


def reserve(store: Store, account: str, client: str, *, known_device: bool = False,
            now: datetime | None = None) -> int | Refusal:
    """Record an attempt about to be checked (its id), or say why it must not be."""
    now = now or utcnow()
    account, client = account[:MAX_KEY], client[:MAX_KEY]
    since = iso(now - WINDOW)
    with store.transaction() as conn:
        conn.execute("DELETE FROM login_attempts WHERE at < ?", (since,))
        checks = (
            ("name from this address", "account = ? AND client = ?", (account, client), PAIR_LIMIT),
            ("this address", "client = ?", (client,), CLIENT_LIMIT),
        )
        if not known_device:
            checks += (("name from unknown browsers", "account = ?", (account,), ACCOUNT_LIMIT),)
        for reason, where, args, limit in checks:
            count, oldest = conn.execute(
                f"SELECT COUNT(*), MIN(at) FROM login_attempts WHERE {where} AND at >= ?", (*args, since)).fetchone()
            if count >= limit:
                # Free again when enough of the counted attempts have aged out of the window.
                nth = conn.execute(
                    f"SELECT at FROM login_attempts WHERE {where} AND at >= ? ORDER BY at LIMIT 1 OFFSET ?",
                    (*args, since, count - limit)).fetchone()
                free_at = parse_iso(nth[0] if nth else oldest) + WINDOW
                return Refusal(reason, max(1, int((free_at - now).total_seconds()) + 1))
        cur = conn.execute("INSERT INTO login_attempts (at, account, client, state) VALUES (?, ?, ?, 'checking')",
                           (iso(now), account, client))
        return int(cur.lastrowid)


def failed(store: Store, attempt: int) -> None:
    """The password was wrong: the attempt keeps counting for the rest of the window."""
    with store.transaction() as conn:
        conn.execute("UPDATE login_attempts SET state = 'failed' WHERE id = ?", (attempt,))


def succeeded(store: Store, attempt: int, account: str, client: str) -> None:
    """The password was right: this client's count for this name starts again."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM login_attempts WHERE id = ? OR (account = ? AND client = ? AND state = 'failed')",
                     (attempt, account[:MAX_KEY], client[:MAX_KEY]))
