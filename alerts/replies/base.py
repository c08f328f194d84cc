"""The replier interface: post one answer to one mention, or say in words why the platform refused.

A replier never touches the store; `alerts.replies.send` (the reply action) records the outcome, the
brand's reply in the thread and the audit trail. Refusals are `ReplyRefused`, never a traceback.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from listener.config import Section

if TYPE_CHECKING:
    from alerts.replies.tokens import TokenStore
    from listener.config import Config


class ReplierConfig(Section):
    """Keys every `[replies.<platform>]` section has. Secrets come only from `*_env` variables."""

    enabled: bool = True


@dataclass(frozen=True)
class PostedReply:
    """What the platform answered: its id for the reply (stored as the brand mention's native_id) and a link."""

    native_id: str
    url: str | None = None
    raw: dict[str, Any] | None = None
    # The account the platform posted as (its handle), when the answer says: the brand reply's author in the
    # thread. None: the first of the brand's `handles` is used.
    author: str | None = None


class ReplyRefused(Exception):
    """The platform did not take the reply.

    `reason` is one line a support agent can act on ("the post was deleted", "X refused the token: connect
    again with `overheard connect x`"); `kind` is one of: auth, forbidden, rate_limited, gone, invalid,
    unavailable. `retry_after_s` is set when the platform said when to try again. Nothing retries on its
    own: a person presses Retry.
    """

    def __init__(self, reason: str, kind: str = "unavailable", *, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.retry_after_s = retry_after_s


class ReplyUncertain(Exception):
    """The platform may or may not have taken the reply (it did not answer in time, the connection broke
    after the request went out). The reply stays in `sending`, shown as "may have been posted — check
    before retrying", exactly like one left there by a crash; nothing sends it again on its own.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Replier(ABC):
    """One platform. `source` is the mention source it answers; `limit` the longest reply it takes.

    `name` is how people call the platform ("X", "Reddit"), for messages. `tokens` is set by the reply
    action (alerts.replies.send.build_replier) before any call: the encrypted token store, for platforms
    whose tokens are connected with `overheard connect <platform>` and refreshed (X); others ignore it.
    """

    source: ClassVar[str]
    name: ClassVar[str] = ""
    Config: ClassVar[type[ReplierConfig]] = ReplierConfig
    limit: ClassVar[int]  # in the platform's own unit (see `length`)
    tokens: TokenStore | None = None

    def __init__(self, config: ReplierConfig, app: Config) -> None:
        self.config = config
        self.app = app

    def length(self, text: str) -> int:
        """The reply's length as the platform counts it (X weights URLs and CJK, Bluesky counts graphemes)."""
        return len(text)

    @abstractmethod
    def post_reply(self, mention: dict[str, Any], text: str) -> PostedReply:
        """Post `text` as an answer to `mention` (a mentions row: source, native_id, url, author, thread_key...).

        Raises ReplyRefused with a reason in words for every refusal the platform can give.
        """

    def preflight(self) -> None:
        """Raise UserError when no reply can be attempted at all (not connected, a secret not set). Called
        before anything is stored, so such a mistake is one line (exit 2) and leaves no failed attempt."""
        return None

    def check(self) -> list[str]:
        """Problems with credentials, in words a user can act on (for `overheard doctor`)."""
        return []
