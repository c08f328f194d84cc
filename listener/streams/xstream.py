"""The X filtered stream (API v2): rules kept in sync with the brands' queries, posts as they are made.

    GET  /2/tweets/search/stream/rules            -> {"data": [{"id", "value", "tag"}], "meta": {...}}
    POST /2/tweets/search/stream/rules            {"add": [{"value", "tag"}]} / {"delete": {"ids": [...]}}
    GET  /2/tweets/search/stream?tweet.fields=…   -> one JSON object per line:
         {"data": {post}, "includes": {"users": [...], "tweets": [...]}, "matching_rules": [{"id", "tag"}]}
         and "\\r\\n" keep-alives every 20 s.

tweepy 4.17 still ships `StreamingClient`, but its host is hard-coded and its reconnect loop has no
jitter and no place for our status, so the stream is read with requests (which tweepy uses anyway);
mentions are built by the X source's own `_to_mentions` (same native_id as search: stored once; a retweet
arrives as its original plus the retweet).
Rules: one per tracked name, tagged `overheard:<name>`, with the same query the search uses; rules
with other tags belong to someone else and are left alone. Reconnects follow X's "Handling
disconnections": network errors back off linearly (250 ms steps up to 16 s), HTTP errors
exponentially from 5 s (to 320 s), 429 from 60 s; 90 s without even a keep-alive is a disconnect.
The cursor (the newest post id seen) is for status; X replays only with `backfill_minutes`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from listener.config import Config, XStreamConfig
from listener.logs import event
from listener.models import Quarantined
from listener.sources.base import SourceQuery
from listener.store import Store
from listener.streams.base import Backoff, Buffer, Stream, StreamError, response_socket, shutdown_socket

log = logging.getLogger("overheard.streams.x")
STREAM = "/2/tweets/search/stream"
RULES = "/2/tweets/search/stream/rules"


def x_source(app: Config) -> Any:
    from listener.sources.x import XConfig, XSource

    section = app.sources.get("x")
    return XSource(section if isinstance(section, XConfig) else XConfig(), app)


class XStream(Stream):
    source = "x"
    config: XStreamConfig

    def __init__(self, config: XStreamConfig, app: Config) -> None:
        super().__init__("x", config, app, "stream:filtered")
        self.x = x_source(app)
        self.http = requests.Session()

    def check(self) -> None:
        self.x.token()  # ConfigError naming the variable when it is not set

    def backoff(self, kind: str) -> Backoff:
        if kind not in self.backoffs:
            c = self.config
            self.backoffs[kind] = (
                Backoff(c.tcp_backoff_seconds, c.tcp_backoff_max_seconds, linear=True) if kind == "network"
                else Backoff(c.rate_limit_backoff_seconds, c.rate_limit_backoff_max_seconds) if kind == "rate"
                else Backoff(c.backoff_base_seconds, c.backoff_max_seconds))
        return self.backoffs[kind]

    # ------------------------------------------------------------ rules
    def wanted_rules(self) -> dict[str, str]:
        """tag -> rule value, one per tracked name (the search query, so both paths agree)."""
        return {f"{self.config.rule_tag_prefix}{t.name}": self.x.search_query(t) for t in self.x._tracked()}

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.x.config.api_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {self.x.token()}", "User-Agent": "overheard"}
        try:
            response = self.http.request(method, url, headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise StreamError(f"X {path}: {type(exc).__name__} talking to {self.x.config.api_url}") from None
        if response.status_code == 429:
            reset = response.headers.get("x-rate-limit-reset")
            raise StreamError(f"X {path}: rate limited (HTTP 429)", kind="rate",
                              retry_after=_reset_in(reset))
        if response.status_code in (401, 403):
            raise StreamError(f"X refused the bearer token in ${self.x.config.bearer_token_env} for {path} "
                              f"(HTTP {response.status_code}: {_detail(response)}); the filtered stream needs a "
                              "project with stream access", kind="auth")
        if response.status_code >= 400:
            raise StreamError(f"X {path}: HTTP {response.status_code}: {_detail(response)}", kind="http")
        return response

    def sync_rules(self) -> dict[str, int]:
        """Add the missing rules, delete stale ones of ours; returns the counts (for logs and tests)."""
        timeout = self.x.config.timeout_seconds
        body = self._request("GET", RULES, timeout=timeout).json()
        have = [r for r in body.get("data") or [] if isinstance(r, dict)]
        ours = [r for r in have if str(r.get("tag") or "").startswith(self.config.rule_tag_prefix)]
        wanted = self.wanted_rules()
        stale = [str(r["id"]) for r in ours if wanted.get(str(r.get("tag"))) != r.get("value")]
        kept = {str(r.get("tag")) for r in ours if str(r["id"]) not in stale}
        missing = [{"value": v, "tag": t} for t, v in wanted.items() if t not in kept]
        if stale:
            self._request("POST", RULES, json={"delete": {"ids": stale}}, timeout=timeout)
        if missing:
            answer = self._request("POST", RULES, json={"add": missing}, timeout=timeout).json()
            for err in answer.get("errors") or []:
                # A rule X refuses (too long, bad operator) is logged; the other brands still stream.
                event(log, "stream_rule_refused", logging.ERROR, stream=self.name,
                      rule=str(err.get("value") or err.get("id"))[:200], error=str(err.get("title") or err)[:200])
        counts = {"added": len(missing), "deleted": len(stale), "kept": len(kept)}
        event(log, "stream_rules", stream=self.name, **counts)
        return counts

    # ------------------------------------------------------------ the stream
    def session(self, store: Store, buffer: Buffer, reconnect: bool) -> None:
        from listener.sources.x import EXPANSIONS, TWEET_FIELDS, USER_FIELDS

        self.sync_rules()
        params: dict[str, Any] = {"tweet.fields": ",".join(TWEET_FIELDS), "expansions": ",".join(EXPANSIONS),
                                  "user.fields": ",".join(USER_FIELDS)}
        if reconnect and self.config.backfill_minutes:
            params["backfill_minutes"] = self.config.backfill_minutes
        # The read timeout is X's "90 seconds of silence": keep-alives arrive every 20 s.
        response = self._request("GET", STREAM, params=params, stream=True,
                                 timeout=(self.x.config.timeout_seconds, self.config.silence_seconds))
        self.on_close(lambda: shutdown_socket(response_socket(response)))
        self.connected(store)
        first = True
        try:
            for line in response.iter_lines(chunk_size=512):
                if self.stop_event.is_set():
                    return
                if first:
                    self.healthy()
                    first = False
                if not line.strip():
                    buffer.flush_if_due()  # a keep-alive
                    continue
                self.handle(line, buffer)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            if self.stop_event.is_set():
                return
            silent = "Read timed out" in str(exc)
            what = f"sent nothing for {self.config.silence_seconds:.0f} s" if silent else "dropped"
            raise StreamError(f"X stream {what} ({type(exc).__name__})") from None
        finally:
            response.close()

    def handle(self, line: bytes, buffer: Buffer) -> None:
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError(f"a {type(obj).__name__}, not an object")
        except ValueError as exc:
            text = line[:10000].decode("utf-8", "replace")
            buffer.add(None, None, quarantined=Quarantined("x", f"{self.x.config.api_url}{STREAM} line {text[:60]!r}",
                                                           f"X stream line is not JSON: {exc}", text))
            return
        if "data" not in obj:
            # X sends {"errors": [{"title": "operational-disconnect", ...}]} before it drops a stream.
            if obj.get("errors"):
                titles = "; ".join(str(e.get("title") or e.get("detail")) for e in obj["errors"] if isinstance(e, dict))
                raise StreamError(f"X ended the stream: {titles}", kind="http")
            return
        post = obj["data"]
        includes = obj.get("includes") or {}
        users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
        refs = {str(t.get("id")): t for t in includes.get("tweets") or [] if isinstance(t, dict)}
        prefix = self.config.rule_tag_prefix
        tracked = {t.name for t in self.app.all_tracked()}
        brands = [str(r.get("tag"))[len(prefix):] for r in obj.get("matching_rules") or []
                  if isinstance(r, dict) and str(r.get("tag") or "").startswith(prefix)]
        brand = next((b for b in brands if b in tracked), None)
        post_id = str(post.get("id")) if isinstance(post, dict) else None
        if brand is None:
            buffer.add(None, None)  # someone else's rule, or a brand since removed from the config
            return
        handles = {h.lower() for h in self.x._handles(brand)}
        try:
            # A retweet arrives as the original (from includes) plus the retweet, as in search.
            mentions = self.x._to_mentions(post, users, refs, handles, SourceQuery(f"stream:{brand}", brand, ""))
            for mention in mentions:
                mention.metrics["via"] = "stream"
        except Exception as exc:  # BadText, a missing field: quarantined, the stream goes on
            buffer.add(None, None, quarantined=Quarantined(
                "x", f"{self.x.config.api_url}{STREAM} post {post_id}", str(exc) or type(exc).__name__,
                json.dumps(obj, ensure_ascii=False, default=str)[:10000]))
            return
        *earlier, last = mentions
        buffer.batch.mentions.extend(earlier)
        buffer.add(last, post_id if post_id and post_id.isdigit() else None, last.created_at)


def _reset_in(reset: str | None) -> float | None:
    import time

    if not reset or not reset.isdigit():
        return None
    return max(0.0, int(reset) - time.time())


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body.get("errors") or "")[:200]
    return ""

