"""`relay check -c relay.toml`: verify a configuration before going live, as a printed checklist.

Two halves. `gather()` talks to the instances (Mastodon.py for the API, plain HTTP for public
endpoints, every request with a timeout) and records what it saw as frozen `*Facts`, turning every
network or API error into text. `decide()` is pure: facts in, one `Item` per line out, each ✓ (ok),
! (warning: does not fail), ✗ (fails, with the fix) or - (skipped: an earlier item failed).
The exit code is 0 without a ✗; 2 when a ✗ is about the configuration or a token (as everywhere in
relay: "do not restart"); 1 otherwise. No token is ever printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from mastodon import Mastodon, MastodonAPIError, MastodonError, MastodonNotFoundError

from relay import __version__
from relay.config import Config, InstanceConfig, load_config
from relay.credentials import read_token
from relay.errors import ConfigError, CredentialsError, RelayError
from relay.sources.stream import streaming_base
from relay.store import Store

REQUEST_TIMEOUT = 10.0  # seconds, for every request check makes

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
    streaming_error: str | None = None  # None: `/api/v1/streaming/health` answered OK


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


# ---- decide: facts → items (pure) --------------------------------------------------------------


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
    if feeds is None:
        return Status.OK, "hashtag feeds open (no timelines_access setting: Mastodon before 4.5)"
    local, remote = feeds.get("local", "public"), feeds.get("remote", "public")
    if local == "disabled" or (is_home and remote == "disabled"):
        return Status.FAIL, f"hashtag feeds are disabled on {facts.host} (local {local}, remote {remote})"
    if not has_token and "authenticated" in (local, remote):
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
    return Item(key, title, status, f"{facts.host} (Mastodon {facts.version or '?'}): {feeds}", fix)


def streaming_item(host: str, facts: InstanceFacts) -> Item:
    key, title = f"streaming:{host}", f"streaming {host}"
    if facts.error:
        return Item(key, title, Status.SKIP, f"{host} is unreachable")
    if facts.streaming_error:
        fix = f"ask the admin of {host} to check the streaming server (the relay polls until it is back)"
        return Item(key, title, Status.FAIL, f"streaming server unhealthy: {facts.streaming_error}", fix)
    return Item(key, title, Status.OK, "streaming server healthy")


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


def account_items(config: Config, account: AccountFacts) -> list[Item]:
    """The bot flag, scopes, language filter, moderators and moderator DMs of a working account."""
    items = []
    if account.bot:
        items.append(Item("bot", "automated account", Status.OK, f"{account.acct} is marked as a bot"))
    else:
        detail = f"{account.acct} is not marked as a bot: followers should know it is automated"
        items.append(Item("bot", "automated account", Status.WARN, detail, FIX_BOT))
    items.append(scopes_item(account))
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
    items.append(moderator_dms_item(account))
    return items


def scopes_item(account: AccountFacts) -> Item:
    if account.scopes is None:
        detail = "the server does not report the token's scopes: cannot verify"
        fix = "make sure the token was created with: " + " ".join(REQUIRED_SCOPES)
        return Item("scopes", "token scopes", Status.WARN, detail, fix)
    granted = " ".join(account.scopes) or "(none)"
    lacking = missing_scopes(account.scopes)
    if lacking:
        detail = f"the {account.scopes_of} lacks {' '.join(lacking)} (granted: {granted})"
        fix = "log in again asking for: " + " ".join(REQUIRED_SCOPES)
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
    return Item("moderators", "moderators", Status.OK, "found " + ", ".join(config.moderation.moderators))


def _dm_blockers(policy: Mapping[str, str], moderator: ModeratorFacts) -> list[str]:
    """The notification policy fields that would hide this moderator's DMs from the bot."""
    blockers = []
    if not moderator.following:
        blockers += [f for f in ("for_private_mentions", "for_not_following") if policy.get(f) != "accept"]
    if not moderator.followed_by and policy.get("for_not_followers", "accept") != "accept":
        blockers.append("for_not_followers")
    return blockers


def moderator_dms_item(account: AccountFacts) -> Item:
    key, title = "moderator_dms", "moderator DMs"
    found = [m for m in account.moderators if m.found]
    if not found:
        return Item(key, title, Status.SKIP, "no moderator found to check")
    if account.policy_error:
        return Item(key, title, Status.FAIL, f"cannot read the notification policy: {account.policy_error}")
    if account.policy is None:
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
        items += account_items(config, facts.account)
    else:
        for key, title in (("bot", "automated account"), ("scopes", "token scopes"),
                           ("languages", "language filter"), ("moderators", "moderators"),
                           ("moderator_dms", "moderator DMs")):  # fmt: skip
            items.append(Item(key, title, Status.SKIP, "needs working home credentials"))
    items.append(streaming_item(facts.home.host, facts.home))
    for source in facts.sources:
        items.append(source_item(source))
        if source.token.present and not source.token.error:
            items.append(streaming_item(source.instance.host, source.instance))
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


