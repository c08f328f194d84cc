"""Configuration: TOML loaded once into typed, validated objects.

Every problem ends as one ConfigError line, `overheard.toml: brands[0].keywords: must not be empty`.
Secrets are never in the file: a key ending in `_env` names the environment variable that holds one.
Each source and each alert channel declares its own section model next to its code (one module plus
one registry line adds a source); this module validates those sections through the registries.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from listener import plugins
from listener.errors import ConfigError
from listener.plugins import channel_config_class, replier_config_class, source_config_class

DEFAULT_CONFIG = "overheard.toml"
CONFIG_ENV = "OVERHEARD_CONFIG"


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _non_empty_strings(values: list[str]) -> list[str]:
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned):
        raise ValueError("must not contain empty strings")
    return cleaned


# ---------------------------------------------------------------- brands and competitors
class BrandConfig(Section):
    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    handles: list[str] = []
    exclusions: list[str] = []
    competitors: list[str] = []
    # An advanced query in the shared query language; when set it replaces keywords/handles matching.
    query: str | None = None
    languages: list[str] = []

    _clean = field_validator("keywords", "handles", "exclusions", "competitors")(_non_empty_strings)


class CompetitorConfig(Section):
    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    handles: list[str] = []
    exclusions: list[str] = []
    query: str | None = None
    languages: list[str] = []

    _clean = field_validator("keywords", "handles", "exclusions")(_non_empty_strings)


# ---------------------------------------------------------------- store
class StoreConfig(Section):
    path: str = "overheard.db"
    # PostgreSQL instead of the SQLite file: "postgresql://user@host:5432/overheard" (no password in it;
    # OVERHEARD_DATABASE_URL overrides). The password comes from the variable named here, or PGPASSWORD.
    url: str = ""
    password_env: str = "OVERHEARD_DATABASE_PASSWORD"


# ---------------------------------------------------------------- sentiment
class SentimentConfig(Section):
    # Which scorer: "cascade" (the default: the learned model plus a second look by an embedding model at the
    # mentions it is unsure of or that could alert, docs/sentiment.md), "learned" (the fast model alone,
    # multilingual, brand-aware) or "vader" (raw, for comparison).
    scorer: str = "cascade"
    # A model retrained with `overheard sentiment train --with-corrections`; empty: the shipped model.
    model: str = ""
    # Unset: each scorer's own rule (the learned model's tuned one; VADER's 0.05 / -0.05). When set,
    # the label comes from compound: >= positive_threshold positive, <= negative_threshold negative.
    positive_threshold: float | None = Field(default=None, ge=-1, le=1)
    negative_threshold: float | None = Field(default=None, ge=-1, le=1)
    # A negative mention is a detractor when its confidence is at least this.
    detractor_confidence: float = Field(default=0.3, ge=0, le=1)
    # Extra customer-service trouble phrases ("still waiting", "charged twice"), added to the built-in ones.
    cues: list[str] = []
    # Theme name -> phrases that tag a mention with it; extends the built-in themes (an empty list
    # switches a built-in theme off).
    themes: dict[str, list[str]] = {}
    # A review with a star rating takes its label from the stars (1-2 negative, 3 neutral, 4-5 positive):
    # the customer's own verdict, in any language. The text's score is kept beside it (scores table).
    label_reviews_by_stars: bool = True

    @field_validator("scorer")
    @classmethod
    def _known_scorer(cls, value: str) -> str:
        from sentiment import available_scorers

        if value not in available_scorers():
            raise ValueError(f"unknown scorer {value!r}; available: {', '.join(available_scorers())}")
        return value

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> SentimentConfig:
        neg, pos = self.negative_threshold, self.positive_threshold
        if neg is not None and pos is not None and neg >= pos:
            raise ValueError("negative_threshold must be below positive_threshold")
        return self


# ---------------------------------------------------------------- risk
class RiskConfig(Section):
    """Weights of the escalation-risk score (0..100). Each weight is the most points its factor gives."""

    negativity: float = Field(default=35, ge=0)
    reach: float = Field(default=20, ge=0)
    velocity: float = Field(default=15, ge=0)
    cues: float = Field(default=20, ge=0)
    repeat_detractors: float = Field(default=20, ge=0)
    brand_replied_discount: float = Field(default=10, ge=0)
    # How far back "this author complained before" looks, and how many earlier complaints
    # give the repeat-detractor factor its full weight.
    repeat_window_days: int = Field(default=30, ge=1)
    repeat_full_at: int = Field(default=2, ge=1)
    # Velocity compares the last `velocity_window_minutes` with the thread's pace before it.
    velocity_window_minutes: int = Field(default=60, ge=5)
    # Followers (or subreddit members) at which the reach factor is full: reach grows with log10.
    reach_full_at: int = Field(default=1_000_000, ge=10)


# ---------------------------------------------------------------- alerts
GroupLabel = Literal["thread", "brand", "source", "rule", "level", "kind"]


class RuleConfig(Section):
    """A route: which alerts it matches, where they go, and how they are grouped and paced."""

    name: str = Field(min_length=1)
    # What the rule routes: thread alerts, and system alerts (spike, sla, health) raised by other stages.
    kinds: list[Literal["thread", "spike", "sla", "health"]] = ["thread"]
    brands: list[str] = []
    sources: list[str] = []
    languages: list[str] = []
    themes: list[str] = []
    min_risk: float = Field(default=50, ge=0, le=100)
    min_reach: int = Field(default=0, ge=0)
    # Lowest level this rule alerts at (a name from [alerts.levels]); empty: the lowest level.
    min_level: str = ""
    receivers: list[str] = Field(min_length=1)
    # Alerts with the same values of these labels are sent together (one message, or one digest).
    group_by: list[GroupLabel] = ["thread"]
    # Wait this long after the first alert of a new group, so the rest of a burst joins it.
    group_wait_seconds: int = Field(default=0, ge=0)
    # After a group was notified, wait at least this long before notifying it again.
    group_interval_minutes: int = Field(default=5, ge=0)
    # Re-notify a thread still at the same level (with new mentions) after this long; 0: never.
    repeat_interval_hours: float = Field(default=0, ge=0)
    # After a thread alerted on a receiver, hold its next alert there for at least this long.
    cooldown_minutes: int = Field(default=0, ge=0)


class SpikeConfig(Section):
    """Negative volume and share per brand, last hour against the previous 24 h and the same hour a week ago."""

    enabled: bool = True
    # Fewer negative mentions than this in the hour never spike (keeps small brands quiet).
    min_negative: int = Field(default=8, ge=1)
    # Fewer mentions in the hour than this: the negative share is not judged.
    min_mentions: int = Field(default=15, ge=1)
    # Negative volume at least this many times the baseline hourly rate is a spike ...
    ratio: float = Field(default=3.0, gt=1)
    # ... and at least this many times is critical.
    critical_ratio: float = Field(default=6.0, gt=1)
    # Negative share up this many percentage points on the baseline is a spike too.
    share_rise_points: float = Field(default=25.0, gt=0, le=100)


class QuietHours(Section):
    """Hold alerts for a receiver between start and end (local time) and send them as one digest after."""

    start: str  # "22:00", local time in `timezone`
    end: str  # "07:00"; before start means the quiet period runs overnight
    timezone: str = "UTC"
    # Levels that still go out at once during quiet hours, e.g. ["critical"].
    except_levels: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("start", "end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"must be a time like 22:00 (24-hour HH:MM), got {value!r}")
        return value


class AlertsConfig(Section):
    # Risk at or above each level; a thread re-alerts only when it crosses a higher level.
    levels: dict[str, float] = {"warning": 50, "critical": 75}
    rules: list[RuleConfig] = []
    # [[alerts.receivers]] tables, each with a `type` from alerts.channels; validated there.
    receivers: list[dict[str, Any]] = []
    # Base URL of the queue web UI, used for links in alerts.
    queue_url: str = "http://127.0.0.1:8377"
    spikes: SpikeConfig = SpikeConfig()


# ---------------------------------------------------------------- queue
class SlaTarget(Section):
    first_response_minutes: int = Field(gt=0)
    resolution_minutes: int = Field(gt=0)


# Placeholders a saved reply may use; anything else in braces is a config error at load.
SAVED_REPLY_PLACEHOLDERS = ("author", "brand", "ticket")


class SavedReplyConfig(Section):
    """[[queue.saved_replies]]: a canned answer, offered on items of its brand and language."""

    name: str = Field(min_length=1, max_length=60)
    text: str = Field(min_length=1)
    brand: str | None = None  # only on this brand's items; unset: every brand
    lang: str | None = None  # only when the mention answered is in this language (e.g. "de"); unset: any

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        import string

        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            raise ValueError(f"{exc}; write a literal brace as {{{{ or }}}}") from None
        for name in fields:
            if name not in SAVED_REPLY_PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in SAVED_REPLY_PLACEHOLDERS)
                raise ValueError(f"unknown placeholder {{{name}}}; use {known}")
        return value


class ReplyApprovalConfig(Section):
    """[queue.reply_approval]: which replies wait for an admin's Approve before they are posted."""

    # "nobody": every reply posts at once; "agents": replies written by agents wait (admins approve).
    required_for: Literal["nobody", "agents"] = "nobody"
    brands: list[str] = []  # only replies on these brands' items wait; empty: every brand
    priorities: list[Literal["high", "medium", "low"]] = []  # only on items of these priorities; empty: all
