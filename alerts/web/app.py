"""The queue web UI as a FastAPI app: sessions, login, CSRF, security headers, templates.

Everything but /healthz and the Slack endpoint (which Slack signs instead) needs a logged-in user.
Sessions are signed cookies (itsdangerous, through Starlette's SessionMiddleware); every form carries
the session's CSRF token; every page is served with a Content-Security-Policy that allows no inline
script; mention text is escaped by Jinja's autoescape.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.users import User, get_user
from listener.config import Config
from listener.store import Store

log = logging.getLogger("overheard.web")
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


class SecurityHeaders:
    """Adds SECURITY_HEADERS (and no-store caching for pages) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode().lower() not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def session_secret(config: Config) -> str:
    """The cookie-signing key: the [web] session_secret_env variable, else a key file beside the database."""
    value = os.environ.get(config.web.session_secret_env, "")
    if value:
        return value
    path = config.db_path.parent / "session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        log.info("wrote a new session key to %s", path)
    return path.read_text().strip()


def open_store(request: Request) -> Iterator[Store]:
    """One store per request (SQLite connections are cheap; WAL lets readers and the pipeline run together)."""
    store = Store(request.app.state.config.db_path)
    try:
        yield store
    finally:
        store.close()


def require_user(request: Request, store: Store) -> User:
    name = request.session.get("user")
    user = get_user(store, name) if name else None
    if user is None or user.disabled:
        request.session.pop("user", None)
        raise LoginRequired()
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: Any) -> None:
    sent = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
    expected = request.session.get("csrf") or ""
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
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


def create_app(config: Config, *, secret: str | None = None, slack_signing_secret: str | None = None) -> FastAPI:
    """The web app for `config`. `secret` signs sessions (default: see `session_secret`)."""
    from alerts.web import routes

    app = FastAPI(title="overheard queue", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.state.jinja = _jinja(config)
    app.state.slack_signing_secret = (slack_signing_secret if slack_signing_secret is not None
                                      else os.environ.get(config.web.slack_signing_secret_env, ""))
    app.state.login_failures = {}
    app.state.last_tick = float("-inf")
    app.add_middleware(SessionMiddleware, secret_key=secret or session_secret(config),
                       session_cookie="overheard_session", max_age=config.web.session_hours * 3600,
                       same_site="lax", https_only=config.web.secure_cookies)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and "application/json" not in request.headers.get("accept", ""):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse({"error": "login required"}, status_code=401)

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return Response("This form has expired or did not come from this site (CSRF check failed). "
                        "Go back, reload the page and try again.", status_code=403, media_type="text/plain")

    app.include_router(routes.router)
    return app
