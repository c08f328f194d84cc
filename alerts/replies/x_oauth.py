"""X's OAuth 2.0 user context with PKCE: connect the brand account once, refresh its tokens after.

The flow (https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code):
`overheard connect x` prints the authorize URL; the person approves in a browser; X redirects to
`[replies.x] redirect_uri` with `code` and `state`, which a one-shot listener on 127.0.0.1 receives (or
the person pastes the redirected URL); the code and the PKCE verifier are exchanged at
`POST /2/oauth2/token` for an access token (2 hours) and, with the `offline.access` scope, a refresh
token. X rotates refresh tokens: every refresh returns a new one and the old one stops working, so the
new pair is stored (encrypted, alerts.replies.tokens) before it is used.

The token endpoint is two form POSTs, written here with requests: requests-oauthlib (what tweepy's
OAuth2UserHandler uses) refuses plain-http URLs unless a process-wide environment switch is set, and
its token URLs are fixed, so it could not be pointed at a test server without changing the process.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from listener.errors import UserError
from listener.models import iso, utcnow

if TYPE_CHECKING:
    from alerts.replies.tokens import TokenStore
    from alerts.replies.x import XReplyConfig
    from listener.config import Config

TOKEN_PATH = "/2/oauth2/token"


class TokenRefused(Exception):
    """The token endpoint said no (a used or revoked refresh token, a wrong client id): one line why."""


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        """RFC 7636: a 43-128 character verifier and its S256 challenge."""
        verifier = secrets.token_urlsafe(64)[:96]
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def client_credentials(app: Config, section: XReplyConfig) -> tuple[str, str | None]:
    client_id = app.secret("replies.x.client_id_env", section.client_id_env)
    secret = app.secret("replies.x.client_secret_env", section.client_secret_env) if section.client_secret_env \
        else None
    return client_id, secret


def authorize_url(section: XReplyConfig, client_id: str, state: str, pkce: Pkce) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": section.redirect_uri,
             "scope": " ".join(section.scopes), "state": state, "code_challenge": pkce.challenge,
             "code_challenge_method": "S256"}
    return f"{section.authorize_url}?{urlencode(query)}"


def _token_request(section: XReplyConfig, client_id: str, secret: str | None, data: dict[str, str]) -> dict[str, Any]:
    # A public client sends its id in the body; a confidential one authenticates with Basic auth.
    auth = (client_id, secret) if secret else None
    try:
        resp = requests.post(section.api_url.rstrip("/") + TOKEN_PATH, data={**data, "client_id": client_id},
                             auth=auth, timeout=section.timeout_seconds,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    except requests.RequestException as exc:
        raise TokenRefused(f"could not reach X's token endpoint ({type(exc).__name__})") from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        what = body.get("error_description") or body.get("error") or f"HTTP {resp.status_code}" \
            if isinstance(body, dict) else f"HTTP {resp.status_code}"
        raise TokenRefused(f"X refused the token request: {what}")
    return body


def token_data(body: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """What we keep of a token answer: the tokens, when the access token expires, the scopes."""
    expires_in = int(body.get("expires_in") or 7200)
    data = dict(previous or {})
    data.update(access_token=body["access_token"], expires_at=iso(utcnow() + timedelta(seconds=expires_in)),
                scope=body.get("scope", data.get("scope", "")))
    if body.get("refresh_token"):
        data["refresh_token"] = body["refresh_token"]
    return data


def exchange_code(section: XReplyConfig, client_id: str, secret: str | None, code: str, pkce: Pkce) -> dict[str, Any]:
    return _token_request(section, client_id, secret, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": section.redirect_uri,
        "code_verifier": pkce.verifier})


def refresh(section: XReplyConfig, client_id: str, secret: str | None, refresh_token: str) -> dict[str, Any]:
    return _token_request(section, client_id, secret, {"grant_type": "refresh_token",
                                                       "refresh_token": refresh_token})


def whoami(section: XReplyConfig, access_token: str) -> dict[str, Any]:
    """The connected account (GET /2/users/me): its id and @username, for links and the brand's replies."""
    from alerts.replies.x import x_client

    client = x_client(section, access_token)
    try:
        me = client.get_me(user_auth=False)
    except Exception as exc:  # noqa: BLE001 - tweepy's errors and requests' alike: one line
        raise TokenRefused(f"X did not say which account the token belongs to ({type(exc).__name__}: {exc})") \
            from None
    data = me.get("data") if isinstance(me, dict) else None
    if not isinstance(data, dict) or "username" not in data:
        raise TokenRefused("X did not say which account the token belongs to")
    return data