class RoutingRule(Section):
    """[[queue.routing]]: new (and reopened, unassigned) items that match go round-robin to these agents.

    Every given field must match (an empty list matches anything); the first matching rule wins.
    """

    name: str = Field(min_length=1)
    brands: list[str] = []
    languages: list[str] = []  # language codes of the thread's first customer post, e.g. "es"
    sources: list[str] = []
    priorities: list[Literal["high", "medium", "low"]] = []
    team: str | None = None  # a name from [queue.teams]
    agents: list[str] = []  # user names, in round-robin order (or give a team)

    @model_validator(mode="after")
    def _who(self) -> RoutingRule:
        if bool(self.team) == bool(self.agents):
            raise ValueError(f"routing rule {self.name!r}: give either team or agents (one of them)")
        return self


class QueueConfig(Section):
    """The support queue: SLA targets per priority, counted in business hours of one time zone."""

    timezone: str = "UTC"
    # Priority -> SLA targets. Priority comes from risk: high >= 75, medium >= 50, else low.
    sla: dict[str, SlaTarget] = {
        "high": SlaTarget(first_response_minutes=60, resolution_minutes=8 * 60),
        "medium": SlaTarget(first_response_minutes=4 * 60, resolution_minutes=24 * 60),
        "low": SlaTarget(first_response_minutes=24 * 60, resolution_minutes=72 * 60),
    }
    # SLA clocks run only inside business hours: these weekdays, from start to end (local time).
    # The defaults are round the clock; "24:00" as the end means midnight.
    business_days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = [
        "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    business_start: str = "00:00"
    business_end: str = "24:00"
    holidays: list[str] = []  # ISO dates (YYYY-MM-DD) on which the clocks stop
    # An item this close to a target (business minutes) is "due soon" and rises to the top.
    due_soon_minutes: int = Field(default=30, ge=0)
    # How long a snooze lasts when no time is given (Slack button, web quick snooze).
    snooze_minutes: int = Field(default=120, gt=0)
    # After resolving, how long the author's next mentions are watched to tell recovered from still unhappy.
    recovery_days: int = Field(default=14, gt=0)
    # Replying from the queue (docs/queue.md): approval, and canned answers with {author} {brand} {ticket}.
    reply_approval: ReplyApprovalConfig = ReplyApprovalConfig()
    saved_replies: list[SavedReplyConfig] = []
    # When the SLA clocks start: "post" = when the customer posted (their first unanswered mention in the
    # thread), the time the customer has been waiting; "queued" = when the item entered the queue.
    sla_starts: Literal["post", "queued"] = "post"
    # At most this many SLA breach alerts one at a time per clock tick; beyond that (an old import making
    # hundreds of items overdue at once) the rest go out as one summary alert. Items that were already
    # overdue when they entered the queue always go into the summary.
    breach_alerts_per_tick: int = Field(default=10, ge=0)
    # Routing: teams of agents, rules in order (first match wins), and who counts as online: a user signed
    # in to the web UI who loaded a page or had an item open within online_minutes.
    teams: dict[str, list[str]] = {}
    routing: list[RoutingRule] = []
    online_minutes: int = Field(default=15, gt=0)

    @model_validator(mode="after")
    def _routing_teams(self) -> QueueConfig:
        names = set()
        for rule in self.routing:
            if rule.name in names:
                raise ValueError(f"routing rule {rule.name!r} is given twice; rule names must be unique")
            names.add(rule.name)
            if rule.team and rule.team not in self.teams:
                raise ValueError(f"routing rule {rule.name!r}: team {rule.team!r} is not in [queue.teams] "
                                 f"({', '.join(self.teams) or 'none defined'})")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("business_start", "business_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        import re

        m = re.fullmatch(r"(\d\d):(\d\d)", value)
        if not m or int(m[2]) > 59 or int(m[1]) > 24 or (int(m[1]) == 24 and int(m[2]) != 0):
            raise ValueError(f"{value!r} is not a time of day; use HH:MM, e.g. '09:00' (or '24:00' for midnight)")
        return value

    @field_validator("holidays")
    @classmethod
    def _dates(cls, values: list[str]) -> list[str]:
        from datetime import date

        for value in values:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD") from None
        return values

    @model_validator(mode="after")
    def _hours_in_order(self) -> QueueConfig:
        if self.business_start >= self.business_end:
            raise ValueError(f"business_start {self.business_start!r} must be before business_end "
                             f"{self.business_end!r}")
        if not self.business_days:
            raise ValueError("business_days must not be empty (the SLA clocks would never run)")
        return self

    @field_validator("saved_replies")
    @classmethod
    def _unique_saved(cls, value: list[SavedReplyConfig]) -> list[SavedReplyConfig]:
        seen: set[tuple[str, str | None, str | None]] = set()
        for reply in value:
            key = (reply.name.lower(), reply.brand, reply.lang)
            if key in seen:
                raise ValueError(f"saved reply {reply.name!r} is defined twice for the same brand and language")
            seen.add(key)
        return value

    @field_validator("sla")
    @classmethod
    def _priorities(cls, value: dict[str, SlaTarget]) -> dict[str, SlaTarget]:
        unknown = set(value) - {"high", "medium", "low"}
        if unknown:
            raise ValueError(f"unknown priority {sorted(unknown)[0]!r}; use high, medium or low")
        return value


class WebConfig(Section):
    """The queue web UI (`overheard serve`) and its Slack interactivity endpoint."""

    host: str = "127.0.0.1"
    port: int = Field(default=8377, ge=1, le=65535)
    # Env var holding the key that signs session cookies. Unset: a random key kept in the store, so logins
    # survive restarts and every web process (on any host) accepts the others' sessions.
    session_secret_env: str = "OVERHEARD_SESSION_SECRET"
    session_hours: int = Field(default=12, gt=0)
    # Send cookies only over HTTPS: set true when the UI sits behind a TLS proxy. (Cookies are also marked
    # Secure on any request that arrived over HTTPS, as told by a trusted proxy's X-Forwarded-Proto.)
    secure_cookies: bool = False
    # Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are
    # believed; empty: those headers are ignored and the connecting address is the client.
    trusted_proxies: list[str] = []
    # Request bodies above this are refused (413) while they are read, on every route.
    max_body_kb: int = Field(default=1024, gt=0, le=1024 * 1024)
    # Env var holding the Slack app's signing secret; unset: the Slack button endpoint answers 503.
    slack_signing_secret_env: str = "SLACK_SIGNING_SECRET"
    # false: a Slack user without `overheard users add … --slack-id` acts as "slack:<username>";
    # true: only Slack users linked to an overheard user may use the buttons.
    slack_require_known_users: bool = False

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
        return value


# ---------------------------------------------------------------- trends
class TrendsConfig(Section):
    out_dir: str = "trends"
    timezone: str = "UTC"
    periods: list[Literal["hour", "day", "week", "month"]] = Field(default=["day"], min_length=1)
    # How far back trend files reach (h, d or w), counted back from now.
    since: str = "90d"
    # PNG charts beside the files, and an HTML report covering `report_since`.
    charts: bool = False
    report: bool = False
    report_since: str = "30d"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("since", "report_since")
    @classmethod
    def _duration(cls, value: str) -> str:
        from listener.trends.since import parse_duration

        parse_duration(value)
        return value


# ---------------------------------------------------------------- topics and spike explanations
class SummaryConfig(Section):
    """An optional written summary of a spike by a language model behind an OpenAI-compatible
    chat-completions endpoint (Ollama, vLLM, a hosted one). Off by default; its only input is the
    spike's explanation; the alert goes out without it when the endpoint fails or is slow."""

    enabled: bool = False
    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = ""
    api_key_env: str = ""  # the variable holding the API key; empty: no Authorization header
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_words: int = Field(default=80, ge=10, le=400)


class TopicsConfig(Section):
    """Emerging terms, phrases, hashtags and linked domains per brand and period, and near-duplicate clusters."""

    enabled: bool = True
    # The terms files cover this many latest periods of each [trends] period.
    periods: int = Field(default=7, ge=1, le=400)
    # The brand's baseline: this many periods before the previous one.
    baseline_periods: int = Field(default=4, ge=1, le=52)
    # Minimum counts keep small brands quiet.
    min_count: int = Field(default=5, ge=1)
    min_posts: int = Field(default=20, ge=1)
    # Keyness (log-likelihood G²) a term needs against the previous period and the baseline: 10.83 is p < 0.001.
    min_llr: float = Field(default=10.83, ge=0)
    top: int = Field(default=15, ge=1, le=200)
    # Near-identical posts at least this many times are a cluster (a copy-paste campaign, a retweet storm).
    min_cluster: int = Field(default=3, ge=2)
    # Above this many mentions in a brand's period, terms are counted on an even sample of this size.
    max_posts: int = Field(default=3_000, ge=100)
    summary: SummaryConfig = SummaryConfig()


class ReportEmailConfig(Section):
    """The report mailed on a schedule by the daemon, through an email receiver of [[alerts.receivers]]."""

    enabled: bool = False
    receiver: str = ""  # name of an `type = "email"` receiver (its SMTP settings are used)
    to: list[str] = []  # recipients; empty: the receiver's own `to`
    # When to send, in [trends].timezone: a weekday (monday ... sunday) or "daily", and the local hour.
    every: Literal["daily", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    hour: int = Field(default=8, ge=0, le=23)
    since: str = ""  # the period the mailed report covers; empty: [trends].report_since
    subject: str = "{brands}: what customers said ({since} to {until})"


# ---------------------------------------------------------------- daemon (`overheard run`)
class DaemonConfig(Section):
    """How `overheard run` schedules work, backs off, watches source health and prunes old data.

    Intervals are in seconds so tests (and impatient people) can run it fast; sources keep their own
    `interval_minutes`.
    """

    # Score, flag, evaluate rules and deliver the outbox this often (and right after new mentions).
    process_seconds: float = Field(default=30, gt=0)
    sla_seconds: float = Field(default=60, gt=0)
    trends_seconds: float = Field(default=3600, gt=0)
    retention_seconds: float = Field(default=24 * 3600, gt=0)
    # Each source run starts up to this share of its interval late, so sources do not all fire at once.
    jitter_fraction: float = Field(default=0.1, ge=0, le=1)
    # A run that could not start on time (machine asleep, pool busy) still runs within this window.
    misfire_grace_seconds: float = Field(default=300, gt=0)
    workers: int = Field(default=4, ge=1, le=64)
    # Per-source backoff after a failed run (429, 5xx, network): base * 2^(failures-1), capped.
    backoff_base_seconds: float = Field(default=60, gt=0)
    backoff_max_seconds: float = Field(default=3600, gt=0)
    # Source health: a health alert after this many failed runs in a row (401/403 alert at once).
    failures_before_alert: int = Field(default=3, ge=1)
    # "Gone quiet": fewer new mentions in the last quiet_window_hours than quiet_ratio times the
    # usual for such a window over the previous quiet_baseline_days, when the usual is at least
    # quiet_min_expected (so a small source is never called quiet).
    quiet_window_hours: float = Field(default=6, gt=0)
    quiet_baseline_days: float = Field(default=7, gt=0)
    quiet_ratio: float = Field(default=0.1, ge=0, le=1)
    quiet_min_expected: float = Field(default=20, ge=0)
    # Retention: mentions older than this many days are deleted (threads, queue items and trend
    # rollups are kept); 0 keeps everything. Run records are kept run_history_days.
    retention_days: int = Field(default=365, ge=0)
    run_history_days: int = Field(default=30, ge=1)
    # Seconds to let running jobs finish their current write after SIGTERM/SIGINT.
    shutdown_timeout_seconds: float = Field(default=30, gt=0)
    # Several workers on one store (`overheard run --join`): how long a worker's claim on a piece of work
    # lasts unless renewed (it renews every third of this). A worker that dies on another host holds
    # nothing after this long; one on the same host, nothing at once.
    lease_seconds: float = Field(default=60, ge=3)

    @field_validator("backoff_max_seconds")
    @classmethod
    def _max_not_below_base(cls, value: float, info: Any) -> float:
        base = info.data.get("backoff_base_seconds")
        if base is not None and value < base:
            raise ValueError("must be at least backoff_base_seconds")
        return value


class StreamConfig(Section):
    """Keys every stream section has ([streams.jetstream], [streams.x], [streams.mastodon])."""

    enabled: bool = True
    # Reconnect backoff: a random wait (full jitter) up to min(max, base * 2^(failures-1)).
    backoff_base_seconds: float = Field(default=1, gt=0)
    backoff_max_seconds: float = Field(default=120, gt=0)
    # Events are stored in batches: after this many seconds or this many matched posts, whichever is first.
    flush_seconds: float = Field(default=0.5, gt=0, le=60)
    flush_mentions: int = Field(default=200, ge=1)
    # No byte at all for this long (not even a keep-alive) counts as a dropped connection.
    silence_seconds: float = Field(default=90, gt=0)


class JetstreamConfig(StreamConfig):
    """Bluesky Jetstream: every new post on the network as JSON over a websocket, matched locally."""

    url: str = Field(default="wss://jetstream2.us-east.bsky.network/subscribe", pattern=r"^wss?://")
    # Replay this much before the stored cursor on reconnect; the (source, native_id) upsert drops repeats.
    rewind_seconds: float = Field(default=5, ge=0, le=3600)
    # A first start with no cursor replays this far back (0: live from now; Jetstream keeps about a day).
    first_run_seconds: float = Field(default=0, ge=0, le=86400)


class XStreamConfig(StreamConfig):
    """X filtered stream (API v2); credentials, api_url and queries come from [sources.x]."""

    # X's own reconnect rules (docs: "Handling disconnections"): network errors back off linearly from
    # 250 ms up to 16 s, HTTP errors exponentially from 5 s up to 320 s, 429 from 60 s up to 15 min.
    backoff_base_seconds: float = Field(default=5, gt=0)
    backoff_max_seconds: float = Field(default=320, gt=0)
    tcp_backoff_seconds: float = Field(default=0.25, gt=0)
    tcp_backoff_max_seconds: float = Field(default=16, gt=0)
    rate_limit_backoff_seconds: float = Field(default=60, gt=0)
    rate_limit_backoff_max_seconds: float = Field(default=900, gt=0)
    # Minutes of posts X replays after a reconnect (1..5; only on access levels that offer backfill; 0: off).
    backfill_minutes: int = Field(default=0, ge=0, le=5)
    # Rules are tagged with this prefix plus the brand name; rules with other tags are left alone.
    rule_tag_prefix: str = Field(default="overheard:", min_length=1)


class MastodonStreamConfig(StreamConfig):
    """Mastodon streaming (server-sent events); instances, tokens and hashtags come from [sources.mastodon]."""

    # Also stream the hashtags of [sources.mastodon] (true) or only the lists below (false).
    hashtags: bool = True
    # Instance host -> list ids to stream (needs that instance's access token; lists are per account).
    lists: dict[str, list[str]] = Field(default_factory=dict)
    # Mastodon sends a heartbeat comment every 15 s or so.
    silence_seconds: float = Field(default=60, gt=0)


class StreamsConfig(Section):
    """[streams]: real-time sources `overheard run` keeps connected (each one is off unless its table exists)."""

    jetstream: JetstreamConfig | None = None
    x: XStreamConfig | None = None
    mastodon: MastodonStreamConfig | None = None


def _check_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Berlin')") from None
    return value


# ---------------------------------------------------------------- the whole file
class _ConfigFile(Section):
    brands: list[BrandConfig] = Field(min_length=1)
    competitors: list[CompetitorConfig] = []
    store: StoreConfig = StoreConfig()
    sentiment: SentimentConfig = SentimentConfig()
    risk: RiskConfig = RiskConfig()
    alerts: AlertsConfig = AlertsConfig()
    queue: QueueConfig = QueueConfig()
    web: WebConfig = WebConfig()
    trends: TrendsConfig = TrendsConfig()
    topics: TopicsConfig = TopicsConfig()
    report_email: ReportEmailConfig = ReportEmailConfig()
    daemon: DaemonConfig = DaemonConfig()
    streams: StreamsConfig = StreamsConfig()
    sources: dict[str, dict[str, Any]] = {}
    replies: dict[str, dict[str, Any]] = {}


class Config:
    """The validated configuration. Relative paths resolve against the config file's folder."""

    def __init__(self, file: _ConfigFile, path: Path, sources: dict[str, Section], receivers: list[Section]):
        self._file = file
        self.path = path
        self.base_dir = path.parent
        self.brands = file.brands
        self.competitors = file.competitors
        self.store = file.store
        self.sentiment = file.sentiment
        self.risk = file.risk
        self.alerts = file.alerts
        self.queue = file.queue
        self.web = file.web
        self.trends = file.trends
        self.topics = file.topics
        self.report_email = file.report_email
        self.daemon = file.daemon
        self.streams = file.streams
        self.sources = sources  # name -> that source's validated section
        self.receivers = receivers  # validated channel sections, in file order
        self.replies: dict[str, Section] = {}  # mention source -> its validated [replies.<source>] section

    def resolve(self, relative: str) -> Path:
        p = Path(os.path.expanduser(relative))
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def db_path(self) -> Path:
        """The SQLite file (and, with PostgreSQL too, where the daemon lock and web session key live)."""
        return self.resolve(self.store.path)

    @property
    def database(self) -> Path | str:
        """What the store opens: the PostgreSQL URL when one is set, else the SQLite file."""
        import listener.backends

        listener.backends.password_env = self.store.password_env or "OVERHEARD_DATABASE_PASSWORD"
        url = os.environ.get(listener.backends.DATABASE_URL_ENV) or self.store.url
        return url if url else self.db_path

    def brand_names(self) -> list[str]:
        return [b.name for b in self.brands]

    def all_tracked(self) -> list[BrandConfig | CompetitorConfig]:
        """Own brands first, then competitors: everything collectors look for."""
        return [*self.brands, *self.competitors]

    def secret(self, section_key: str, env_name: str) -> str:
        """The value of the environment variable `env_name`, or a ConfigError naming the key."""
        value = os.environ.get(env_name, "")
        if not value:
            raise ConfigError(
                self.path.name, section_key, f"environment variable {env_name} is not set (it holds a secret)"
            )
        return value


# ---------------------------------------------------------------- loading
def default_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str], *, check_secrets: bool = True) -> Config:
    """Read, validate and return the config at `path`; raises ConfigError with one clear line."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise ConfigError(name, "", f"no such file ({path.resolve()}); run `overheard init` to write one")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(name, "", "not UTF-8 text") from None
    return config_from_dict(raw, path, check_secrets=check_secrets)


def config_from_dict(raw: dict[str, Any], path: Path, *, check_secrets: bool = True) -> Config:
    name = path.name
    try:
        file = _ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise _as_config_error(name, exc, ()) from None
    _cross_check(name, file)

    sources: dict[str, Section] = {}
    for src_name, section in file.sources.items():
        cls = source_config_class(src_name)
        if cls is None:
            raise ConfigError(
                name, f"sources.{src_name}", f"unknown source; known: {', '.join(sorted(plugins.SOURCES))}"
            )
        try:
            sources[src_name] = cls.model_validate(section)
        except ValidationError as exc:
            raise _as_config_error(name, exc, ("sources", src_name)) from None

    receivers: list[Section] = []
    seen: set[str] = set()
    for i, section in enumerate(file.alerts.receivers):
        key = f"alerts.receivers[{i}]"
        kind = section.get("type")
        cls = channel_config_class(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ConfigError(name, f"{key}.type", f"must be one of {', '.join(sorted(plugins.CHANNELS))}")
        try:
            rec = cls.model_validate(section)
        except ValidationError as exc:
            raise _as_config_error(name, exc, ("alerts", "receivers", i)) from None
        if rec.name in seen:
            raise ConfigError(name, f"{key}.name", f"receiver {rec.name!r} is defined twice")
        seen.add(rec.name)
        receivers.append(rec)
    for i, rule in enumerate(file.alerts.rules):
        for receiver in rule.receivers:
            if receiver not in seen:
                raise ConfigError(
                    name, f"alerts.rules[{i}].receivers", f"no receiver named {receiver!r} in [[alerts.receivers]]"
                )

    config = Config(file, path, sources, receivers)
    config.replies = _replies(name, file)
    _check_config_urls(config)
    from listener.masking import config_secrets, remember

    remember(config_secrets(config))  # from now on every log line, printed and stored error masks them
    if check_secrets:
        check_config_secrets(config)
    return config


def _replies(name: str, file: _ConfigFile) -> dict[str, Section]:
    """[replies.<source>]: how the queue posts the brand's answer on each platform."""
    replies: dict[str, Section] = {}
    for source, section in file.replies.items():
        cls = replier_config_class(source)
        if cls is None:
            raise ConfigError(name, f"replies.{source}",
                              f"overheard cannot reply there; known: {', '.join(sorted(plugins.REPLIERS))}")
        try:
            replies[source] = cls.model_validate(section)
        except ValidationError as exc:
            raise _as_config_error(name, exc, ("replies", source)) from None
    return replies


# ---------------------------------------------------------------- URLs
_LOOPBACK = ("localhost", "::1")
_SECRET_URL_TYPES = {"slack_webhook": "the Slack webhook URL", "webhook": "the webhook URL"}


def url_problem(value: str, *, https: bool = False) -> str | None:
    """Why `value` is not a usable http(s) URL, or None. `https`: plain http only to this machine."""
    from urllib.parse import urlsplit

    if not value or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "is empty or has spaces or control characters in it"
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return "is not a URL"
    if url.scheme not in ("http", "https"):
        return "must start with https://" if https else "must start with http:// or https://"
    if not url.hostname:
        return "has no host name after the scheme"
    loopback = url.hostname in _LOOPBACK or url.hostname.startswith("127.")
    if https and url.scheme != "https" and not loopback:
        return "must start with https:// (plain http would send it unencrypted; http is allowed only to localhost)"
    return None


def _url_fields(section: BaseModel) -> list[str]:
    """A section's URL keys: `*_url` keys, and `url` where it is a URL (not a column name in a field map)."""
    out = []
    for name, info in type(section).model_fields.items():
        if not isinstance(getattr(section, name), str):
            continue
        default = info.default if isinstance(info.default, str) else ""
        if name.endswith("_url") or (name == "url" and (info.is_required() or "://" in default or default == "")):
            out.append(name)
    return out


def _check_section_urls(file: str, prefix: str, section: BaseModel) -> None:
    for name in _url_fields(section):
        value = getattr(section, name)
        if value == "" and not type(section).model_fields[name].is_required():
            continue  # optional and unset (a webhook that takes its URL from url_env)
        problem = url_problem(value)
        if problem:
            raise ConfigError(file, f"{prefix}.{name}", f"{value[:80]!r} {problem}")
    for name in type(section).model_fields:
        value = getattr(section, name)
        if isinstance(value, BaseModel):
            _check_section_urls(file, f"{prefix}.{name}", value)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _check_section_urls(file, f"{prefix}.{name}[{i}]", item)


def _check_config_urls(config: Config) -> None:
    """Every URL in the file is http(s) with a host, so a typo fails `check`, not a delivery."""
    file = config.path.name
    problem = url_problem(config.alerts.queue_url)
    if problem:
        raise ConfigError(file, "alerts.queue_url", f"{config.alerts.queue_url[:80]!r} {problem}")
    for src_name, section in config.sources.items():
        _check_section_urls(file, f"sources.{src_name}", section)
    for source, section in config.replies.items():
        _check_section_urls(file, f"replies.{source}", section)
    for i, rec in enumerate(config.receivers):
        _check_section_urls(file, f"alerts.receivers[{i}]", rec)


def _check_secret_urls(config: Config) -> None:
    """URLs kept in environment variables (Slack and generic webhooks): checked without printing them."""
    for i, rec in enumerate(config.receivers):
        kind = getattr(rec, "type", "")
        env = getattr(rec, "url_env", "")
        if kind not in _SECRET_URL_TYPES or not env or not getattr(rec, "enabled", True):
            continue
        value = os.environ.get(env, "").strip()
        if not value:
            continue  # reported by the secrets check
        # Slack webhooks and URLs that carry a secret (in the variable, or a bearer token) need https.
        problem = url_problem(value, https=True)
        if problem:
            raise ConfigError(config.path.name, f"alerts.receivers[{i}].url_env",
                              f"environment variable {env} ({_SECRET_URL_TYPES[kind]}) {problem}; "
                              "its value is not shown because it is a secret")
    for i, rec in enumerate(config.receivers):
        if getattr(rec, "type", "") == "webhook" and getattr(rec, "url", "") and getattr(rec, "token_env", ""):
            problem = url_problem(rec.url, https=True)  # type: ignore[attr-defined]
            if problem:
                raise ConfigError(config.path.name, f"alerts.receivers[{i}].url",
                                  f"{problem} (the bearer token in token_env would travel with it)")


def check_config_secrets(config: Config) -> None:
    """Every `*_env` key of an enabled source or receiver names a variable that is set."""
    for src_name, section in config.sources.items():
        if getattr(section, "enabled", True):
            _check_env_fields(config, f"sources.{src_name}", section)
    for source, section in config.replies.items():
        if getattr(section, "enabled", True):
            _check_env_fields(config, f"replies.{source}", section)
    for i, rec in enumerate(config.receivers):
        if getattr(rec, "enabled", True):
            _check_env_fields(config, f"alerts.receivers[{i}]", rec)
    _check_secret_urls(config)


def _check_env_fields(config: Config, prefix: str, section: BaseModel) -> None:
    for field_name in type(section).model_fields:
        value = getattr(section, field_name)
        if field_name.endswith("_env"):
            if value:
                config.secret(f"{prefix}.{field_name}", value)
        elif isinstance(value, BaseModel):  # nested tables (e.g. one per Mastodon instance) hold secrets too
            _check_env_fields(config, f"{prefix}.{field_name}", value)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _check_env_fields(config, f"{prefix}.{field_name}[{i}]", item)


def _cross_check(name: str, file: _ConfigFile) -> None:
    names = [b.name for b in file.brands] + [c.name for c in file.competitors]
    for i, n in enumerate(names):
        if n in names[:i]:
            where = f"brands[{i}]" if i < len(file.brands) else f"competitors[{i - len(file.brands)}]"
            raise ConfigError(name, f"{where}.name", f"{n!r} is used twice")
    competitor_names = {c.name for c in file.competitors}
    for i, brand in enumerate(file.brands):
        for comp in brand.competitors:
            if comp not in competitor_names:
                raise ConfigError(
                    name, f"brands[{i}].competitors", f"{comp!r} is not defined in [[competitors]]"
                )
    own = {b.name for b in file.brands}
    for i, saved in enumerate(file.queue.saved_replies):
        if saved.brand is not None and saved.brand not in own:
            raise ConfigError(name, f"queue.saved_replies[{i}].brand", f"{saved.brand!r} is not one of [[brands]]")
    for brand in file.queue.reply_approval.brands:
        if brand not in own:
            raise ConfigError(name, "queue.reply_approval.brands", f"{brand!r} is not one of [[brands]]")
    for level, risk in file.alerts.levels.items():
        if not 0 <= risk <= 100:
            raise ConfigError(name, f"alerts.levels.{level}", "must be between 0 and 100")
    # Levels are ranked by their risk; the usual names must rank as their words say.
    named = [(lvl, file.alerts.levels[lvl]) for lvl in SEVERITY_ORDER if lvl in file.alerts.levels]
    for (lower, low_risk), (higher, high_risk) in zip(named, named[1:], strict=False):
        if high_risk <= low_risk:
            raise ConfigError(name, f"alerts.levels.{higher}",
                              f"{higher} = {high_risk:g} must be above {lower} = {low_risk:g} "
                              "(a thread reaches the higher level at the higher risk)")
    for i, rule in enumerate(file.alerts.rules):
        if rule.min_level and rule.min_level not in file.alerts.levels:
            raise ConfigError(name, f"alerts.rules[{i}].min_level",
                              f"{rule.min_level!r} is not a level in [alerts.levels] "
                              f"({', '.join(file.alerts.levels)})")
        if rule.name in [r.name for r in file.alerts.rules[:i]]:
            raise ConfigError(name, f"alerts.rules[{i}].name", f"rule {rule.name!r} is defined twice")
    if file.alerts.spikes.critical_ratio < file.alerts.spikes.ratio:
        raise ConfigError(name, "alerts.spikes.critical_ratio", "must be at least alerts.spikes.ratio")


SEVERITY_ORDER = ("info", "notice", "warning", "high", "critical")

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
}