# ---- gather: the I/O --------------------------------------------------------------------------


class _Http:
    """One requests session and one timeout for every call; errors become text without tokens."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"relay/{__version__} check"
        self.secrets: list[str] = []

    def api(self, url: str, token: str | None) -> Mastodon:
        if token:
            self.secrets.append(token)
        return Mastodon(
            api_base_url=url,
            access_token=token,
            ratelimit_method="throw",
            request_timeout=self.timeout,
            session=self.session,
            version_check_mode="none",
        )

    def get_json(self, url: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.session.get(url, headers=headers, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def describe(self, exc: BaseException) -> str:
        """A short, token-free description of a failed request."""
        if isinstance(exc, MastodonAPIError) and len(exc.args) >= 4:
            text = f"HTTP {exc.args[1]}: {exc.args[3] or exc.args[2]}"
        elif isinstance(exc, requests.HTTPError) and exc.response is not None:
            try:
                message = exc.response.json().get("error") or exc.response.reason
            except (ValueError, AttributeError):
                message = exc.response.reason
            text = f"HTTP {exc.response.status_code}: {message}"
        elif isinstance(exc, requests.RequestException | MastodonError):
            text = _root_cause(exc)
        else:
            text = f"{type(exc).__name__}: {exc}"
        for secret in self.secrets:
            text = text.replace(secret, "[token]")
        return text


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return (str(exc) or type(exc).__name__)[:200]


def _rejected(exc: BaseException) -> bool:
    """401/403/422: the server refused the token itself (revoked, lacking a scope, not a user's)."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code in (401, 403, 422)
    return isinstance(exc, MastodonAPIError) and len(exc.args) > 1 and exc.args[1] in (401, 403, 422)


def gather_instance(http: _Http, url: str, host: str) -> InstanceFacts:
    try:
        info = http.get_json(f"{url}/api/v2/instance")
    except (requests.RequestException, ValueError) as exc:
        return InstanceFacts(host=host, error=http.describe(exc))
    conf = info.get("configuration") or {}
    streaming = streaming_base(info, url)
    streaming_error = None
    try:
        response = http.session.get(f"{streaming.rstrip('/')}/api/v1/streaming/health", timeout=http.timeout)
        if response.status_code != 200 or response.text.strip() != "OK":
            streaming_error = f"HTTP {response.status_code}: {response.text.strip()[:80]!r}"
    except requests.RequestException as exc:
        streaming_error = http.describe(exc)
    feeds = (conf.get("timelines_access") or {}).get("hashtag_feeds")
    return InstanceFacts(
        host=host,
        domain=str(info.get("domain") or host),
        version=str(info.get("version") or ""),
        hashtag_feeds=dict(feeds) if isinstance(feeds, dict) else None,
        streaming_error=streaming_error,
    )


def _token(instance: InstanceConfig, environ: Mapping[str, str] | None) -> tuple[str | None, TokenFacts]:
    try:
        token = read_token(instance, environ=environ)
    except CredentialsError as exc:
        return None, TokenFacts(present=True, error=exc.message, fix=exc.fix, rejected=True)
    return token, TokenFacts(present=token is not None)


def gather_account(http: _Http, config: Config, home: InstanceFacts, token: str) -> AccountFacts:
    """Raises MastodonError when verify_credentials fails; everything after it is recorded."""
    api = http.api(config.home.url, token)
    me = api.account_verify_credentials()
    source = me.get("source") or {}
    scopes, scopes_of = _scopes(http, api, config.home.url, token)
    policy: dict[str, str] | None = None
    policy_error = None
    try:
        policy = {k: str(v) for k, v in api.notifications_policy().items() if k.startswith("for_")}
    except MastodonNotFoundError:
        policy = None
    except MastodonError as exc:
        policy_error = http.describe(exc)
    return AccountFacts(
        acct=f"{me['acct'].partition('@')[0]}@{home.domain}",
        bot=bool(me.get("bot")),
        languages_known="chosen_languages" in source,
        chosen_languages=tuple(source.get("chosen_languages") or ()),
        scopes=scopes,
        scopes_of=scopes_of,
        policy=policy,
        policy_error=policy_error,
        moderators=tuple(_moderators(http, api, config.moderation.moderators, home.domain)),
    )


def _scopes(http: _Http, api: Mastodon, url: str, token: str) -> tuple[tuple[str, ...] | None, str]:
    """The token's own scopes (/oauth/token/info), else its app's registered scopes (Mastodon 4.3+)."""
    try:
        info = http.get_json(f"{url}/oauth/token/info", token)
        granted = info.get("scope", info.get("scopes"))
        if granted is not None:
            return tuple(granted.split() if isinstance(granted, str) else granted), "token"
    except (requests.RequestException, ValueError, AttributeError):
        pass
    try:
        scopes = api.app_verify_credentials().get("scopes")
    except MastodonError:
        return None, "token's app"
    return (tuple(scopes) if scopes is not None else None), "token's app"


def _moderators(http: _Http, api: Mastodon, handles: Sequence[str], domain: str) -> list[ModeratorFacts]:
    found: dict[str, str] = {}  # handle → account id on home
    facts: dict[str, ModeratorFacts] = {}
    for handle in handles:
        try:
            account_id = _find_account(api, handle, domain)
        except MastodonError as exc:
            facts[handle] = ModeratorFacts(handle, error=http.describe(exc))
            continue
        if account_id is None:
            facts[handle] = ModeratorFacts(handle)
        else:
            found[handle] = account_id
    relations: dict[str, Any] = {}
    if found:
        try:
            relations = {str(r["id"]): r for r in api.account_relationships(list(found.values()))}
        except MastodonError as exc:
            error = http.describe(exc)
            facts.update({h: ModeratorFacts(h, found=True, error=error) for h in found})
            found = {}
    for handle, account_id in found.items():
        rel = relations.get(account_id) or {}
        following, followed_by = bool(rel.get("following")), bool(rel.get("followed_by"))
        facts[handle] = ModeratorFacts(handle, found=True, following=following, followed_by=followed_by)
    return [facts[h] for h in handles]


def _find_account(api: Mastodon, handle: str, domain: str) -> str | None:
    """The home instance's id for user@domain: lookup, then a resolving search (webfinger)."""
    user, _, host = handle.partition("@")

    def same(acct: str) -> bool:
        name, _, on = acct.partition("@")
        return name.lower() == user.lower() and (on or domain).lower() == host.lower()

    try:
        account = api.account_lookup(handle)
        if same(account["acct"]):
            return str(account["id"])
    except MastodonNotFoundError:
        pass
    results = api.search_v2(handle, resolve=True, result_type="accounts")
    return next((str(a["id"]) for a in results.get("accounts") or () if same(a["acct"])), None)


def gather_source(
    http: _Http, source: InstanceConfig, tag: str, environ: Mapping[str, str] | None
) -> SourceFacts:
    instance = gather_instance(http, source.url, source.host)
    token, token_facts = _token(source, environ)
    if token and not instance.error:
        http.secrets.append(token)
        try:  # what a source's token is for: reading the hashtag feed
            http.get_json(f"{source.url}/api/v1/timelines/tag/{quote(tag, safe='')}?limit=1", token)
        except (requests.RequestException, ValueError) as exc:
            rejected = _rejected(exc)
            error = ("token rejected: " if rejected else "") + http.describe(exc)
            fix = None if rejected else "check that the instance is up, then run relay check again"
            token_facts = TokenFacts(present=True, error=error, rejected=rejected, fix=fix)
    return SourceFacts(instance, token_facts)


def gather_state(path: Path) -> StateFacts:
    if not path.exists():
        folder = path.parent
        if not folder.is_dir():
            return StateFacts(str(path), False, f"folder {folder} does not exist", f"mkdir -p {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            error = f"the relay cannot create {path.name} in {folder}"
            return StateFacts(str(path), False, error, "let the relay's user write to that folder")
        return StateFacts(str(path), False)
    try:
        Store.open(path).close()  # exactly what `relay run` does at start (migrating an older file)
    except RelayError as exc:
        return StateFacts(str(path), True, exc.message, exc.fix)
    return StateFacts(str(path), True)


def gather(
    config: Config, *, environ: Mapping[str, str] | None = None, timeout: float = REQUEST_TIMEOUT
) -> Facts:
    http = _Http(timeout)
    home = gather_instance(http, config.home.url, config.home.host)
    token, token_facts = _token(config.home, environ)
    account = None
    if token and not home.error:
        try:
            account = gather_account(http, config, home, token)
        except MastodonError as exc:
            rejected = _rejected(exc)
            error = (
                f"{config.home.host} {'rejected the token' if rejected else 'failed'}: {http.describe(exc)}"
            )
            token_facts = TokenFacts(present=True, error=error, rejected=rejected)
    sources = tuple(gather_source(http, s, config.hashtags[0], environ) for s in config.sources)
    return Facts(config, home, token_facts, account, sources, gather_state(config.state))


# ---- command --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", type=Path, default=Path("relay.toml"), help="relay.toml (default: ./relay.toml)"
    )
    parser.add_argument("--json", action="store_true", help="print the items as JSON")
    parser.add_argument(
        "--timeout", type=float, default=REQUEST_TIMEOUT, metavar="SECONDS",
        help=f"per request (default {REQUEST_TIMEOUT:g})",
    )  # fmt: skip
    parser.epilog = "exit status: 0 no ✗; 1 a ✗; 2 a ✗ in the configuration or a token (as `relay run`)"


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        items = [config_error_item(exc)]
    else:
        items = decide(gather(config, timeout=args.timeout))
    print(render_json(args.config, items) if args.json else render_text(args.config, items))
    sys.stdout.flush()
    return exit_code(items)
