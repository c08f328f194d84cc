"""Shared set-up for the reply tests: a config with [replies.*] sections pointed at the local fakes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet

from alerts.replies.tokens import TokenStore
from listener.config import Config
from listener.models import iso, utcnow
from listener.store import Store
from tests.queue_support import write_config

TOKEN_KEY = Fernet.generate_key().decode()
X_CLIENT = "fake-x-client-id"
REDDIT = {"client_id": "reddit-app-id", "client_secret": "reddit-app-secret", "refresh_token": "reddit-refresh-1"}


def reply_env(monkeypatch) -> None:
    monkeypatch.setenv("OVERHEARD_TOKEN_KEY", TOKEN_KEY)
    monkeypatch.setenv("X_CLIENT_ID", X_CLIENT)
    monkeypatch.setenv("REDDIT_CLIENT_ID", REDDIT["client_id"])
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", REDDIT["client_secret"])
    monkeypatch.setenv("REDDIT_REFRESH_TOKEN", REDDIT["refresh_token"])


def replies_section(x_url: str | None = None, reddit_url: str | None = None, redirect_port: int = 8379) -> str:
    out = ""
    if x_url:
        out += f"""
[replies.x]
api_url = "{x_url}"
authorize_url = "{x_url}/i/oauth2/authorize"
redirect_uri = "http://127.0.0.1:{redirect_port}/x/callback"
"""
    if reddit_url:
        out += f"""
[replies.reddit]
oauth_url = "{reddit_url}"
reddit_url = "{reddit_url}"
"""
    return out


def reply_config(tmp_path: Path, *, x_url: str | None = None, reddit_url: str | None = None,
                 extra: str = "", redirect_port: int = 8379) -> Config:
    return write_config(tmp_path, replies_section(x_url, reddit_url, redirect_port) + extra)


def connect_x(store: Store, fake, *, expires_in: float = 7200) -> dict:
    """Store tokens as `overheard connect x` would (the connect flow itself has its own tests)."""
    grant = fake.grant(expires_in=expires_in)
    data = {"access_token": grant.access, "refresh_token": grant.refresh, "username": fake.username,
            "user_id": fake.user_id, "scope": "tweet.read tweet.write users.read offline.access",
            "expires_at": iso(utcnow() + timedelta(seconds=expires_in))}
    TokenStore(store, "OVERHEARD_TOKEN_KEY").save("x", data, account=fake.username, expires_at=data["expires_at"])
    return data