def _as_config_error(file: str, exc: ValidationError, prefix: tuple[Any, ...],
                     model: type[BaseModel] | None = None) -> ConfigError:
    """Every problem pydantic found, one line each, a misspelt key with the key it was meant to be."""
    errors = exc.errors()
    model = model or _model_of(exc)
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    lines: list[tuple[str, str]] = []
    explained: set[tuple[Any, ...]] = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            known = _fields_at(model, loc[:-1]) if model else []
            guess = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
            if guess:
                lines.append((_format_loc(prefix + loc), f"unknown key; did you mean {guess[0]}?"))
                explained.add(loc[:-1] + (guess[0],))
                continue
        lines.append((_format_loc(prefix + loc), _problem(err)))
    lines = [(k, p) for k, p in lines
             if not (p == "required key is missing" and tuple(_loc_of(k, prefix)) in explained & missing)]
    first = ConfigError(file, *lines[0])
    if len(lines) > 1:
        first.args = ("\n".join(f"{file}: {k}: {p}" if k else f"{file}: {p}" for k, p in lines),)
    first.problems = lines  # type: ignore[attr-defined]
    return first


def _loc_of(key: str, prefix: tuple[Any, ...]) -> tuple[Any, ...]:
    """_format_loc backwards (for matching a line to an error's loc)."""
    parts: list[Any] = []
    for token in key.replace("[", ".[").split("."):
        if token.startswith("[") and token.endswith("]") and token[1:-1].isdigit():
            parts.append(int(token[1:-1]))
        elif token:
            parts.append(token)
    return tuple(parts[len(prefix):])


