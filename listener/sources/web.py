"""What the open-web sources share: their common config keys, HTTP with our error rules, the
newest-first cursor and brand attribution.

Error rules (every source, every client): 429 → SourceError(retry_after=…); 401/403 →
SourceError(auth=True); 5xx and connection failures → a bounded number of retries with backoff,
then SourceError. A run that fails keeps what earlier batches stored; its cursor does not move.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from pydantic import Field

from listener.errors import ConfigError, SourceError
from listener.models import iso, parse_iso, utcnow
from listener.query import BrandMatcher
from listener.sources.base import SourceConfig

log = logging.getLogger("overheard.sources")

USER_AGENT = "overheard/0.1 (social listening and feedback monitor)"
DEFAULT_RETRY_AFTER = 60.0  # seconds, when a 429 does not say how long to wait

T = TypeVar("T")


class WebSourceConfig(SourceConfig):
    """Keys every open-web source has, on top of `enabled` and `interval_minutes`."""

    # Seconds to wait for one HTTP response before giving up on it.
    timeout_seconds: float = Field(default=20, gt=0)
    # Extra attempts after a 5xx answer or a dropped connection (429 and 4xx are never retried).
    retries: int = Field(default=2, ge=0, le=10)
    # Wait before retry n is this × 2^(n-1) seconds.
    retry_backoff_seconds: float = Field(default=2, ge=0)
    # The first run of a query (no cursor yet) reaches this far back; `--backfill` overrides it.
    first_run_days: float = Field(default=7, gt=0)
    # Most pages one query reads per run; beyond it older items are left for a backfill.
    max_pages: int = Field(default=10, ge=1, le=1000)


# ---------------------------------------------------------------- HTTP
def retry_after_seconds(value: str | None, default: float = DEFAULT_RETRY_AFTER) -> float:
    """Seconds from a Retry-After header (a number or an HTTP date); `default` when absent or unreadable."""
    if not value:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - utcnow()).total_seconds(), 0.0)


def country_codes(values: list[str]) -> list[str]:
    """Lower-cased two-letter storefront codes; a ValueError names the first bad one (for validators)."""
    out = [v.strip().lower() for v in values]
    bad = [v for v in out if len(v) != 2 or not v.isalpha()]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a two-letter country code")
    return out


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


def status_error(what: str, status: int, *, retry_after: str | None = None, detail: str = "") -> SourceError:
    """The SourceError for an HTTP status that is not worth retrying now."""
    detail = f" ({detail[:200]})" if detail else ""
    if status == 429:
        wait = retry_after_seconds(retry_after)
        return SourceError(f"{what}: rate limited (HTTP 429); try again in {wait:.0f} s{detail}", retry_after=wait)
    if status in (401, 403):
        return SourceError(f"{what}: access refused (HTTP {status}); check the credentials{detail}", auth=True)
    if status == 404:
        return SourceError(f"{what}: not found (HTTP 404); check the id or URL in the config{detail}")
    return SourceError(f"{what}: HTTP {status}{detail}")


def with_retries(call: Callable[[], T], *, what: str, retries: int, backoff: float,
                 is_transient: Callable[[Exception], bool]) -> T:
    """Run `call`; retry it up to `retries` times when it fails in a way `is_transient` accepts."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc) or attempt >= retries:
                raise
            attempt += 1
            wait = backoff * 2 ** (attempt - 1)
            log.info("%s: %s; retry %d of %d in %.1f s", what, exc, attempt, retries, wait)
            time.sleep(wait)


