"""The Google Play worker: runs google-play-scraper in its own process, one query per run.

stdin: a JSON job (base_url, app_id, lang, country, count, max_pages, since, timeout, attempts,
gateway_delay); stdout: one JSON line, {"pages": [[raw review, ...], ...]} or {"error": {...}}.
Only the standard library and google-play-scraper are imported here, so the worker starts fast and
nothing of overheard runs with the library's process-wide TLS change (which it undoes anyway).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def run(job: dict[str, Any]) -> dict[str, Any]:
    import socket
    import ssl

    verified = ssl._create_default_https_context
    import google_play_scraper  # noqa: F401 - this import switches TLS verification off, process-wide
    from google_play_scraper import Sort
    from google_play_scraper.constants.request import PLAY_STORE_BASE_URL, Formats
    from google_play_scraper.features.reviews import _fetch_review_items
    from google_play_scraper.utils import request as play_request

    ssl._create_default_https_context = verified  # and this puts it back before any request
    socket.setdefaulttimeout(job["timeout"])  # urllib has no timeout of its own
    play_request.MAX_RETRIES = job["attempts"]
    play_request.RATE_LIMIT_DELAY = job["gateway_delay"]

    url = Formats.Reviews.build(lang=job["lang"], country=job["country"]).replace(PLAY_STORE_BASE_URL, job["base_url"])
    pages: list[Any] = []
    token = None
    for _ in range(job["max_pages"]):
        try:
            items, token = _fetch_review_items(url, job["app_id"], Sort.NEWEST.value, job["count"], None, None, token)
        except Exception as exc:  # noqa: BLE001 - the library raises bare Exceptions; sorted for the parent
            return {"error": _describe(exc, job["attempts"])}
        pages.append(items)
        oldest = min((r[5][0] for r in items if _has_time(r)), default=None)
        if not items or not isinstance(token, str) or (oldest is not None and oldest < job["since"]):
            break
    return {"pages": pages}


def _has_time(review: Any) -> bool:
    try:
        return isinstance(review[5][0], (int, float))
    except (TypeError, IndexError, KeyError):
        return False


def _describe(exc: Exception, attempts: int) -> dict[str, Any]:
    from urllib.error import HTTPError, URLError

    cause = exc.__context__ if isinstance(exc.__context__, HTTPError) else exc
    if isinstance(cause, HTTPError):
        return {"status": cause.code, "retry_after": cause.headers.get("Retry-After"), "attempts": attempts,
                "message": f"HTTP {cause.code}"}
    if isinstance(exc, (URLError, OSError)):
        reason = getattr(exc, "reason", exc)
        return {"status": None, "message": f"cannot reach Google Play ({reason})", "attempts": attempts}
    if "PlayGatewayError" in str(exc):
        return {"status": None, "message": "PlayGatewayError (throttled)", "attempts": attempts}
    return {"status": None, "message": f"the answer is not the review data Play sends ({type(exc).__name__})",
            "attempts": attempts}


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.stdin.read())), default=str))
