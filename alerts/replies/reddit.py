"""Replying on Reddit: praw with the brand account's refresh token, `reply` on the comment or post (t1_/t3_).

The refresh token is made once for the brand's Reddit account (scopes `submit read identity`, e.g. with
praw's documented "obtaining a refresh token" script) and given in an environment variable; Reddit's
refresh tokens do not rotate, so nothing is written back. Reddit takes up to 10,000 characters.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from alerts.replies.base import PostedReply, Replier, ReplierConfig, ReplyRefused, ReplyUncertain

USER_AGENT = "overheard:replies:0.1 (self-hosted social listening; replies as the brand account)"


class RedditReplyConfig(ReplierConfig):
    """[replies.reddit]"""

    client_id_env: str = "REDDIT_CLIENT_ID"  # env var holding the Reddit app's client id
    client_secret_env: str = "REDDIT_CLIENT_SECRET"  # env var holding its secret
    refresh_token_env: str = "REDDIT_REFRESH_TOKEN"  # env var holding the brand account's refresh token
    user_agent: str = USER_AGENT  # Reddit asks for "<platform>:<app>:<version> (by /u/<you>)"
    oauth_url: str = "https://oauth.reddit.com"  # API host
    reddit_url: str = "https://www.reddit.com"  # token host
    web_url: str = "https://www.reddit.com"  # for links to the posted reply
    timeout_seconds: int = Field(default=30, gt=0)


class RedditReplier(Replier):
    source = "reddit"
    name = "Reddit"
    Config = RedditReplyConfig
    limit = 10_000
    config: RedditReplyConfig

    def _secrets(self) -> tuple[str, str, str]:
        c = self.config
        return (self.app.secret("replies.reddit.client_id_env", c.client_id_env),
                self.app.secret("replies.reddit.client_secret_env", c.client_secret_env),
                self.app.secret("replies.reddit.refresh_token_env", c.refresh_token_env))

    def preflight(self) -> None:
        self._secrets()

    def _reddit(self) -> Any:
        import praw

        client_id, client_secret, refresh_token = self._secrets()
        return praw.Reddit(client_id=client_id, client_secret=client_secret, refresh_token=refresh_token,
                           user_agent=self.config.user_agent, oauth_url=self.config.oauth_url,
                           reddit_url=self.config.reddit_url, check_for_updates=False,
                           timeout=self.config.timeout_seconds)

    def post_reply(self, mention: dict[str, Any], text: str) -> PostedReply:
        import praw.exceptions
        import prawcore

        kind, _, short = str(mention["native_id"]).partition("_")
        if kind not in ("t1", "t3") or not short:
            raise ReplyRefused(f"{mention['native_id']!r} is not a Reddit comment or post id (t1_/t3_)", "invalid")
        reddit = self._reddit()
        thing = reddit.comment(short) if kind == "t1" else reddit.submission(short)
        try:
            comment = thing.reply(text)
        except praw.exceptions.RedditAPIException as exc:
            raise _api_refusal(exc) from None
        except prawcore.exceptions.OAuthException as exc:
            raise ReplyRefused(f"Reddit refused the brand account's refresh token ({exc.error}): make a new one "
                               f"and set {self.config.refresh_token_env}", "auth") from None
        except prawcore.exceptions.TooManyRequests as exc:
            wait = float(exc.retry_after) if exc.retry_after else None
            when = f" (try again in {max(1, round(wait / 60))} min)" if wait else ""
            raise ReplyRefused(f"Reddit's rate limit for the brand account is used up{when}", "rate_limited",
                               retry_after_s=wait) from None
        except prawcore.exceptions.Forbidden:
            raise ReplyRefused("Reddit refused (403): the brand account may be banned from this subreddit, or the "
                               "subreddit is private or restricted", "forbidden") from None
        except prawcore.exceptions.NotFound:
            raise ReplyRefused("the post or comment is gone (Reddit answered 404)", "gone") from None
        except prawcore.exceptions.ServerError as exc:
            raise ReplyRefused(f"Reddit had a server error ({exc.response.status_code}); try again later",
                               "unavailable") from None
        except (prawcore.exceptions.InvalidToken, prawcore.exceptions.ResponseException) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", 0)
            on_token = "access_token" in str(getattr(getattr(exc, "response", None), "url", ""))
            if isinstance(exc, prawcore.exceptions.InvalidToken) or status == 401 or on_token:
                raise ReplyRefused(f"Reddit refused the brand account's login (401): check "
                                   f"{self.config.client_id_env} and {self.config.refresh_token_env}", "auth") from None
            raise ReplyRefused(f"Reddit did not take the reply (HTTP {status})", "unavailable") from None
        except prawcore.exceptions.RequestException as exc:
            original = repr(getattr(exc, "original_exception", exc))
            if "ConnectTimeout" in original or "NewConnectionError" in original:
                raise ReplyRefused("could not reach Reddit; nothing was posted", "unavailable") from None
            raise ReplyUncertain("the connection to Reddit broke after the reply was sent; it may have been posted") \
                from None
        if comment is None:
            # praw: the comment was created but Reddit did not return it (a quarantined subreddit).
            raise ReplyUncertain("Reddit took the reply but did not return it")
        data = {k: v for k, v in vars(comment).items() if not k.startswith("_") and isinstance(v, (str, int, float))}
        author = getattr(comment, "author", None)
        name = getattr(author, "name", None)
        permalink = data.get("permalink")
        url = f"{self.config.web_url.rstrip('/')}{permalink}" if isinstance(permalink, str) else None
        return PostedReply(native_id=f"t1_{comment.id}", url=url, raw={**data, "author": name}, author=name)


_MINUTES = re.compile(r"(\d+)\s*(minute|second)")


def _api_refusal(exc: Any) -> ReplyRefused:
    """Reddit's `json.errors` ([type, message, field]) in words an agent can act on."""
    item = exc.items[0] if exc.items else None
    kind_of = (item.error_type if item else "").upper()
    message = (item.message if item else "") or str(exc)
    if kind_of in ("DELETED_COMMENT", "DELETED_LINK", "DELETED_THING"):
        return ReplyRefused(f"the post or comment was deleted ({message})", "gone")
    if kind_of in ("THREAD_LOCKED", "TOO_OLD"):
        what = "archived (too old to answer)" if kind_of == "TOO_OLD" else "locked by the moderators"
        return ReplyRefused(f"the thread is {what}: Reddit takes no replies there", "forbidden")
    if kind_of == "RATELIMIT":
        m = _MINUTES.search(message)
        wait = (int(m[1]) * (60 if m[2] == "minute" else 1)) if m else None
        return ReplyRefused(f"Reddit asks the brand account to slow down: {message}", "rate_limited",
                            retry_after_s=wait)
    if kind_of in ("TOO_LONG", "NO_TEXT", "BAD_STRING"):
        return ReplyRefused(f"Reddit did not take the text: {message}", "invalid")
    return ReplyRefused(f"Reddit refused the reply: {kind_of} {message}".strip(), "forbidden")