class _Transient(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


def http_get(session: requests.Session, url: str, config: WebSourceConfig, *, what: str,
             params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
             ok: Iterable[int] = (200,)) -> requests.Response:
    """GET with a timeout and our error rules; returns a response whose status is in `ok`."""
    accepted = set(ok)

    def once() -> requests.Response:
        try:
            resp = session.get(url, params=params, headers=headers, timeout=config.timeout_seconds)
        except requests.RequestException as exc:
            raise _Transient(f"cannot reach {host_of(url)}: {type(exc).__name__}") from exc
        if resp.status_code >= 500:
            raise _Transient(f"server error HTTP {resp.status_code}")
        return resp

    try:
        resp = with_retries(once, what=what, retries=config.retries, backoff=config.retry_backoff_seconds,
                            is_transient=lambda e: isinstance(e, _Transient))
    except _Transient as exc:
        tries = config.retries + 1
        raise SourceError(f"{what}: {exc} ({tries} attempt{'s' if tries > 1 else ''})") from None
    if resp.status_code not in accepted:
        raise status_error(what, resp.status_code, retry_after=resp.headers.get("Retry-After"),
                           detail=_short_body(resp))
    return resp


def _short_body(resp: requests.Response) -> str:
    try:
        text = resp.text
    except Exception:  # noqa: BLE001 - only for the message
        return ""
    return " ".join(text.split())[:200]


def json_body(resp: requests.Response, what: str) -> Any:
    """The response's JSON, or a SourceError saying the body is not JSON."""
    try:
        return resp.json()
    except ValueError:
        raise SourceError(f"{what}: the answer is not JSON (starts {resp.text[:80]!r})") from None


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


# ---------------------------------------------------------------- the newest-first cursor
@dataclass
class Watermark:
    """Where a newest-first listing was read up to: the newest item's time and the ids seen at that time.

    Items at exactly `newest` are asked for again next run (clocks tick in whole seconds) and skipped by id,
    so nothing posted in the same second is lost and nothing is counted twice.
    """

    newest: datetime | None = None
    ids: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, cursor: str | None) -> Watermark:
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            return cls(parse_iso(data["newest"]) if data.get("newest") else None, set(data.get("ids", [])))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("unreadable cursor %r; starting from the first-run window", cursor[:80])
            return cls()

    def dump(self) -> str:
        return json.dumps({"newest": iso(self.newest) if self.newest else None, "ids": sorted(self.ids)})

    def is_new(self, created: datetime, native_id: str) -> bool:
        if self.newest is None:
            return True
        created = created.replace(microsecond=0)
        return created > self.newest or (created == self.newest and native_id not in self.ids)

    def advance(self, created: datetime, native_id: str) -> None:
        created = created.replace(microsecond=0)
        if self.newest is None or created > self.newest:
            self.newest, self.ids = created, {native_id}
        elif created == self.newest:
            self.ids.add(native_id)


def window_start(cursor: Watermark, backfill: timedelta | None, config: WebSourceConfig) -> datetime:
    """The oldest time this run asks for: the cursor, else the backfill, else the first-run window."""
    if cursor.newest is not None:
        return cursor.newest
    return utcnow() - (backfill or timedelta(days=config.first_run_days))


# ---------------------------------------------------------------- brands
def searched_brand(matcher: BrandMatcher, text: str, brand: str | None) -> str | None:
    """For a search result: `brand` when the shared rules agree the text mentions it, else None.

    Search engines stem, fuzz and match inside words; the local rules (keywords, handles, exclusions)
    decide, so every source agrees on what a mention is.
    """
    hits = [m.brand for m in matcher.matches(text)]
    if brand is None:
        return hits[0] if hits else None
    return brand if brand in hits else None


def search_terms(keywords: Iterable[str]) -> list[str]:
    """Distinct search terms (case-insensitive) from a brand's keywords, in config order."""
    seen: dict[str, str] = {}
    for k in keywords:
        seen.setdefault(k.strip().lower(), k.strip())
    return list(seen.values())


def brand_search_terms(tracked: Any) -> list[str]:
    """What a keyword-only search API is asked for a brand: its keywords, then the words and phrases its
    advanced `query` needs a text to contain one of (handles left out: these APIs search text). The
    shared query rules still decide, on what comes back, which results are mentions."""
    from listener.query import brand_query, positive_terms

    extra: list[str] = []
    if getattr(tracked, "query", None):
        extra = [" ".join(t.words) for t in positive_terms(brand_query(tracked)) if not t.words[0].startswith("@")]
    return search_terms([*tracked.keywords, *extra])


def nps_bucket(stars: int) -> str:
    """The NPS-style bucket a star rating falls in: 5 promoter, 4 passive, 1-3 detractor."""
    return "promoter" if stars >= 5 else "passive" if stars == 4 else "detractor"


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 time (naive means UTC) or Unix seconds; ValueError naming `what` otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} is missing")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            return parse_iso(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{what} {str(value)[:40]!r} is not a time")


def check_brands(app: Any, list_key: str, brands: list[str | None]) -> None:
    """Each app or feed names a configured brand or competitor; a ConfigError names the one that does not."""
    known = {t.name for t in app.all_tracked()}
    for i, brand in enumerate(brands):
        if brand is not None and brand not in known:
            raise ConfigError(app.path.name, f"{list_key}[{i}].brand",
                              f"{brand!r} is not a name from [[brands]] or [[competitors]]")


def raw_text(item: Any) -> str:
    """An item as JSON text for the quarantine table."""
    return json.dumps(item, ensure_ascii=False, default=str)[:10000]
