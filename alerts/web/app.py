"""The queue web UI as a FastAPI app: sessions, login, CSRF, security headers, templates.

Everything but /healthz and the Slack endpoint (which Slack signs instead) needs a logged-in user.
Sessions are signed cookies (itsdangerous, through Starlette's SessionMiddleware) that carry the
user's session version, checked on every request, so logout, a new password or disabling a user
ends all their sessions; every form carries the session's CSRF token; every page is served with a
Content-Security-Policy that allows no inline script; mention text is escaped by Jinja's autoescape.

Around the app (outermost first): trusted-proxy headers (only from `[web] trusted_proxies`), one
structured log line per request, the body-size limit (counted while reading), security headers,
Secure cookies over HTTPS and relative redirects, then the session.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.users import User, get_user
from listener.config import Config
from listener.logs import event
from listener.models import iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.web")
SESSION_COOKIE = "overheard_session"
# With secure_cookies the browser itself enforces Secure, Path=/ and no Domain for the session cookie
# (a cookie set by a sibling subdomain or over plain http cannot overwrite it).
SECURE_SESSION_COOKIE = "__Host-overheard_session"
DEVICE_COOKIE = "overheard_device"
DEVICE_DAYS = 180
# Slack signs at most a few KB of JSON per click: its endpoint refuses more than this whatever max_body_kb says.
SLACK_MAX_BODY = 64 * 1024
PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


class LoginRequired(Exception):
    """Raised by `require_user`; answered with a redirect to /login (pages) or 401 (JSON, POST)."""


class CsrfFailed(Exception):
    """A form without the session's CSRF token."""


def security_event(name: str, request_or_scope: Request | Scope, **fields: Any) -> None:
    """One structured WARNING line for something an attacker may be doing (login failure, CSRF, Slack, size)."""
    scope = request_or_scope.scope if isinstance(request_or_scope, Request) else request_or_scope
    client = scope.get("client")
    event(log, name, logging.WARNING, client=client[0] if client else None, path=scope.get("path"), **fields)


def is_https(scope: Scope) -> bool:
    return scope.get("scheme") == "https"


