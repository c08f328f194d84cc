"""Where the store lives: an SQLite file (the default, embedded) or a PostgreSQL database.

`resolve` turns what the store was given (a file path, or a `postgresql://` URL) into a Target. The
PostgreSQL password never sits in the config: it comes from the environment variable named by
`[store] password_env` (OVERHEARD_DATABASE_PASSWORD unless set), or from libpq's own PGPASSWORD or
~/.pgpass, and URLs are shown with their password masked (listener.masking).

Tests: with OVERHEARD_TEST_DATABASE_URL set, every store opened on a file path opens instead on that
PostgreSQL server, in a schema of its own named after the path (so two processes opening the same
path share it, and each test's tmp_path gets a fresh one). `pytest --backend=postgresql` sets it.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from listener.masking import mask

URL_PREFIXES = ("postgresql://", "postgres://")
TEST_URL_ENV = "OVERHEARD_TEST_DATABASE_URL"
DATABASE_URL_ENV = "OVERHEARD_DATABASE_URL"
# Set from [store] password_env when a config is loaded (listener.config).
password_env = "OVERHEARD_DATABASE_PASSWORD"


@dataclass(frozen=True)
class Target:
    backend: str  # "sqlite" | "postgresql"
    location: str  # the file path, or the URL (with no password in it unless the user wrote one)
    schema: str | None = None  # PostgreSQL: a schema of its own (tests), else the URL's search_path

    @property
    def shown(self) -> str:
        """The location as messages show it: never a password."""
        return mask(self.location) if self.backend == "postgresql" else self.location


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(URL_PREFIXES)


def resolve(path: str | Path) -> Target:
    text = str(path)
    if is_url(text):
        # ?schema=NAME: the store's tables in that schema (created when missing), e.g. one per tenant
        parts = urlsplit(text)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), None)
        if schema is not None:
            if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
                raise ValueError(f"schema {schema!r}: use lower-case letters, digits and _")
            rest = urlencode([(k, v) for k, v in query if k != "schema"])
            text = urlunsplit(parts._replace(query=rest))
        return Target("postgresql", text, schema)
    test_url = os.environ.get(TEST_URL_ENV)
    if test_url:
        if text == ":memory:":
            return Target("postgresql", test_url, f"m_{uuid.uuid4().hex[:20]}")
        digest = hashlib.sha1(os.path.abspath(text).encode()).hexdigest()[:24]
        return Target("postgresql", test_url, f"t_{digest}")
    return Target("sqlite", text)


def password() -> str | None:
    """The PostgreSQL password from the environment variable the config names, if it is set."""
    return os.environ.get(password_env) or None
