"""PURE half of `relay check`: facts in, a checklist out, as text or JSON. No network, no files.

`relay.cli.check.gather()` talks to the instances and records what it saw as frozen `*Facts` (every
network or API error already turned into text). `decide()` turns those facts into one `Item` per
line, each ✓ (ok), ! (warning: does not fail), ✗ (fails, with the fix) or - (skipped: an earlier
item failed), in the order an admin fixes things. `render_text` and `render_json` print them;
`exit_code` is 0 without a ✗, 2 when a ✗ is about the configuration or a token (as everywhere in
relay: "do not restart"), 1 otherwise. Facts carry no tokens: `gather()` keeps them out.

`REQUIRED_SCOPES` (what `relay login` asks for and `relay check` verifies) lives here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from relay.config.load import Config, InstanceConfig
from relay.core.servers import UNKNOWN, ServerKind
from relay.core.transport import Plan
from relay.errors import ConfigError
from relay.sources.access import feeds_access

# The scopes `relay login` asks for and the bot's token must hold; `relay` needs each one for:
REQUIRED_SCOPES: tuple[str, ...] = (
    "read:accounts",  # verify_credentials: which account boosts
    "read:follows",  # relationships: does the bot follow the moderators
    "read:notifications",  # moderators' DMs arrive as mention notifications; read the notification policy
    "read:search",  # resolve a post from another instance on the home instance before reblogging it
    "read:statuses",  # hashtag and user streams, tag timeline catch-up, conversations
    "write:follows",  # follow the moderators, so that their DMs pass the notification policy
    "write:notifications",  # dismiss handled notifications; set the notification policy
    "write:statuses",  # reblog and unreblog; reply to moderators by direct message
)
# GoToSocial's streaming takes only a token with the top-level `read` (a granular `read:*` gets
# 403: internal/processing/stream/authorize.go); the granular write scopes it takes as Mastodon does.
GOTOSOCIAL_SCOPES: tuple[str, ...] = (
    "read",  # everything the read:* scopes above give, and its streaming
    "write:follows",
    "write:notifications",
    "write:statuses",
)
SOURCE_SCOPES: tuple[str, ...] = ("read:statuses",)  # a source's token only streams and reads tag timelines

FIX_BOT = 'mark the account as automated: Preferences > Profile > "This is an automated account"'
FIX_LANGUAGES = 'on the bot account, clear Preferences > Other > "Filter languages" (nothing ticked)'
FIX_DMS = (
    "set the bot's notification policy for private mentions to accept (Preferences > Notifications), "
    "or follow the moderators from the bot account"
)


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


SYMBOLS = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIP: "-"}


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the checklist."""

    key: str  # stable name for --json and tests: "config", "credentials", "source:HOST", ...
    title: str
    status: Status
    detail: str
    fix: str | None = None
    exit_code: int = 1  # the command's exit code when this item fails: 2 for configuration and tokens


# ---- facts: what gather() saw ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    """What `/api/v2/instance` and the streaming server said, or why they could not be reached."""

    host: str
    error: str | None = None  # /api/v2/instance failed: the instance is unreachable for the relay
    domain: str = ""
    version: str = ""
    hashtag_feeds: Mapping[str, str] | None = None  # {"local": ..., "remote": ...}; None before 4.5
    streaming_error: str | None = None  # None: the stream the plan reads answered (or none is read)
    kind: ServerKind = UNKNOWN  # from its NodeInfo (`relay.sources.nodeinfo`)
    kind_error: str | None = None  # why NodeInfo did not say (then taken as Mastodon-compatible)
    plan: Plan | None = None  # how the relay reads its posts (`relay.core.transport.choose`)
    feed_error: str | None = None  # reading the hashtag feed the way the relay will failed
    feed_fix: str | None = None

    @property
    def server(self) -> str:
        """The server's name and version as it says them: NodeInfo's, else the instance JSON's."""
        if self.kind.software:
            return self.kind.label
        said = f"version {self.version}" if self.version else "version unknown"
        return f"{said}; no NodeInfo ({self.kind_error}): taken as Mastodon-compatible"

    @property
    def is_mastodon(self) -> bool:
        return self.kind.family in ("mastodon", "unknown")


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """Whether an instance's token could be read and was accepted."""

    present: bool = False
    error: str | None = None  # unreadable token file, or the API's refusal
    fix: str | None = None
    rejected: bool = False  # 401/403: the token itself is bad (exit 2); else a network error


