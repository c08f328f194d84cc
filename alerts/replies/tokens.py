"""OAuth tokens of the brand accounts the queue replies as, encrypted at rest.

Tokens are rows of `reply_tokens`, each one a Fernet token (AES-128-CBC + HMAC-SHA256, from the
`cryptography` package) made with a key read from an environment variable (`[replies.x] token_key_env`,
default OVERHEARD_TOKEN_KEY). Why Fernet and not the OS keyring: overheard runs as a daemon and a web
server on headless machines, where `keyring` usually has no backend (no desktop Secret Service); an
environment variable is how every other secret reaches overheard already. The database file is 0600,
so a copy of it without the key holds nothing usable; the key is never written anywhere by overheard.

Several processes (daemon, web server, CLI) share the rows: a refresh writes the new (rotated) refresh
token in one transaction, and a process whose refresh was refused re-reads the row, since another one
may have rotated it first (see alerts.replies.x).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from listener.errors import UserError
from listener.masking import remember
from listener.models import iso, utcnow
from listener.store import Store

KEY_HELP = ('make one with `python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"` and keep it like any other secret')


@dataclass(frozen=True)
class StoredTokens:
    platform: str
    account: str | None
    data: dict[str, Any]
    expires_at: str | None
    updated_at: str


class TokenStore:
    """Encrypted token rows, one per platform. `key_env` names the variable holding the Fernet key."""

    def __init__(self, store: Store, key_env: str) -> None:
        self.store = store
        self.key_env = key_env

    def _fernet(self) -> Any:
        from cryptography.fernet import Fernet

        key = os.environ.get(self.key_env, "").strip()
        if not key:
            raise UserError(f"environment variable {self.key_env} is not set: it holds the key that encrypts "
                            f"connected accounts' tokens; {KEY_HELP}")
        try:
            return Fernet(key.encode())
        except (ValueError, TypeError):
            raise UserError(f"environment variable {self.key_env} is not a Fernet key (32 bytes, url-safe "
                            f"base64); {KEY_HELP}") from None

    def save(self, platform: str, data: dict[str, Any], *, account: str | None = None,
             expires_at: str | None = None) -> None:
        """Encrypt and keep `data` (access token, refresh token, ...) for `platform`, replacing what was there."""
        remember(str(v) for k, v in data.items() if "token" in k and isinstance(v, str))
        ciphertext = self._fernet().encrypt(json.dumps(data).encode()).decode()
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO reply_tokens (platform, account, ciphertext, expires_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform) DO UPDATE SET account = excluded.account, "
                "ciphertext = excluded.ciphertext, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                (platform, account, ciphertext, expires_at, iso(utcnow())))

    def load(self, platform: str) -> StoredTokens | None:
        """The decrypted tokens, or None when the platform was never connected."""
        from cryptography.fernet import InvalidToken

        rows = self.store.query("SELECT * FROM reply_tokens WHERE platform = ?", (platform,))
        if not rows:
            return None
        row = rows[0]
        try:
            data = json.loads(self._fernet().decrypt(row["ciphertext"].encode()))
        except InvalidToken:
            raise UserError(f"the stored {platform} tokens do not open with the key in {self.key_env} (was the key "
                            f"changed?); connect again with `overheard connect {platform}`") from None
        # Never printed: every log line and stored error masks them from now on.
        remember(str(v) for k, v in data.items() if "token" in k and isinstance(v, str))
        return StoredTokens(platform, row["account"], data, row["expires_at"], row["updated_at"])

    def forget(self, platform: str) -> bool:
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM reply_tokens WHERE platform = ?", (platform,)).rowcount > 0
