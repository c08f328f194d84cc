"""Secret masking: the one function every log line, printed error and stored error goes through.

The secrets are the values of the environment variables that the config names with `*_env` keys
(tokens, passwords, webhook URLs), remembered when a config is loaded, plus anything shaped like a
credential: Slack tokens and webhook URLs, bearer tokens, `token=…` pairs, and the password in a
`scheme://user:password@host` URL. A secret URL is also masked in parts (without its scheme, its
path), because HTTP libraries quote URLs in pieces in their errors.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from listener.errors import UserError

MASK = "***"
# Shorter values would mask ordinary words ("test", "prod"); patterns catch short tokens of known shapes.
MIN_SECRET_CHARS = 6

_PATTERNS = [
    re.compile(r"xox[abposre]-[A-Za-z0-9-]{6,}"),  # Slack tokens
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),
    re.compile(r"(?:https?://)?hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=%-]{8,}"),
    re.compile(r"(?i)((?:access_token|refresh_token|client_secret|password|passwd|secret|token|api_key|apikey|"
               r"signature)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]{4,}"),
    # user:password@ in any URL
    re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+(?=@)"),
]

_lock = threading.Lock()
_known: set[str] = set()


def secret_parts(value: str) -> list[str]:
    """A secret and the pieces of it that error messages quote on their own (URL without scheme, path)."""
    parts = [value]
    if "://" in value:
        try:
            url = urlsplit(value)
        except ValueError:
            return parts
        parts.append(value.split("://", 1)[1])
        tail = url.path + (f"?{url.query}" if url.query else "")
        if len(tail) >= 12:  # "/services/T0/B0/XXXX": the part that is the secret
            parts.append(tail)
        if url.password:
            parts.append(url.password)
    return [p for p in parts if len(p) >= MIN_SECRET_CHARS]


def remember(values: Iterable[str]) -> None:
    """Add secret values to the set every later mask() call hides (called when a config is loaded)."""
    with _lock:
        for value in values:
            if isinstance(value, str) and value.strip():
                _known.update(secret_parts(value.strip()))


def forget_all() -> None:
    """Drop the remembered secrets (tests)."""
    with _lock:
        _known.clear()


def mask(text: Any, extra: Iterable[str] = ()) -> str:
    """`text` with every remembered secret, every value in `extra` and every credential shape replaced by ***."""
    out = "" if text is None else str(text)
    with _lock:
        known = set(_known)
    for value in extra:
        known.update(secret_parts(value) if value else ())
    for secret in sorted(known, key=len, reverse=True):  # longest first: a URL before its path
        if secret in out:
            out = out.replace(secret, MASK)
    for pattern in _PATTERNS:
        out = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, out)
    return out


def config_secrets(config: Any) -> list[str]:
    """Values of every environment variable named by a `*_env` key anywhere in the config that are set."""
    sections: list[Any] = [*getattr(config, "sources", {}).values(), *getattr(config, "receivers", []),
                           *getattr(config, "replies", {}).values()]
    web = getattr(config, "web", None)
    if web is not None:
        sections.append(web)
    values: list[str] = []
    for section in sections:
        values.extend(_env_values(section))
    return values


def _env_values(section: Any) -> list[str]:
    out: list[str] = []
    if not isinstance(section, BaseModel):
        return out
    for name in type(section).model_fields:
        value = getattr(section, name)
        if name.endswith("_env") and isinstance(value, str) and value and os.environ.get(value):
            out.append(os.environ[value])
        elif isinstance(value, BaseModel):
            out.extend(_env_values(value))
        elif isinstance(value, (list, tuple)):
            for item in value:
                out.extend(_env_values(item))
        elif isinstance(value, str) and "://" in value and "@" in value:  # a password written into a URL
            password = _url_password(value)
            if password:
                out.append(password)
    return out


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password
    except ValueError:
        return None


class MaskingFilter(logging.Filter):
    """A logging filter: the message, every structured field and any traceback text, masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def mask(self, text: str) -> str:
        return mask(text, self.secrets)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._clean(v) for v in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        record.msg = self.mask(message)
        record.args = None
        fields = getattr(record, "fields", None)
        if fields is not None:
            record.fields = self._clean(fields)
        if record.exc_info and isinstance(record.exc_info[1], UserError):
            # A problem the user can fix (a store that cannot be opened mid-run): its one line, no traceback.
            record.msg += f": {self.mask(str(record.exc_info[1]))}"
            record.exc_info = None
            record.exc_text = None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks print the exception message: render it now, masked.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.msg += "\n" + self.mask(record.exc_text)
            record.exc_text = None
        return True


def install_on_root(secrets: Iterable[str] = ()) -> None:
    """Put a MaskingFilter on every handler of the root logger (the CLI's plain logging)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter(secrets))
