"""Structured logs for the daemon: one line per run and per alert, as text or JSON, secrets masked.

`event(log, "run", source="x", new=3)` writes `run source=x new=3` in text mode and
`{"ts": …, "level": "INFO", "event": "run", "source": "x", "new": 3}` with `--log-format json`.
Every line passes a filter that replaces the value of every secret the config names (`*_env`
variables) and anything shaped like a token with `***`, so a secret never reaches a log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel

from listener.models import iso, utcnow

LogFormat = Literal["text", "json"]
MASK = "***"
# Shapes of credentials that may turn up inside error messages (URLs, headers) even when we did not name them.
_TOKEN_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{6,}"),  # Slack tokens
    re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),  # Slack incoming webhook URLs
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=%-]{8,}"),
    re.compile(r"(?i)((?:access_token|client_secret|password|token|api_key)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',]{4,}"),
]


def event(logger: logging.Logger, name: str, severity: int = logging.INFO, **fields: Any) -> None:
    """Log one structured line: an event name and its fields."""
    logger.log(severity, name, extra={"event": name, "fields": fields})


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (not text or any(c in text for c in ' "=')) else text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        message = record.getMessage()
        if fields is not None:
            message += "".join(f" {k}={_text_value(v)}" for k, v in fields.items() if v is not None)
        line = f"{iso(utcnow())} {record.levelname} {record.name}: {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": iso(utcnow()), "level": record.levelname, "logger": record.name}
        fields = getattr(record, "fields", None)
        if fields is not None:
            data["event"] = getattr(record, "event", record.getMessage())
            # A field never overwrites the line's own keys (ts, level, logger, event).
            data.update({(k if k not in data else f"field_{k}"): v for k, v in fields.items() if v is not None})
        else:
            data["message"] = record.getMessage()
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class SecretFilter(logging.Filter):
    """Masks known secret values and token-shaped strings in the message and every field."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole. Very short values
        # would mask ordinary words, so they are left to the patterns.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
        return text

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._clean(v) for v in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.mask(record.getMessage())
        record.args = None
        fields = getattr(record, "fields", None)
        if fields is not None:
            record.fields = self._clean(fields)
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks print the exception message: render it now, masked.
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.exc_text:
            record.msg += "\n" + self.mask(record.exc_text)
            record.exc_text = None
        return True


def config_secrets(config: Any) -> list[str]:
    """The values of every environment variable named by a `*_env` key in the sources and receivers."""
    sections: list[BaseModel] = [*getattr(config, "sources", {}).values(), *getattr(config, "receivers", [])]
    values = []
    for section in sections:
        for field_name in type(section).model_fields:
            if field_name.endswith("_env"):
                env_name = getattr(section, field_name)
                if isinstance(env_name, str) and os.environ.get(env_name):
                    values.append(os.environ[env_name])
    return values


def setup_logging(fmt: LogFormat = "text", level: int = logging.INFO, secrets: Iterable[str] = (),
                  stream: Any = None) -> logging.Handler:
    """Send every `overheard.*` log line (and APScheduler's warnings) to `stream`, formatted and masked."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("overheard").setLevel(level)
    # APScheduler logs every job start at INFO; its warnings (missed runs, max instances) matter.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return handler
