"""relay.toml → frozen dataclasses, validated once at start-up.

Every mistake is one `ConfigError` naming the file, the key, what was found, what is expected and
how to fix it; the CLI turns it into exit code 2 ("don't restart", as the systemd unit says).
Tokens are not read here: `relay.config.credentials` reads them when a command needs them, so that
`relay replay` works with a config whose token files live on another machine.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relay.config.rules import full_handle, parse_rules
from relay.config.tomltable import Table
from relay.core.anchors import REPLY_SCOPES, status_id_candidate
from relay.core.digest import WEEKDAYS, Schedule
from relay.core.rules import MODES, Rules
from relay.core.transport import TRANSPORTS
from relay.errors import ConfigError

if sys.version_info >= (3, 11):  # noqa: UP036 - tomli is declared for older Pythons
    import tomllib
else:  # pragma: no cover - Python < 3.11 is not supported, the marker keeps tomli optional
    import tomli as tomllib

HOME_TOKEN_ENV = "RELAY_HOME_TOKEN"  # noqa: S105 - a variable name, not a secret
LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_PATH = Path("relay.toml")  # where every subcommand looks without -c

_TAG_RE = re.compile(r"^\w+$")


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    """A Mastodon-compatible instance the relay talks to, and where its token comes from."""

    url: str  # normalised: scheme://host[:port], no trailing slash
    token_file: Path | None  # absolute; None when the token comes from `token_env` (or there is none)
    token_env: str  # environment variable that may hold the token instead of a file
    transport: str = "auto"  # how its posts are read: auto, sse, websocket or rest (core.transport)

    @property
    def host(self) -> str:
        """host[:port], as log lines and status output name the instance."""
        return urlsplit(self.url).netloc


DM_POLICIES = ("follow", "accept", "leave")


@dataclass(frozen=True, slots=True)
class ModerationConfig:
    moderators: tuple[str, ...]  # full handles, lower case: user@domain
    mode: str  # "review" or "open"
    # How the relay makes sure moderators' DMs reach the bot (Mastodon >= 4.3 filters private
    # mentions from accounts the bot does not follow): "follow" the moderators, "accept" every
    # private mention in the notification policy, or "leave" the account as it is.
    dm_policy: str = "follow"
    digest_interval: float = 60.0  # seconds: holds within this time of the last notice share one DM
    hold_expiry_days: float = 7.0  # held posts nobody decides on become `expired` after this long
    refusal_interval: float = 86400.0  # seconds between two refusals to the same non-moderator
    silence_alert_minutes: float = 0.0  # DM moderators after this long without events; 0: off


@dataclass(frozen=True, slots=True)
class BoosterConfig:
    dry_run: bool = False  # screen and record, but never reblog or unreblog
    max_boosts_per_hour: int = 0  # spacing so followers are not flooded; 0: as fast as allowed
    on_edit: str = "unboost"  # a boosted post edited so it no longer passes: "unboost" or "hold"


@dataclass(frozen=True, slots=True)
class StreamsConfig:
    read_timeout: float = 60.0  # seconds of silence (Mastodon beats every 15 s) before a reconnect
    poll_interval: float = 60.0  # seconds between polls of a source without a token
    first_start_max_posts: int = 40  # how far back the very first start looks, in posts...
    first_start_max_age_hours: float = 24.0  # ...and in hours


@dataclass(frozen=True, slots=True)
class AnchorConfig:
    """A post whose public replies are boosted with or without the hashtag (`[[anchors]]`)."""

    url: str  # the post's URL on its own server, as written (the key of its replies in the store)
    replies: str = "direct"  # "direct": replies to the anchor itself; "thread": the whole thread
    interval: float = 60.0  # seconds between two reads of its context (default: streams.poll_interval)

    @property
    def host(self) -> str:
        """host[:port] of the anchor's own server, where its replies are read."""
        return urlsplit(self.url).netloc.lower()

    @property
    def base_url(self) -> str:
        """scheme://host[:port] of the anchor's own server."""
        return base_url(urlsplit(self.url))


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    address: str | None = None  # "127.0.0.1:9464" serves Prometheus metrics there; None: off
    allow_public: bool = False  # a non-loopback address needs this, deliberately


DIGEST_VISIBILITIES = ("public", "unlisted")


