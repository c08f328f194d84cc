"""Structured logs for the daemon: one line per run and per alert, as text or JSON, secrets masked.

`event(log, "run", source="x", new=3)` writes `run source=x new=3` in text mode and
`{"ts": …, "level": "INFO", "event": "run", "source": "x", "new": 3}` with `--log-format json`.
Every line passes listener.masking's filter, which replaces the value of every secret the config
names (`*_env` variables, passwords in URLs) and anything shaped like a token with `***`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any, Literal

from listener.masking import MASK, MaskingFilter  # noqa: F401 - MASK re-exported
from listener.masking import config_secrets as _config_secrets
from listener.models import iso, utcnow
from listener.text import for_terminal, terminal_json

LogFormat = Literal["text", "json"]
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
        return for_terminal(line)  # log lines land in terminals: no escape sequences from posts or names


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
        return terminal_json(json.dumps(data, ensure_ascii=False, default=str))


# The filter and the secrets lookup live in listener.masking (one masking function for logs, the
# CLI and stored errors); these names stay for the code that imported them from here.
SecretFilter = MaskingFilter
config_secrets = _config_secrets


def setup_logging(fmt: LogFormat = "text", level: int = logging.INFO, secrets: Iterable[str] = (),
                  stream: Any = None) -> logging.Handler:
    """Send every `overheard.*` log line (and APScheduler's warnings) to `stream`, formatted and masked."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(MaskingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("overheard").setLevel(level)
    # APScheduler logs every job start at INFO; its warnings (missed runs, max instances) matter.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return handler