def _relative(location: str) -> str:
    # Redirects never name a host: one built from the request's Host header would send people wherever
    # the sender of that header likes. A relative reference resolves against the page's own address.
    from urllib.parse import urlsplit

    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        return location
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class SecurityHeaders:
    """Adds SECURITY_HEADERS (and no-store caching for pages) to every response; marks cookies Secure
    when the request came over HTTPS (or `always_secure`); keeps every redirect on this site."""

    def __init__(self, app: ASGIApp, always_secure: bool = False) -> None:
        self.app = app
        self.always_secure = always_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = self.always_secure or is_https(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for k, v in message.get("headers", []):
                    name = k.decode("latin-1").lower()
                    if name in SECURITY_HEADERS:
                        continue
                    if name == "location":
                        v = _relative(v.decode("latin-1")).encode("latin-1")
                    elif name == "set-cookie" and secure and b"; secure" not in v.lower():
                        v += b"; Secure"
                    headers.append((k, v))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if secure:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    """Raised from `receive` once a request body passes its limit; answered 413 by BodyLimit."""


class BodyLimit:
    """Refuses request bodies over the limit without buffering them: a declared Content-Length over the
    limit is refused before one byte of body is read, and a body without one (chunked) is counted as
    it arrives and cut off at the limit. The connection is closed after the 413."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.max_bytes)
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                length = -1
            if length < 0:
                await _plain(send, 400, "Bad Content-Length header.")
                return
            if length > limit:
                security_event("body_too_large", scope, limit=limit, declared=length)
                await _plain(send, 413, f"Request too large: at most {limit // 1024} KB.")
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            security_event("body_too_large", scope, limit=limit, received=received)
            if not started:
                await _plain(send, 413, f"Request too large: at most {limit // 1024} KB.")


async def _plain(send: Send, status: int, text: str) -> None:
    body = (f"<!doctype html><meta charset=\"utf-8\"><title>{status}</title><p>{text}</p>").encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLog:
    """One structured line per request: method, path, status, user, duration, client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        state = scope.setdefault("state", {})

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            client = scope.get("client")
            event(log, "request", logging.WARNING if status >= 500 else logging.INFO,
                  method=scope["method"], path=scope["path"], status=status, user=state.get("user"),
                  duration_ms=round((time.perf_counter() - started) * 1000, 1),
                  client=client[0] if client else None)


def session_secret(config: Config) -> str:
    """The cookie-signing key: the [web] session_secret_env variable, else the store's own key.

    The store's key (table web_secrets) is made by the first process that needs it and read by every
    other, so several `overheard serve` processes, on one host or several behind a load balancer,
    accept each other's sessions and CSRF tokens. A session.key file left beside an SQLite database
    by an earlier version becomes the store's key, so signed-in users stay signed in."""
    value = os.environ.get(config.web.session_secret_env, "")
    if value:
        return value
    with Store(config.database) as store:
        existing = store.scalar("SELECT value FROM web_secrets WHERE name = 'session'")
        if existing:
            return str(existing)
        legacy = config.db_path.parent / "session.key"
        old = legacy.read_text().strip() if store.backend == "sqlite" and legacy.is_file() else ""
        with store.transaction() as conn:
            # Two processes starting at once: the first one's key is the one both use.
            conn.execute("INSERT INTO web_secrets (name, value, created_at) VALUES ('session', ?, ?) "
                         "ON CONFLICT (name) DO NOTHING", (old or secrets.token_urlsafe(48), iso(utcnow())))
        if not old:
            log.info("made a new session key, kept in the store (set [web] session_secret_env to choose one)")
        return str(store.scalar("SELECT value FROM web_secrets WHERE name = 'session'"))


def open_store(request: Request) -> Iterator[Store]:
    """One store per request (SQLite connections are cheap; WAL lets readers and the pipeline run together)."""
    store = Store(request.app.state.config.database)
    try:
        yield store
    finally:
        store.close()


def require_user(request: Request, store: Store) -> User:
    name = request.session.get("user")
    user = get_user(store, name) if isinstance(name, str) else None
    if user is None or user.disabled or request.session.get("sv") != user.session_version:
        # Logged out elsewhere, password changed, disabled, or a session from before versions: all end here.
        request.session.clear()
        raise LoginRequired()
    request.state.user = user.name
    return user


def start_session(request: Request, user: User) -> None:
    """A fresh session on login: a session fixed before login is worth nothing after it."""
    request.session.clear()
    request.session["user"] = user.name
    request.session["sv"] = user.session_version


def client_address(request: Request) -> str:
    """The client's address (the proxy's X-Forwarded-For only when the proxy is in [web] trusted_proxies)."""
    return request.client.host if request.client else "unknown"


def _devices(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.secret, salt="overheard-device")


def known_device(request: Request, name: str) -> bool:
    """True when this browser logged in as `name` before (a signed cookie set at that login)."""
    value = request.cookies.get(DEVICE_COOKIE)
    if not value:
        return False
    try:
        return _devices(request).loads(value, max_age=DEVICE_DAYS * 86400) == name
    except BadSignature:
        return False


def remember_device(request: Request, response: Response, name: str) -> None:
    response.set_cookie(DEVICE_COOKIE, _devices(request).dumps(name), max_age=DEVICE_DAYS * 86400,
                        httponly=True, samesite="lax", secure=is_https(request.scope), path="/login")


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: Any) -> None:
    sent = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
    expected = request.session.get("csrf") or ""
    if not expected or not isinstance(sent, str) or not isinstance(expected, str) \
            or not hmac.compare_digest(sent.encode(), expected.encode()):
        security_event("csrf_failed", request, user=request.session.get("user"),
                       why="no token in the session" if not expected else "token missing or wrong")
        raise CsrfFailed()


def flash(request: Request, kind: str, text: str) -> None:
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], [kind, text]][-5:]


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    env: jinja2.Environment = request.app.state.jinja
    messages = request.session.pop("flash", [])
    html = env.get_template(template).render(
        request=request, csrf_token=csrf_token(request), flashes=messages,
        config=request.app.state.config, **context)
    return Response(html, status_code=status, media_type="text/html; charset=utf-8")