@dataclass(frozen=True, slots=True)
class DigestConfig:
    """`[digest]`: a weekly public summary posted by the bot (off unless `enabled`)."""

    enabled: bool = False
    day: str = "mon"  # one of WEEKDAYS
    hour: int = 9  # 0-23, local time in `timezone`
    timezone: str = "UTC"  # an IANA zone name
    visibility: str = "public"  # or "unlisted": out of the public timelines
    zone: tzinfo = field(default=UTC, compare=False)  # `timezone`, loaded

    @property
    def schedule(self) -> Schedule:
        return Schedule(WEEKDAYS.index(self.day), self.hour, self.zone)


@dataclass(frozen=True, slots=True)
class DirectoryConfig:
    enabled: bool = True  # `join` / `leave` / `intro` / `unlist` by DM; nobody is listed unasked
    html_dir: Path | None = None  # `relay run` writes index.html and directory.csv here; None: off
    collections: bool = True  # keep Mastodon Collections of the members (where the home has the API)
    title: str = ""  # the page's and the Collections' name; "": "#<first hashtag> directory"
    collections_refresh_seconds: float = 300.0  # how often the members' consent states are read


@dataclass(frozen=True, slots=True)
class Config:
    path: Path  # the relay.toml this came from
    hashtags: tuple[str, ...]  # as written (display form), without '#'
    state: Path  # absolute path of the SQLite database
    home: InstanceConfig
    sources: tuple[InstanceConfig, ...]
    moderation: ModerationConfig
    rules: Rules
    log_level: str
    booster: BoosterConfig = BoosterConfig()
    streams: StreamsConfig = StreamsConfig()
    metrics: MetricsConfig = MetricsConfig()
    anchors: tuple[AnchorConfig, ...] = ()
    directory: DirectoryConfig = DirectoryConfig()

    @property
    def directory_title(self) -> str:
        """The directory's name: `[directory] title`, or "#<first hashtag> directory"."""
        return self.directory.title or f"#{self.hashtags[0]} directory"

    digest: DigestConfig = DigestConfig()


def add_config_option(parser: argparse.ArgumentParser, help: str) -> None:
    """`-c/--config PATH`, `DEFAULT_PATH` when not given: the same option in every subcommand."""
    parser.add_argument("-c", "--config", type=Path, default=DEFAULT_PATH, help=help)


def load_config(path: Path | str) -> Config:
    """Read and validate relay.toml; raise ConfigError naming the key and the fix."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such configuration file",
            fix="pass the right file with -c PATH, or copy the documented relay.toml",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}", fix="check its permissions") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text", fix="save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: is not valid TOML: {exc}", fix="correct the TOML syntax there") from None
    return parse_config(doc, path=path.resolve())


def parse_config(doc: dict[str, Any], *, path: Path) -> Config:
    """Validate an already parsed relay.toml; relative paths are relative to `path`'s folder."""
    top = Table(doc, source=path.name)
    base = path.parent
    hashtags = top.get_str_list(
        "hashtags", required=True, example='hashtags = ["TherapistsConnect"]', item=lambda t: t
    )
    if not hashtags:
        raise top.error("hashtags", "at least one hashtag", fix='write hashtags = ["TherapistsConnect"]')
    for tag in hashtags:
        if not _TAG_RE.fullmatch(tag):
            bare = tag.lstrip("#")
            fix = f'write "{bare}" without the "#"' if tag.startswith("#") else "use letters, digits and _"
            raise top.error("hashtags", "hashtag names without '#' (letters, digits, _)", found=tag, fix=fix)
    state = base / top.get_str("state", "relay.sqlite3")
    home_table = top.table("home")
    if "url" not in home_table:
        raise home_table.missing(
            "url", "the booster account's instance URL", 'url = "https://therapists.example"'
        )
    home = _instance(home_table, base, default_env=HOME_TOKEN_ENV)
    sources = tuple(_instance(t, base, default_env=None) for t in top.tables("sources"))
    _reject_duplicate_sources(home, sources, path.name)
    moderation_table = top.table("moderation")
    mode = moderation_table.get_str("mode", "review", choices=MODES)
    moderators = moderation_table.get_str_list("moderators", item=lambda h: h)
    moderation = _moderation(moderation_table, mode, moderators)
    log_table = top.table("log")
    log_level = log_table.get_str("level", "info", choices=LOG_LEVELS)
    log_table.finish()
    booster = _booster(top.table("booster"))
    streams = _streams(top.table("streams"))
    anchors = tuple(_anchor(t, streams.poll_interval) for t in top.tables("anchors"))
    _reject_duplicate_anchors(anchors, path.name)
    metrics_table = top.table("metrics")
    metrics = MetricsConfig(
        address=metrics_table.get_str("address") or None,
        allow_public=metrics_table.get_bool("allow_public", False),
    )
    metrics_table.finish()
    directory = _directory(top.table("directory"), base)
    digest = _digest(top.table("digest"))
    rules = parse_rules(
        doc.get("rules", {}), hashtags=hashtags, mode=mode, self_acct=None, base_dir=base, source=path.name
    )
    top.table("rules")  # validated by parse_rules; mark it read
    top.finish()
    return Config(
        path=path,
        hashtags=hashtags,
        state=state,
        home=home,
        sources=sources,
        moderation=moderation,
        rules=rules,
        log_level=log_level,
        booster=booster,
        streams=streams,
        metrics=metrics,
        anchors=anchors,
        directory=directory,
        digest=digest,
    )