def parse_redirect(url: str, state: str) -> str:
    """The authorization code in the URL X redirected to, after checking its state; else UserError."""
    query = parse_qs(urlsplit(url.strip()).query)
    if query.get("error"):
        raise UserError(f"connect x: X answered {query['error'][0]!r}"
                        + (f" ({query['error_description'][0]})" if query.get("error_description") else "")
                        + "; nothing was connected")
    if query.get("state", [""])[0] != state:
        raise UserError("connect x: the redirected URL is not from this attempt (its state does not match); "
                        "run `overheard connect x` again and use the newest link")
    code = query.get("code", [""])[0]
    if not code:
        raise UserError("connect x: the redirected URL has no code; paste the whole address the browser ended on")
    return code


def listen_for_redirect(redirect_uri: str, timeout_s: float = 300,
                        ready: Callable[[], None] | None = None) -> str:
    """Serve ONE request on the redirect URI's 127.0.0.1 port and return the URL it asked for."""
    parts = urlsplit(redirect_uri)
    if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
        raise UserError(f"replies.x.redirect_uri {redirect_uri!r}: a listener needs http://127.0.0.1:PORT/...; "
                        "use --paste for any other address")
    got: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if urlsplit(self.path).path != (parts.path or "/"):
                self.send_response(404)
                self.end_headers()
                return
            got.append(f"{parts.scheme}://{parts.netloc}{self.path}")
            body = b"<!doctype html><meta charset=utf-8><p>overheard: X answered. You can close this tab.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    try:
        server = HTTPServer(("127.0.0.1", parts.port), Handler)
    except OSError as exc:
        raise UserError(f"connect x: cannot listen on 127.0.0.1:{parts.port} ({exc.strerror}); free the port or "
                        "use --paste") from None
    server.timeout = 1
    if ready:
        ready()
    deadline = utcnow() + timedelta(seconds=timeout_s)
    try:
        while not got and utcnow() < deadline:
            server.handle_request()
    finally:
        server.server_close()
    if not got:
        raise UserError(f"connect x: no answer from X within {timeout_s:.0f} s; run it again (or use --paste)")
    return got[0]


def connect(app: Config, section: XReplyConfig, tokens: TokenStore,
            get_redirect: Callable[[str], str]) -> dict[str, Any]:
    """The whole connect: authorize URL → `get_redirect(url)` (a person in a browser) → code exchange →
    whoami → tokens stored encrypted. Returns the account ({"id", "username", ...})."""
    client_id, secret = client_credentials(app, section)
    tokens._fernet()  # a missing or bad key ends here, before the person approves anything
    pkce = Pkce.new()
    state = secrets.token_urlsafe(24)
    redirected = get_redirect(authorize_url(section, client_id, state, pkce))
    code = parse_redirect(redirected, state)
    try:
        body = exchange_code(section, client_id, secret, code, pkce)
        if "offline.access" in section.scopes and not body.get("refresh_token"):
            raise TokenRefused("X gave no refresh token (is offline.access among the app's scopes?)")
        data = token_data(body)
        account = whoami(section, data["access_token"])
    except TokenRefused as exc:
        raise UserError(f"connect x: {exc}") from None
    data.update(user_id=str(account.get("id")), username=account["username"])
    tokens.save("x", data, account=account["username"], expires_at=data["expires_at"])
    return account


_refresh_lock = threading.Lock()  # one refresh at a time in a process (the web server's threads)
