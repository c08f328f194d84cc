"""Google's OAuth token endpoint and the Android Publisher API v3 reviews.reply, on 127.0.0.1.

The token endpoint checks the service account's JWT as Google does: RS256 signed by the key named in
`kid`, `iss` the account's email, `aud` Google's token endpoint, the androidpublisher scope, at most an hour
long; the answer is {"access_token", "expires_in", "token_type"}, a refusal {"error", "error_description"}.
reviews.reply checks the bearer token, the account's access to the app, that the review exists and is
at most a year old, and replyText (present, at most 350 characters); errors are Google's
{"error": {"code", "message", "status"}}. The exact wording Google uses for a too-old review is not
documented; the fake's message is ours, its shape (400 INVALID_ARGUMENT) is Google's.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug import Request, Response

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def new_service_account(token_uri: str, email: str = "overheard-replies@brightwave-play.iam.gserviceaccount.com"
                        ) -> tuple[dict[str, Any], Any]:
    """A service account JSON key as Google Cloud issues one, and its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "brightwave-play", "private_key_id": secrets.token_hex(20),
            "private_key": pem, "client_email": email, "client_id": "104729384756102938475",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
            "universe_domain": "googleapis.com"}
    return info, key.public_key()


@dataclass
class GooglePlayFake:
    token_uri: str
    accounts: dict[str, tuple[str, Any]] = field(default_factory=dict)  # email -> (private_key_id, public key)
    apps: dict[str, set[str]] = field(default_factory=dict)  # package -> emails allowed to reply
    reviews: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (package, review id) -> written
    replies: dict[tuple[str, str], str] = field(default_factory=dict)
    posted: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (package, review, body)
    exchanges: list[dict[str, Any]] = field(default_factory=list)  # claims of every accepted assertion
    fail_next: list[tuple[str, int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # access token -> (email, expires)

    def register(self, info: dict[str, Any], public_key: Any) -> None:
        self.accounts[info["client_email"]] = (info["private_key_id"], public_key)

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    @staticmethod
    def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json; charset=UTF-8",
                        headers=headers)

    @classmethod
    def _error(cls, code: int, message: str, status: str) -> Response:
        return cls._json({"error": {"code": code, "message": message, "status": status}}, code)

    def __call__(self, request: Request) -> Response:
        for i, (prefix, status, body, headers) in enumerate(self.fail_next):
            if request.path.startswith(prefix):
                del self.fail_next[i]
                return self._json(body, status, headers)
        if request.path == "/token":
            return self._token(request)
        m = re.fullmatch(r"/androidpublisher/v3/applications/([^/]+)/reviews/([^/]+):reply", request.path)
        if m and request.method == "POST":
            return self._reply(request, m.group(1), m.group(2))
        return self._error(404, "Method not found.", "NOT_FOUND")

    def _token(self, request: Request) -> Response:
        def refuse(description: str) -> Response:
            return self._json({"error": "invalid_grant", "error_description": description}, 400)

        if request.form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._json({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "}, 400)
        assertion = request.form.get("assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        account = self.accounts.get(unverified.get("iss", ""))
        if account is None:
            return refuse("Invalid grant: account not found")
        key_id, public_key = account
        if header.get("alg") != "RS256" or header.get("kid") != key_id:
            return refuse("Invalid JWT Signature.")
        try:
            # Google's endpoint takes its own address as the audience, wherever the request was sent
            claims = jwt.decode(assertion, public_key, algorithms=["RS256"], audience=GOOGLE_TOKEN_AUDIENCE,
                                options={"require": ["iss", "aud", "exp", "iat"]})
        except jwt.InvalidAudienceError:
            return refuse("Invalid JWT: Failed audience check.")
        except jwt.PyJWTError:
            return refuse("Invalid JWT Signature.")
        if claims["exp"] - claims["iat"] > 3600:
            return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        if SCOPE not in str(claims.get("scope", "")).split():
            return self._json({"error": "invalid_scope", "error_description": "Invalid OAuth scope or ID token "
                               "audience provided."}, 400)
        self.exchanges.append(claims)
        token = "ya29.c." + secrets.token_urlsafe(24)
        self._tokens[token] = (claims["iss"], time.time() + 3599)
        return self._json({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _reply(self, request: Request, package: str, review_id: str) -> Response:
        auth = request.headers.get("Authorization", "")
        holder = self._tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if holder is None or holder[1] < time.time():
            return self._error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                               "login cookie or other valid authentication credential.", "UNAUTHENTICATED")
        if holder[0] not in self.apps.get(package, set()):
            return self._error(403, "The caller does not have permission", "PERMISSION_DENIED")
        written = self.reviews.get((package, review_id))
        if written is None:
            return self._error(404, "Requested entity was not found.", "NOT_FOUND")
        body = request.get_json(silent=True) or {}
        text = body.get("replyText")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "Request contains an invalid argument.", "INVALID_ARGUMENT")
        if len(text.encode("utf-16-le")) // 2 > 350:
            return self._error(400, "Reply text is too long.", "INVALID_ARGUMENT")
        if datetime.now(UTC) - written > timedelta(days=365):
            return self._error(400, "The review is too old to be replied to.", "INVALID_ARGUMENT")
        self.replies[package, review_id] = text
        self.posted.append((package, review_id, body))
        now = time.time()
        return self._json({"result": {"replyText": text,
                                      "lastEdited": {"seconds": str(int(now)), "nanos": int((now % 1) * 1e9)}}})