def _jinja(config: Config) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    zone = ZoneInfo(config.queue.timezone)

    def local(value: str | None, fmt: str = "%a %d %b %H:%M") -> str:
        if not value:
            return ""
        try:
            return datetime.fromisoformat(value).astimezone(zone).strftime(fmt)
        except (OverflowError, ValueError):  # a stored time at the edge of the calendar (9999-12-31)
            return value

    def number(value: float | None) -> str:
        if value is None:
            return "—"
        return f"{value / 1_000_000:.1f}M" if value >= 1_000_000 else f"{value / 1000:.0f}k" if value >= 10_000 \
            else f"{value:,}"

    def web_link(value: str | None) -> str:
        # Mention URLs come from the outside: only http(s) links are rendered, never javascript: or data:.
        if not value or not value.lower().startswith(("http://", "https://")):
            return ""
        return value

    env.filters["local"] = local
    env.filters["web_link"] = web_link
    env.filters["number"] = number
    return env


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not a script asking for JSON)."""
    accept = request.headers.get("accept", "")
    return "application/json" not in accept or "text/html" in accept


def error_page(request: Request, status: int, message: str) -> Response:
    """The error as a page for a browser, as JSON for a script; never a traceback."""
    if not wants_html(request):
        return JSONResponse({"error": message}, status_code=status)
    try:
        return render(request, "error.html", status=status, message=message, title=_TITLES.get(status, "Error"),
                      user=_logged_in(request))
    except Exception:  # noqa: BLE001 - the error page must not fail in turn (a broken session, say)
        log.exception("error page failed")
        return Response(f"{status}: {message}", status_code=status, media_type="text/plain")


def _logged_in(request: Request) -> User | None:
    """The logged-in user for an error page's menu, or None; never raises (the page must not fail)."""
    name = request.session.get("user") if "session" in request.scope else None
    if not isinstance(name, str):
        return None
    store = Store(request.app.state.config.db_path)
    try:
        user = get_user(store, name)
    finally:
        store.close()
    if user is None or user.disabled or request.session.get("sv") != user.session_version:
        return None
    return user


_TITLES = {400: "Bad request", 401: "Log in", 403: "Forbidden", 404: "Not found", 405: "Not allowed",
           413: "Too large", 422: "Not understood", 429: "Too many attempts", 500: "Server error"}


def create_app(config: Config, *, secret: str | None = None, slack_signing_secret: str | None = None) -> FastAPI:
    """The web app for `config`. `secret` signs sessions (default: see `session_secret`)."""
    from alerts.web import dashboard, live, routes

    app = FastAPI(title="overheard queue", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.state.jinja = _jinja(config)
    app.state.slack_signing_secret = (slack_signing_secret if slack_signing_secret is not None
                                      else os.environ.get(config.web.slack_signing_secret_env, ""))
    app.state.secret = secret or session_secret(config)
    app.state.last_tick = float("-inf")
    # add_middleware puts each one outside the ones before it: the session is innermost, proxy headers outermost.
    app.add_middleware(SessionMiddleware, secret_key=app.state.secret,
                       session_cookie=SECURE_SESSION_COOKIE if config.web.secure_cookies else SESSION_COOKIE,
                       max_age=config.web.session_hours * 3600,
                       same_site="lax", https_only=config.web.secure_cookies)
    app.add_middleware(SecurityHeaders, always_secure=config.web.secure_cookies)
    app.add_middleware(BodyLimit, max_bytes=config.web.max_body_kb * 1024,
                       per_path={"/slack/actions": min(SLACK_MAX_BODY, config.web.max_body_kb * 1024)})
    app.add_middleware(RequestLog)
    if config.web.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=config.web.trusted_proxies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "There is no such page.", 405: "That page does not take this kind of request."}.get(
            exc.status_code, str(exc.detail))
        response = error_page(request, exc.status_code, message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        where = [".".join(str(p) for p in e.get("loc", ())[1:]) or "request" for e in exc.errors()]
        return error_page(request, 422, f"Not understood: {', '.join(sorted(set(where)))} (check the address "
                                        f"or form and try again).")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return Response("Something went wrong on our side; it has been logged.", status_code=500,
                        media_type="text/plain")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and "application/json" not in request.headers.get("accept", ""):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return error_page(request, 401, "login required: your session has ended; log in again")

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return error_page(request, 403, "This form has expired or did not come from this site (CSRF check "
                                        "failed). Go back, reload the page and try again.")

    from alerts.web import reply_routes

    app.include_router(reply_routes.router)  # the composer's routes (before the generic item actions)
    app.include_router(routes.router)
    app.include_router(dashboard.router)
    app.include_router(live.router)
    return app