@dataclass(frozen=True, slots=True)
class ModeratorFacts:
    handle: str  # user@domain from the configuration
    found: bool = False
    following: bool = False  # the bot follows the moderator
    followed_by: bool = False  # the moderator follows the bot
    error: str | None = None  # the lookup failed (not: the account does not exist)
    recognisable: bool = True  # the home instance gives the account a uri or an id (`AccountId`)


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """The bot account, as its working token sees it."""

    acct: str  # user@domain
    bot: bool
    languages_known: bool = False  # the server reports the language filter (Mastodon does not)
    chosen_languages: tuple[str, ...] = ()
    scopes: tuple[str, ...] | None = None  # None: the server does not report them
    scopes_of: str = "token"  # "token" (/oauth/token/info) or "token's app" (the app's registered scopes)
    policy: Mapping[str, str] | None = None  # None: no notification policy (before Mastodon 4.3)
    policy_error: str | None = None
    moderators: tuple[ModeratorFacts, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceFacts:
    instance: InstanceFacts
    token: TokenFacts


@dataclass(frozen=True, slots=True)
class AnchorFacts:
    """One anchor post as its own server showed it (`relay.sources.anchors`), or why it did not."""

    url: str
    scope: str  # "direct" | "thread"
    interval: float
    token: bool  # read with a token for that server
    status_id: str | None = None
    replies: int = 0  # its replies as `scope` counts them
    descendants: int = 0
    limited: bool = False  # a tokenless read that got Mastodon's whole tokenless allowance
    original: str | None = None  # the link names a copy: the original's link
    error: str | None = None
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class StateFacts:
    path: str
    exists: bool
    error: str | None = None
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    config: Config
    home: InstanceFacts
    home_token: TokenFacts
    account: AccountFacts | None  # None when the home token does not work
    sources: tuple[SourceFacts, ...]
    state: StateFacts
    anchors: tuple[AnchorFacts, ...] = ()


# ---- decide: facts → items (pure) --------------------------------------------------------------


def required_scopes(kind: ServerKind) -> tuple[str, ...]:
    """The scopes `relay login` asks `kind` for and `relay check` requires of the bot's token."""
    return GOTOSOCIAL_SCOPES if kind.family == "gotosocial" else REQUIRED_SCOPES


def covers(granted: Iterable[str], needed: str) -> bool:
    """True if a granted scope gives `needed`: itself, its parent (`read`), or legacy `follow`."""
    have = set(granted)
    if needed in have or needed.split(":")[0] in have:
        return True
    return needed in ("read:follows", "write:follows") and "follow" in have


def missing_scopes(granted: Iterable[str], needed: Sequence[str] = REQUIRED_SCOPES) -> list[str]:
    granted = tuple(granted)
    return [scope for scope in needed if not covers(granted, scope)]


def exit_code(items: Sequence[Item]) -> int:
    """0 without a failure, else the highest exit code of the failed items."""
    return max((i.exit_code for i in items if i.status is Status.FAIL), default=0)


def config_item(config: Config) -> Item:
    tags = ", ".join("#" + t for t in config.hashtags)
    n_src, n_mod = len(config.sources), len(config.moderation.moderators)
    detail = (
        f"{config.path.name} is valid: {tags}; {n_src} source{'s' * (n_src != 1)}, "
        f"{n_mod} moderator{'s' * (n_mod != 1)}, mode {config.moderation.mode}"
    )
    return Item("config", "configuration", Status.OK, detail)


def config_error_item(error: ConfigError) -> Item:
    return Item("config", "configuration", Status.FAIL, error.message, error.fix, exit_code=2)


def _feed_verdict(facts: InstanceFacts, *, has_token: bool, is_home: bool) -> tuple[Status, str]:
    feeds = facts.hashtag_feeds
    if feeds is None and not facts.is_mastodon:
        server = facts.kind.software or facts.kind.family
        return Status.OK, f"hashtag feeds: {server} has no access setting; see its feed item"
    if feeds is None:
        return Status.OK, "hashtag feeds open (no timelines_access setting: Mastodon before 4.5)"
    local, remote = feeds.get("local", "public"), feeds.get("remote", "public")
    if local == "disabled" or (is_home and remote == "disabled"):
        return Status.FAIL, f"hashtag feeds are disabled on {facts.host} (local {local}, remote {remote})"
    if not has_token and not feeds_access(feeds.get("local"), feeds.get("remote")).poll:
        return Status.WARN, "hashtag feeds need a logged-in token: without one the relay falls back to RSS"
    if remote == "disabled":
        return Status.WARN, "hashtag feeds show only its own posts (remote disabled)"
    return Status.OK, f"hashtag feeds: local {local}, remote {remote}"


def instance_item(key: str, title: str, facts: InstanceFacts, *, has_token: bool, is_home: bool) -> Item:
    if facts.error:
        unreachable = "check the url in relay.toml and that this machine can reach the instance"
        return Item(key, title, Status.FAIL, f"cannot reach {facts.host}: {facts.error}", unreachable)
    status, feeds = _feed_verdict(facts, has_token=has_token, is_home=is_home)
    fix: str | None = None
    if status is Status.FAIL:
        fix = f"ask the admin of {facts.host} to allow hashtag feeds, or remove this instance from relay.toml"
    elif status is Status.WARN and not has_token:
        fix = f"give the relay a token for {facts.host} (token_file) to read its feed directly"
    return Item(key, title, status, f"{facts.host} ({facts.server}): {feeds}", fix)


def streaming_item(host: str, facts: InstanceFacts) -> Item:
    """Whether the stream the relay will read answers (SSE: its health endpoint; WebSocket: the
    upgrade). Read over REST, there is no stream to check."""
    key, title = f"streaming:{host}", f"streaming {host}"
    if facts.error:
        return Item(key, title, Status.SKIP, f"{host} is unreachable")
    plan = facts.plan
    if plan is None or plan.method == "rest":
        return Item(key, title, Status.SKIP, "not streamed: read over REST (see feed)")
    what = "streaming server" if plan.method == "sse" else "WebSocket streaming"
    if facts.streaming_error and "refused the token" in facts.streaming_error:
        fix = (
            f"log in again (relay login --instance {facts.host}): the token must be allowed to stream"
            f"{' (the top-level read scope)' if facts.kind.family == 'gotosocial' else ''}"
        )
        return Item(key, title, Status.FAIL, f"{what}: {facts.streaming_error}", fix, exit_code=2)
    if facts.streaming_error:
        fix = (
            f"ask the admin of {host} to check the streaming server; until then the relay reads "
            f"{host} over REST once the stream has failed for good"
        )
        return Item(key, title, Status.FAIL, f"{what} unhealthy: {facts.streaming_error}", fix)
    return Item(
        key, title, Status.OK, f"{what} healthy" if plan.method == "sse" else f"{what} upgrade accepted"
    )


def feed_item(host: str, facts: InstanceFacts) -> Item:
    """How the relay will read the instance's posts and why, and whether that read works."""
    key, title = f"feed:{host}", f"feed {host}"
    if facts.error or facts.plan is None:
        return Item(key, title, Status.SKIP, f"{host} is unreachable")
    plan = facts.plan
    detail = f"{plan.label}: {plan.reason}"
    if facts.feed_error:
        fix = (
            facts.feed_fix or f"give the relay a token for {host} (token_file), or remove it from relay.toml"
        )
        return Item(key, title, Status.FAIL, f"{detail}; but {facts.feed_error}", fix)
    return Item(key, title, Status.OK, detail)


def credentials_item(home: InstanceConfig, token: TokenFacts, account: AccountFacts | None) -> Item:
    if account is not None:
        return Item("credentials", "home credentials", Status.OK, f"the token works for {account.acct}")
    if not token.present and token.error is None:
        fix = f"set {home.token_env}, or token_file under [home] (relay login writes it)"
        return Item("credentials", "home credentials", Status.FAIL, "no token for the home instance", fix, 2)
    fix = token.fix or f"get a new token (relay login --instance {home.url}) and write it to the token file"
    code = 2 if token.rejected else 1
    return Item(
        "credentials", "home credentials", Status.FAIL, token.error or "token not accepted", fix, code
    )


def account_items(config: Config, account: AccountFacts, home: InstanceFacts) -> list[Item]:
    """The bot flag, scopes, language filter, moderators and moderator DMs of a working account."""
    items = []
    if account.bot:
        items.append(Item("bot", "automated account", Status.OK, f"{account.acct} is marked as a bot"))
    else:
        detail = f"{account.acct} is not marked as a bot: followers should know it is automated"
        items.append(Item("bot", "automated account", Status.WARN, detail, FIX_BOT))
    items.append(scopes_item(account, home.kind))
    if not account.languages_known:
        detail = "the server does not show the bot's language filter: if one is set, posts get dropped"
        items.append(Item("languages", "language filter", Status.WARN, detail, FIX_LANGUAGES))
    elif account.chosen_languages:
        shown = ", ".join(account.chosen_languages)
        detail = f"the bot filters languages ({shown}): streams silently drop posts in other languages"
        items.append(Item("languages", "language filter", Status.FAIL, detail, FIX_LANGUAGES))
    else:
        items.append(Item("languages", "language filter", Status.OK, "no language filter on the bot"))
    items.append(moderators_item(config, account))
    items.append(moderator_dms_item(account, home))
    return items


def scopes_item(account: AccountFacts, kind: ServerKind = UNKNOWN) -> Item:
    needed = required_scopes(kind)
    if account.scopes is None:
        detail = "the server does not report the token's scopes: cannot verify"
        fix = "make sure the token was created with: " + " ".join(needed)
        return Item("scopes", "token scopes", Status.WARN, detail, fix)
    granted = " ".join(account.scopes) or "(none)"
    lacking = missing_scopes(account.scopes, needed)
    if lacking:
        detail = f"the {account.scopes_of} lacks {' '.join(lacking)} (granted: {granted})"
        if kind.family == "gotosocial" and "read" in lacking:
            detail += f"; {kind.label} streams only to a token with the top-level read"
        fix = "log in again (relay login asks for: " + " ".join(needed) + ")"
        return Item("scopes", "token scopes", Status.FAIL, detail, fix, exit_code=2)
    return Item("scopes", "token scopes", Status.OK, f"the {account.scopes_of} grants {granted}")


def moderators_item(config: Config, account: AccountFacts) -> Item:
    if not config.moderation.moderators:
        detail = "no moderators: nobody can approve held posts or steer the relay by DM"
        fix = 'list them under [moderation]: moderators = ["alice@therapists.example"]'
        return Item("moderators", "moderators", Status.WARN, detail, fix)
    errors = [f"{m.handle} ({m.error})" for m in account.moderators if m.error]
    if errors:
        detail = "could not look up " + ", ".join(errors)
        return Item("moderators", "moderators", Status.FAIL, detail, "run relay check again")
    missing = [m.handle for m in account.moderators if not m.found]
    if missing:
        detail = f"not found from {account.acct.partition('@')[2]}: {', '.join(missing)}"
        fix = "correct the handle in [moderation] moderators (user@domain, as their profile shows it)"
        return Item("moderators", "moderators", Status.FAIL, detail, fix)
    blank = [m.handle for m in account.moderators if not m.recognisable]
    if blank:
        detail = (
            f"cannot be recognised: {account.acct.partition('@')[2]} gives {', '.join(blank)} neither "
            "uri nor id, so no DM can be trusted to come from them"
        )
        fix = "use a home instance whose API gives accounts an id (every Mastodon-API server should)"
        return Item("moderators", "moderators", Status.FAIL, detail, fix)
    return Item("moderators", "moderators", Status.OK, "found " + ", ".join(config.moderation.moderators))


def _dm_blockers(policy: Mapping[str, str], moderator: ModeratorFacts) -> list[str]:
    """The notification policy fields that would hide this moderator's DMs from the bot."""
    blockers = []
    if not moderator.following:
        blockers += [f for f in ("for_private_mentions", "for_not_following") if policy.get(f) != "accept"]
    if not moderator.followed_by and policy.get("for_not_followers", "accept") != "accept":
        blockers.append("for_not_followers")
    return blockers


def moderator_dms_item(account: AccountFacts, home: InstanceFacts) -> Item:
    key, title = "moderator_dms", "moderator DMs"
    found = [m for m in account.moderators if m.found]
    if not found:
        return Item(key, title, Status.SKIP, "no moderator found to check")
    if account.policy_error:
        return Item(key, title, Status.FAIL, f"cannot read the notification policy: {account.policy_error}")
    if account.policy is None:
        if not home.is_mastodon:
            detail = f"{home.server} has no notification policy: it filters no DMs"
            return Item(key, title, Status.OK, detail)
        return Item(key, title, Status.OK, "the server filters no notifications (before Mastodon 4.3)")
    policy = account.policy
    blocked = {m.handle: b for m in found if (b := _dm_blockers(policy, m))}
    if not blocked:
        if policy.get("for_private_mentions") == "accept":
            return Item(key, title, Status.OK, "the notification policy accepts private mentions")
        return Item(key, title, Status.OK, "the bot follows every moderator it found: their DMs get through")
    names = "; ".join(f"{h} ({', '.join(b)})" for h, b in blocked.items())
    detail = (
        f"the notification policy (private mentions: {policy.get('for_private_mentions')}) "
        f"would hide DMs from {names}"
    )
    fix = FIX_DMS
    if any("for_not_followers" in b for b in blocked.values()):
        fix += "; with for_not_followers filtering, moderators must follow the bot too"
    return Item(key, title, Status.FAIL, detail, fix)


def source_item(source: SourceFacts) -> Item:
    host = source.instance.host
    key, title = f"source:{host}", f"source {host}"
    if source.token.error and not source.instance.error:
        fix = source.token.fix or f"get a new token for {host}, or remove token_file to poll without one"
        code = 2 if source.token.rejected else 1
        return Item(key, title, Status.FAIL, f"{host}: {source.token.error}", fix, code)
    item = instance_item(key, title, source.instance, has_token=source.token.present, is_home=False)
    if item.status is Status.OK and source.token.present:
        return Item(key, title, Status.OK, item.detail + "; token works")
    return item


def anchor_item(anchor: AnchorFacts) -> Item:
    """Whether an anchor can be read, how many replies it has, and how the relay reads them."""
    key, title = f"anchor:{anchor.url}", "anchor post"
    if anchor.error:
        return Item(key, title, Status.FAIL, f"{anchor.url}: {anchor.error}", anchor.fix)
    how = f"{'with a token' if anchor.token else 'without a token'}, every {anchor.interval:g} s"
    what = "direct replies" if anchor.scope == "direct" else "replies in its thread"
    detail = f"{anchor.url}: {anchor.replies} {what} (of {anchor.descendants} in its context); read {how}"
    if anchor.limited:
        fix = f"add a [[sources]] entry with a token for {anchor.url.split('/')[2]}"
        return Item(key, title, Status.WARN, detail + "; a reader without a token sees at most 60", fix)
    if anchor.original:
        fix = f'use url = "{anchor.original}": replies reach the original post\'s server'
        return Item(key, title, Status.WARN, detail + f"; this link shows a copy of {anchor.original}", fix)
    return Item(key, title, Status.OK, detail)


def state_item(state: StateFacts) -> Item:
    if state.error:
        return Item("state", "state database", Status.FAIL, state.error, state.fix, exit_code=2)
    if not state.exists:
        return Item("state", "state database", Status.WARN, f"{state.path} will be created at first run")
    return Item("state", "state database", Status.OK, f"{state.path} opens")


def decide(facts: Facts) -> list[Item]:
    """The checklist for what gather() saw, in the order an admin fixes things."""
    config = facts.config
    items = [config_item(config)]
    items.append(instance_item("home", "home instance", facts.home, has_token=True, is_home=True))
    if facts.home.error:
        items.append(
            Item("credentials", "home credentials", Status.SKIP, f"{facts.home.host} is unreachable")
        )
    else:
        items.append(credentials_item(config.home, facts.home_token, facts.account))
    if facts.account is not None:
        items += account_items(config, facts.account, facts.home)
    else:
        for key, title in (("bot", "automated account"), ("scopes", "token scopes"),
                           ("languages", "language filter"), ("moderators", "moderators"),
                           ("moderator_dms", "moderator DMs")):  # fmt: skip
            items.append(Item(key, title, Status.SKIP, "needs working home credentials"))
    items.append(feed_item(facts.home.host, facts.home))
    items.append(streaming_item(facts.home.host, facts.home))
    for source in facts.sources:
        items.append(source_item(source))
        if not source.token.error:
            items.append(feed_item(source.instance.host, source.instance))
        if source.token.present and not source.token.error:
            items.append(streaming_item(source.instance.host, source.instance))
    items += [anchor_item(a) for a in facts.anchors]
    items.append(state_item(facts.state))
    return items


# ---- output ------------------------------------------------------------------------------------


def render_text(path: Path | str, items: Sequence[Item]) -> str:
    width = max(len(i.title) for i in items)
    lines = [f"relay check: {path}"]
    for item in items:
        lines.append(f"{SYMBOLS[item.status]} {item.title:<{width}}  {item.detail}")
        if item.fix and item.status in (Status.FAIL, Status.WARN):
            lines.append(f"  {'':<{width}}  fix: {item.fix}")
    failed = sum(i.status is Status.FAIL for i in items)
    warned = sum(i.status is Status.WARN for i in items)
    verdict = "ready to go live" if not failed else "not ready: fix the ✗ items and run relay check again"
    lines.append(f"{failed} problem{'s' * (failed != 1)}, {warned} warning{'s' * (warned != 1)}: {verdict}")
    return "\n".join(lines)


def render_json(path: Path | str, items: Sequence[Item]) -> str:
    code = exit_code(items)
    body = {"config": str(path), "ok": code == 0, "exit_code": code, "items": [asdict(i) for i in items]}
    return json.dumps(body, ensure_ascii=False, indent=2)