def _directory(table: Table, base: Path) -> DirectoryConfig:
    default = DirectoryConfig()
    html_dir = table.get_str("html_dir", "")
    title = table.get_str("title", default.title)
    if len(title) > 200:
        raise table.error("title", "at most 200 characters", found=title, fix="shorten it")
    result = DirectoryConfig(
        enabled=table.get_bool("enabled", default.enabled),
        html_dir=base / html_dir if html_dir else None,
        collections=table.get_bool("collections", default.collections),
        title=title,
        collections_refresh_seconds=table.get_float(
            "collections_refresh_seconds", default.collections_refresh_seconds, minimum=1.0
        ),
    )
    table.finish()
    return result


def _digest(table: Table) -> DigestConfig:
    default = DigestConfig()
    day = table.get_str("day", default.day, choices=WEEKDAYS)
    hour = table.get_int("hour", default.hour, minimum=0)
    if hour > 23:
        raise table.error("hour", "a whole number from 0 to 23 (the hour of the day, local time)")
    name = table.get_str("timezone", default.timezone)
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise table.error(
            "timezone",
            'an IANA time zone name such as "Europe/London" or "America/New_York"',
            fix=f"set {table.key('timezone')} to a name listed by `timedatectl list-timezones`"
            ' (the tzdata package), or "UTC"',
        ) from None
    result = DigestConfig(
        enabled=table.get_bool("enabled", default.enabled),
        day=day,
        hour=hour,
        timezone=name,
        visibility=table.get_str("visibility", default.visibility, choices=DIGEST_VISIBILITIES),
        zone=zone,
    )
    table.finish()
    return result


def _moderation(table: Table, mode: str, moderators: tuple[str, ...]) -> ModerationConfig:
    default = ModerationConfig(moderators=(), mode=mode)
    result = ModerationConfig(
        moderators=tuple(_handle(table, h) for h in moderators),
        mode=mode,
        dm_policy=table.get_str("dm_policy", default.dm_policy, choices=DM_POLICIES),
        digest_interval=table.get_float("digest_interval", default.digest_interval, minimum=0.0),
        hold_expiry_days=table.get_float("hold_expiry_days", default.hold_expiry_days, minimum=0.001),
        refusal_interval=table.get_float("refusal_interval", default.refusal_interval, minimum=0.0),
        silence_alert_minutes=table.get_float(
            "silence_alert_minutes", default.silence_alert_minutes, minimum=0.0
        ),
    )
    table.finish()
    return result


def _booster(table: Table) -> BoosterConfig:
    default = BoosterConfig()
    result = BoosterConfig(
        dry_run=table.get_bool("dry_run", default.dry_run),
        max_boosts_per_hour=table.get_int("max_boosts_per_hour", default.max_boosts_per_hour, minimum=0),
        on_edit=table.get_str("on_edit", default.on_edit, choices=("unboost", "hold")),
    )
    table.finish()
    return result


def _streams(table: Table) -> StreamsConfig:
    default = StreamsConfig()
    result = StreamsConfig(
        read_timeout=table.get_float("read_timeout", default.read_timeout, minimum=0.1),
        poll_interval=table.get_float("poll_interval", default.poll_interval, minimum=0.1),
        first_start_max_posts=table.get_int(
            "first_start_max_posts", default.first_start_max_posts, minimum=0
        ),
        first_start_max_age_hours=table.get_float(
            "first_start_max_age_hours", default.first_start_max_age_hours, minimum=0.0
        ),
    )
    table.finish()
    return result