def _problem(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling against config.example.toml)"
    if kind == "missing":
        return "required key is missing"
    if kind in ("too_short",) and err.get("ctx", {}).get("min_length") == 1:
        return "must not be empty"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in _TYPE_NAMES:
        got = type(err.get("input")).__name__
        return f"expected {_TYPE_NAMES[kind]}, got {got} {err.get('input')!r}"[:200]
    if kind == "literal_error":
        return f"must be one of {err['ctx']['expected']}, got {err.get('input')!r}"
    return str(err["msg"]).removeprefix("Value error, ")


def _model_of(exc: ValidationError) -> type[BaseModel] | None:
    """The model class that raised `exc` (pydantic names it in `title`)."""
    title = exc.title
    for cls in _all_models():
        if cls.__name__ == title:
            return cls
    return None


def _all_models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    stack: list[type] = [Section]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                stack.append(sub)
    return seen


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at `loc` under `model` (walking lists, tables and nested sections)."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    found = _step(current, None)
    return list(found.model_fields) if found is not None else []


def _step(tp: Any, part: Any) -> Any:
    """The type one step into `tp` at `part` (None: the model inside an Optional/union itself)."""
    from types import UnionType
    from typing import Union, get_args, get_origin

    origin = get_origin(tp)
    if origin in (Union, UnionType):
        for arg in get_args(tp):
            found = _step(arg, part) if arg is not type(None) else None
            if found is not None:
                return found
        return None
    if part is None:
        return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None
    if origin is list and isinstance(part, int):
        return get_args(tp)[0]
    if origin is dict and isinstance(part, str):
        return get_args(tp)[1]
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str) and part in tp.model_fields:
        return tp.model_fields[part].annotation
    return None


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
