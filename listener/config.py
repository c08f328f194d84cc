"""Configuration: TOML loaded once into typed, validated objects.

Every problem ends as one ConfigError line, `overheard.toml: brands[0].keywords: must not be empty`.
Secrets are never in the file: a key ending in `_env` names the environment variable that holds one.
Each source and each alert channel declares its own section model next to its code (one module plus
one registry line adds a source); this module validates those sections through the registries.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from listener.errors import ConfigError

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
    # Env var holding the key that signs session cookies. Unset: a random key kept in session.key beside
    # the database (mode 600), so logins survive restarts.
    session_secret_env: str = "OVERHEARD_SESSION_SECRET"
    session_hours: int = Field(default=12, gt=0)
    # Send cookies only over HTTPS: set true when the UI sits behind a TLS proxy.
    secure_cookies: bool = False
    # Env var holding the Slack app's signing secret; unset: the Slack button endpoint answers 503.
    slack_signing_secret_env: str = "SLACK_SIGNING_SECRET"
    # false: a Slack user without `overheard users add … --slack-id` acts as "slack:<username>";
    # true: only Slack users linked to an overheard user may use the buttons.
    slack_require_known_users: bool = False


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

    @field_validator("backoff_max_seconds")
    @classmethod
    def _max_not_below_base(cls, value: float, info: Any) -> float:
        base = info.data.get("backoff_base_seconds")
        if base is not None and value < base:
            raise ValueError("must be at least backoff_base_seconds")
        return value


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
    daemon: DaemonConfig = DaemonConfig()
    sources: dict[str, dict[str, Any]] = {}


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
        self.daemon = file.daemon
        self.sources = sources  # name -> that source's validated section
        self.receivers = receivers  # validated channel sections, in file order

    def resolve(self, relative: str) -> Path:
        p = Path(os.path.expanduser(relative))
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def db_path(self) -> Path:
        return self.resolve(self.store.path)

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

    from listener.sources import source_config_class

    sources: dict[str, Section] = {}
    for src_name, section in file.sources.items():
        cls = source_config_class(src_name)
        if cls is None:
            from listener.sources import available_sources

            raise ConfigError(
                name, f"sources.{src_name}", f"unknown source; known: {', '.join(available_sources())}"
            )
        try:
            sources[src_name] = cls.model_validate(section)
        except ValidationError as exc:
            raise _as_config_error(name, exc, ("sources", src_name)) from None

    from alerts.channels import available_channels, channel_config_class

    receivers: list[Section] = []
    seen: set[str] = set()
    for i, section in enumerate(file.alerts.receivers):
        key = f"alerts.receivers[{i}]"
        kind = section.get("type")
        cls = channel_config_class(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ConfigError(name, f"{key}.type", f"must be one of {', '.join(available_channels())}")
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
    if check_secrets:
        check_config_secrets(config)
    return config


def check_config_secrets(config: Config) -> None:
    """Every `*_env` key of an enabled source or receiver names a variable that is set."""
    for src_name, section in config.sources.items():
        if getattr(section, "enabled", True):
            _check_env_fields(config, f"sources.{src_name}", section)
    for i, rec in enumerate(config.receivers):
        if getattr(rec, "enabled", True):
            _check_env_fields(config, f"alerts.receivers[{i}]", rec)


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
    for level, risk in file.alerts.levels.items():
        if not 0 <= risk <= 100:
            raise ConfigError(name, f"alerts.levels.{level}", "must be between 0 and 100")
    for i, rule in enumerate(file.alerts.rules):
        if rule.min_level and rule.min_level not in file.alerts.levels:
            raise ConfigError(name, f"alerts.rules[{i}].min_level",
                              f"{rule.min_level!r} is not a level in [alerts.levels] "
                              f"({', '.join(file.alerts.levels)})")
        if rule.name in [r.name for r in file.alerts.rules[:i]]:
            raise ConfigError(name, f"alerts.rules[{i}].name", f"rule {rule.name!r} is defined twice")
    if file.alerts.spikes.critical_ratio < file.alerts.spikes.ratio:
        raise ConfigError(name, "alerts.spikes.critical_ratio", "must be at least alerts.spikes.ratio")


_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
}


def _as_config_error(file: str, exc: ValidationError, prefix: tuple[Any, ...]) -> ConfigError:
    err = exc.errors()[0]
    loc = prefix + tuple(err["loc"])
    key = _format_loc(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        problem = "unknown key (check the spelling against config.example.toml)"
    elif kind == "missing":
        problem = "required key is missing"
    elif kind in ("too_short",) and err.get("ctx", {}).get("min_length") == 1:
        problem = "must not be empty"
    elif kind == "string_too_short":
        problem = "must not be empty"
    elif kind in _TYPE_NAMES:
        got = type(err.get("input")).__name__
        problem = f"expected {_TYPE_NAMES[kind]}, got {got} {err.get('input')!r}"[:200]
    elif kind == "literal_error":
        problem = f"must be one of {err['ctx']['expected']}, got {err.get('input')!r}"
    else:
        problem = err["msg"].removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    if more:
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(file, key, problem)


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
