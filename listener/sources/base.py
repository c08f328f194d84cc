"""The source interface. A source yields batches of mentions; it never scores, stores or alerts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from listener.config import Section
from listener.models import Batch

if TYPE_CHECKING:
    from listener.config import Config


class SourceConfig(Section):
    """Keys every source section has."""

    enabled: bool = True
    interval_minutes: float = Field(default=15, gt=0)


@dataclass(frozen=True)
class SourceQuery:
    """One thing a source asks for. `key` names its cursor; `brand` is None when rows say it themselves."""

    key: str
    brand: str | None
    text: str


class Source(ABC):
    name: ClassVar[str]
    Config: ClassVar[type[SourceConfig]] = SourceConfig

    def __init__(self, config: SourceConfig, app: Config) -> None:
        self.config = config
        self.app = app

    @abstractmethod
    def queries(self) -> list[SourceQuery]:
        """What to collect this run, one cursor each."""

    @abstractmethod
    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        """Fetch from `cursor` on; each yielded batch carries the cursor to store with it."""

    def limit_scope(self, query: SourceQuery) -> str:
        """Queries that share rate limits and credentials (the whole source unless it reads many hosts).

        After a 429 or a refused credential, collect skips the rest of that scope for this run.
        """
        return ""

    def check(self) -> list[str]:
        """Problems with credentials or reachability, in words a user can act on (for `overheard doctor`)."""
        return []
