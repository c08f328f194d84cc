"""People who work the queue: names, roles (agent, admin), scrypt password hashes, Slack ids.

Each user has a session version: every web session is issued under the current one and checked
against it on every request, so `end_sessions` (logout, a new password, disabling) ends them all.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from listener.errors import UserError
from listener.models import iso, utcnow
from listener.store import Store

ROLES = ("agent", "admin")
MIN_PASSWORD = 8
# scrypt cost: 2**14 x 8 x 1 uses 16 MiB and ~50 ms per check, the interactive-login setting from its paper.
_N, _R, _P = 2**14, 8, 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass
class User:
    name: str
    role: str
    slack_user_id: str | None
    created_at: str
    disabled: bool
    session_version: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` with a random 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '-' or '@', starting with a "
                        f"letter or digit")
    return name


def add_user(store: Store, name: str, role: str, password: str, slack_user_id: str | None = None) -> User:
    """Create a user who can log in to the queue; raises UserError if the name is taken."""
    _check_name(name)
    if role not in ROLES:
        raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise UserError(f"user {name!r} exists already (use `overheard users passwd` to change the password)")
        if slack_user_id and conn.execute("SELECT 1 FROM users WHERE slack_user_id = ?", (slack_user_id,)).fetchone():
            raise UserError(f"Slack user {slack_user_id} already belongs to another user")
        conn.execute(
            "INSERT INTO users (name, role, password_hash, slack_user_id, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, role, hash_password(password), slack_user_id or None, iso(utcnow())))
    return get_user(store, name)  # type: ignore[return-value]


def set_password(store: Store, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    with store.transaction() as conn:
        # A new password ends every session: a cookie copied before the change is worth nothing after it.
        if not conn.execute("UPDATE users SET password_hash = ?, session_version = session_version + 1 "
                            "WHERE name = ?", (hash_password(password), name)).rowcount:
            raise UserError(f"user {name!r}: no such user")


def set_disabled(store: Store, name: str, disabled: bool) -> None:
    with store.transaction() as conn:
        if not conn.execute("UPDATE users SET disabled = ?, session_version = session_version + 1 WHERE name = ?",
                            (int(disabled), name)).rowcount:
            raise UserError(f"user {name!r}: no such user")


def end_sessions(store: Store, name: str) -> None:
    """End every web session of `name` (all browsers, all server processes) from the next request on."""
    with store.transaction() as conn:
        conn.execute("UPDATE users SET session_version = session_version + 1 WHERE name = ?", (name,))


_USER_COLUMNS = "name, role, slack_user_id, created_at, disabled, session_version"


def _user(r: dict) -> User:
    return User(r["name"], r["role"], r["slack_user_id"], r["created_at"], bool(r["disabled"]), r["session_version"])


def get_user(store: Store, name: str) -> User | None:
    rows = store.query(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,))
    return _user(rows[0]) if rows else None


def list_users(store: Store) -> list[User]:
    return [_user(r) for r in store.query(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")]


def authenticate(store: Store, name: str, password: str) -> User | None:
    """The user when name and password match and the account is enabled; else None."""
    row = store.query("SELECT password_hash FROM users WHERE name = ? AND disabled = 0", (name,))
    if not row:
        # Spend the same time as a real check, so response time does not reveal which names exist.
        check_password(password, _dummy_hash())
        return None
    if not check_password(password, row[0]["password_hash"]):
        return None
    return get_user(store, name)


def user_for_slack(store: Store, slack_user_id: str) -> User | None:
    """The user linked to a Slack id (disabled ones included: the caller refuses them)."""
    rows = store.query("SELECT name FROM users WHERE slack_user_id = ?", (slack_user_id,))
    return get_user(store, rows[0]["name"]) if rows else None


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))