def _anchor(table: Table, poll_interval: float) -> AnchorConfig:
    example = 'url = "https://therapists.example/@founder/109876543210"'
    value = table.get_str("url", required=True, example=example)
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise table.error("url", "a post's https:// URL", fix=f"write {example}: the post's link")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise table.error(
            "url",
            "https:// (plain http:// is accepted for loopback addresses only)",
            fix=f'write url = "https{value[4:]}"',
        )
    if parts.query or parts.fragment or status_id_candidate(value) is None:
        raise table.error(
            "url",
            "a post's URL ending in its id, such as https://therapists.example/@founder/109876543210",
            fix='copy the post\'s link (its date or "Copy link to post"), not a profile or a page',
        )
    result = AnchorConfig(
        url=value.rstrip("/"),
        replies=table.get_str("replies", "direct", choices=REPLY_SCOPES),
        interval=table.get_float("interval", poll_interval, minimum=0.1),
    )
    table.finish()
    return result


def _reject_duplicate_anchors(anchors: tuple[AnchorConfig, ...], source: str) -> None:
    seen: dict[str, int] = {}
    for i, anchor in enumerate(anchors):
        if anchor.url in seen:
            raise ConfigError(
                f"{source}: anchors[{i}].url = {anchor.url!r} is already anchors[{seen[anchor.url]}]",
                fix="remove the duplicate [[anchors]] entry",
            )
        seen[anchor.url] = i


def _instance(table: Table, base: Path, *, default_env: str | None) -> InstanceConfig:
    url = _url(table)
    token_file = table.get_str("token_file")
    env = table.get_str("token_env", default_env or _source_env(url))
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", env):
        raise table.error("token_env", "an environment variable name (A-Z, 0-9, _)")
    transport = table.get_str("transport", "auto", choices=TRANSPORTS)
    table.finish()
    return InstanceConfig(
        url=url,
        token_file=(base / token_file) if token_file else None,
        token_env=env,
        transport=transport,
    )


def _source_env(url: str) -> str:
    """RELAY_SOURCE_<HOST>_TOKEN, e.g. RELAY_SOURCE_MASTODON_SOCIAL_TOKEN for mastodon.social."""
    host = urlsplit(url).netloc.upper()
    return "RELAY_SOURCE_" + re.sub(r"[^A-Z0-9]+", "_", host).strip("_") + "_TOKEN"


def _url(table: Table) -> str:
    value = table.get_str("url", required=True, example='url = "https://mastodon.example"')
    parts = urlsplit(value)
    problem = url_problem(parts)
    if problem is UrlProblem.NOT_A_URL:
        raise table.error("url", "an https:// URL such as https://mastodon.example")
    if problem is UrlProblem.PATH:
        raise table.error(
            "url",
            "the instance's base URL without a path",
            fix=f'write url = "{parts.scheme}://{parts.netloc}"',
        )
    if problem is UrlProblem.PLAIN_HTTP:
        raise table.error(
            "url",
            "https:// (plain http:// is accepted for loopback addresses only)",
            fix=f'write url = "https://{parts.netloc}"',
        )
    return base_url(parts)


class UrlProblem(StrEnum):
    """What is wrong with an instance URL (relay.toml's `url`, `relay login --instance`)."""

    NOT_A_URL = "not an http(s) URL with a host"
    PATH = "more than a base URL (a path, query or fragment)"
    PLAIN_HTTP = "plain http:// for a host that is not loopback"


def url_problem(parts: SplitResult) -> UrlProblem | None:
    """The one rule for an instance's base URL: https (http for loopback only), a host, no path,
    query or fragment. None when `parts` is such a URL; each caller words its own error."""
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return UrlProblem.NOT_A_URL
    if parts.path.strip("/") or parts.query or parts.fragment:
        return UrlProblem.PATH
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return UrlProblem.PLAIN_HTTP
    return None


def base_url(parts: SplitResult) -> str:
    """A base URL as the relay uses it: `scheme://host[:port]`, the host in lower case."""
    return f"{parts.scheme}://{parts.netloc.lower()}"


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _handle(table: Table, handle: str) -> str:
    acct = full_handle(handle)
    if acct is None:
        raise table.error(
            "moderators",
            "full handles user@domain, as the instance reports them",
            found=handle,
            fix='write moderators = ["alice@therapists.example"] (a bare name is ambiguous across instances)',
        )
    return acct


def _reject_duplicate_sources(home: InstanceConfig, sources: tuple[InstanceConfig, ...], source: str) -> None:
    seen = {home.url: "home.url"}
    for i, s in enumerate(sources):
        if s.url in seen:
            raise ConfigError(
                f"{source}: sources[{i}].url = {s.url!r} is already watched as {seen[s.url]}",
                fix="remove the duplicate [[sources]] entry (the home instance is always watched)",
            )
        seen[s.url] = f"sources[{i}].url"
